/**
 * The Currents event for each moment of a campaign message (docs/reference/campaigns.md §4). Pure.
 * An event's id is UUIDv5(send key, type[, discriminator]): writing the same moment twice (a retried
 * attempt, a repeated worker step) produces the same id. Only the fields the catalogue lists for the
 * type are kept.
 */
import { eventTypeSpec } from '../events/index.js';
import type { LogEvent } from '../events/index.js';
import { uuidV5 } from './assignment.js';

export interface SendContext {
  workspaceId: string;
  sendKey: string;
  dispatchId: string;
  campaign: { id: string; name: string };
  variant: { id: string; name: string };
  user: { id: string; external_id: string | null; time_zone: string | null };
}

export function campaignEvent(type: string, ctx: SendContext, fields: Record<string, unknown>, timeMs: number, discriminator = ''): LogEvent {
  const spec = eventTypeSpec(type);
  if (!spec) throw new Error(`not a catalogue event type: ${type}`);
  const all: Record<string, unknown> = {
    app_group_id: ctx.workspaceId,
    campaign_id: ctx.campaign.id,
    campaign_name: ctx.campaign.name,
    message_variation_id: ctx.variant.id,
    message_variation_name: ctx.variant.name,
    send_id: ctx.sendKey,
    dispatch_id: ctx.dispatchId,
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
  return { event_type: type, id: uuidV5(ctx.sendKey, `${type}${discriminator ? `:${discriminator}` : ''}`), time: Math.floor(timeMs / 1000), user, properties };
}
