/**
 * The Currents event for each moment of a Canvas (docs/reference/canvases.md §4). Pure. An event's
 * id is UUIDv5(key, type[:discriminator]) with the entry id (or a message's send key) as key, so
 * writing a moment again produces the same id. Only the fields the catalogue lists for the type are
 * kept.
 */
import { eventTypeSpec, type LogEvent } from '../events/index.js';
import { uuidV5 } from '../campaigns/index.js';

export interface CanvasEventContext {
  workspaceId: string;
  canvas: { id: string; name: string };
  variant: { id: string; name: string };
  step?: { id: string; name: string };
  user: { id: string; external_id: string | null; time_zone: string | null };
}

export function canvasEvent(type: string, ctx: CanvasEventContext, key: string, fields: Record<string, unknown>, timeMs: number, discriminator = ''): LogEvent {
  const spec = eventTypeSpec(type);
  if (!spec) throw new Error(`not a catalogue event type: ${type}`);
  const all: Record<string, unknown> = {
    app_group_id: ctx.workspaceId,
    canvas_id: ctx.canvas.id,
    canvas_name: ctx.canvas.name,
    canvas_variation_id: ctx.variant.id,
    canvas_variation_name: ctx.variant.name,
    canvas_step_id: ctx.step?.id,
    canvas_step_name: ctx.step?.name,
    canvas_api_id: ctx.canvas.id,
    canvas_variation_api_id: ctx.variant.id,
    canvas_step_api_id: ctx.step?.id,
    ...fields,
  };
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    const field = spec.fields[k];
    if (v !== undefined && v !== null && field && field.placement === 'properties') properties[k] = v;
  }
  const user: LogEvent['user'] = { user_id: ctx.user.id };
  if (ctx.user.external_id) user.external_user_id = ctx.user.external_id;
  if (ctx.user.time_zone) user.timezone = ctx.user.time_zone;
  return { event_type: type, id: uuidV5(key, `${type}${discriminator ? `:${discriminator}` : ''}`), time: Math.floor(timeMs / 1000), user, properties };
}
