/**
 * The Currents events of messages the browser SDK shows (content cards, in-app messages). Pure.
 * The send's context (campaign, variant, send key, user) is kept in the message's row when the send
 * writes it, so an impression reported later by a device becomes an event of the same campaign.
 * Event ids are name-based (SHA-1 of the message, the type and a discriminator such as the SDK's
 * client event id), so a retried upload or a repeated step produces the same id.
 */
import { createHash } from 'node:crypto';
import { eventTypeSpec, type LogEvent } from '../../events/index.js';

/** The user an event names: the one who reported it, as they are now (a merge may have moved the message). */
export interface EventUser {
  id: string;
  external_id: string | null;
  time_zone: string | null;
}

export interface MessageContext {
  workspaceId: string;
  sendKey: string;
  dispatchId: string;
  campaign: { id: string; name: string };
  variant: { id: string; name: string };
  user: EventUser;
}

/** The device an interaction was reported from (the SDK app and the upload's device fields). */
export interface ReportingDevice {
  app_id: string;
  device_id: string;
  os_version?: string | undefined;
  device_model?: string | undefined;
}

export function nameBasedId(seed: string): string {
  const h = createHash('sha1').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function deviceFields(device: ReportingDevice | undefined): Record<string, unknown> {
  if (!device) return {};
  return { app_id: device.app_id, platform: 'web', device_id: device.device_id, os_version: device.os_version, device_model: device.device_model };
}

/** A catalogue event for `ctx`; fields the type does not list are dropped. */
export function messageEvent(type: string, ctx: MessageContext, fields: Record<string, unknown>, timeMs: number, seed: string): LogEvent {
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
  if (typeof all.device_id === 'string') user.device_id = all.device_id;
  return { event_type: type, id: nameBasedId(`${seed}:${type}`), time: Math.floor(timeMs / 1000), user, properties };
}
