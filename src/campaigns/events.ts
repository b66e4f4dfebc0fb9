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
  /** `implicit`: the workspace's internal campaign of a `/messages/send` without campaign_id; its events carry `campaign_id: null`. */
  campaign: { id: string; name: string; implicit?: boolean };
  variant: { id: string; name: string };
  user: { id: string; external_id: string | null; time_zone: string | null };
}

/** The campaign part of a SendContext from a campaign or dispatch definition (marks the internal API-messages campaign). */
export function campaignRef(id: string, name: string, definition?: unknown): SendContext['campaign'] {
  return (definition as { api_messages?: boolean } | undefined)?.api_messages === true ? { id, name, implicit: true } : { id, name };
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
  // A /messages/send without campaign_id: the events name no campaign (the internal row stays ours).
  if (ctx.campaign.implicit && spec.fields['campaign_id']?.placement === 'properties') {
    delete properties['campaign_name'];
    properties['campaign_id'] = null;
  }
  const user: LogEvent['user'] = { user_id: ctx.user.id };
  if (ctx.user.external_id) user.external_user_id = ctx.user.external_id;
  if (ctx.user.time_zone) user.timezone = ctx.user.time_zone;
  return { event_type: type, id: uuidV5(ctx.sendKey, `${type}${discriminator ? `:${discriminator}` : ''}`), time: Math.floor(timeMs / 1000), user, properties };
}
