/**
 * Pure mapping of an SDK upload to the operations of the tracking path: what each event type
 * requires is checked here, before anything is applied, so a malformed upload is refused whole
 * with the failing field named (`events[3].name`).
 */
import { ApiError, type ErrorEntry } from '../http/index.js';
import { parseTime } from '../tracking/index.js';
import type { BatchBody, SdkEvent } from './contract.js';

export type SdkOperation =
  | { kind: 'session_start'; sessionId: string; time: string }
  | { kind: 'session_end'; sessionId: string; time: string; duration: number | undefined }
  | { kind: 'change_user'; externalId: string }
  | { kind: 'track'; body: (userId: string, appId: string) => Record<string, unknown> }
  | { kind: 'content_card'; interaction: 'Impression' | 'Click' | 'Dismiss'; cardId: string; timeMs: number }
  | { kind: 'in_app_message'; interaction: 'Impression' | 'Click'; messageId: string; buttonId: string | undefined; timeMs: number };

export interface MappedEvent {
  id: string;
  index: number;
  type: SdkEvent['type'];
  op: SdkOperation;
}

type Mapped = { ok: true; op: SdkOperation } | { ok: false; field: string; error: string };

const missing = (field: string): Mapped => ({ ok: false, field, error: `${field} is required for this event type` });

function mapEvent(e: SdkEvent): Mapped {
  if (parseTime(e.time) === undefined) return { ok: false, field: 'time', error: 'time must be an ISO-8601 date-time' };
  switch (e.type) {
    case 'session_start':
      if (!e.session_id) return missing('session_id');
      return { ok: true, op: { kind: 'session_start', sessionId: e.session_id, time: e.time } };
    case 'session_end':
      if (!e.session_id) return missing('session_id');
      return { ok: true, op: { kind: 'session_end', sessionId: e.session_id, time: e.time, duration: e.duration } };
    case 'change_user':
      if (!e.external_id) return missing('external_id');
      return { ok: true, op: { kind: 'change_user', externalId: e.external_id } };
    case 'custom_event': {
      if (!e.name) return missing('name');
      const item = { name: e.name, time: e.time, ...(e.properties ? { properties: e.properties } : {}) };
      return { ok: true, op: { kind: 'track', body: (userId, appId) => ({ events: [{ braze_id: userId, app_id: appId, ...item }] }) } };
    }
    case 'purchase': {
      if (!e.product_id) return missing('product_id');
      if (!e.currency) return missing('currency');
      if (e.price === undefined) return missing('price');
      const item = {
        product_id: e.product_id,
        currency: e.currency,
        price: e.price,
        time: e.time,
        ...(e.quantity !== undefined ? { quantity: e.quantity } : {}),
        ...(e.properties ? { properties: e.properties } : {}),
      };
      return { ok: true, op: { kind: 'track', body: (userId, appId) => ({ purchases: [{ braze_id: userId, app_id: appId, ...item }] }) } };
    }
    case 'attributes': {
      if (!e.attributes || Object.keys(e.attributes).length === 0) return missing('attributes');
      const bad = Object.keys(e.attributes).find((k) => k === 'external_id' || k === 'braze_id' || k === 'user_alias' || k === '_update_existing_only');
      if (bad) return { ok: false, field: `attributes.${bad}`, error: `${bad} cannot be set as an attribute; use change_user` };
      const attrs = e.attributes;
      return { ok: true, op: { kind: 'track', body: (userId) => ({ attributes: [{ ...attrs, braze_id: userId }] }) } };
    }
    case 'content_card_impression':
    case 'content_card_click':
    case 'content_card_dismiss': {
      if (!e.card_id) return missing('card_id');
      const interaction = e.type === 'content_card_impression' ? 'Impression' : e.type === 'content_card_click' ? 'Click' : 'Dismiss';
      return { ok: true, op: { kind: 'content_card', interaction, cardId: e.card_id, timeMs: parseTime(e.time)! } };
    }
    case 'in_app_message_impression':
    case 'in_app_message_click': {
      if (!e.message_id) return missing('message_id');
      if (e.button_id !== undefined && e.type !== 'in_app_message_click') return { ok: false, field: 'button_id', error: 'button_id belongs to in_app_message_click only' };
      const interaction = e.type === 'in_app_message_impression' ? 'Impression' : 'Click';
      return { ok: true, op: { kind: 'in_app_message', interaction, messageId: e.message_id, buttonId: e.button_id, timeMs: parseTime(e.time)! } };
    }
  }
  return { ok: false, field: 'type', error: 'unknown event type' };
}

/** The upload's operations in order, or a 400 naming every malformed event's field. */
export function mapBatch(body: BatchBody): MappedEvent[] {
  const errors: ErrorEntry[] = [];
  const out: MappedEvent[] = [];
  const seen = new Set<string>();
  body.events.forEach((e, index) => {
    if (seen.has(e.id)) {
      errors.push({ type: 'duplicate event id in one upload', path: `events[${index}].id` });
      return;
    }
    seen.add(e.id);
    const m = mapEvent(e);
    if (m.ok) out.push({ id: e.id, index, type: e.type, op: m.op });
    else errors.push({ type: m.error, path: `events[${index}].${m.field}` });
  });
  if (errors.length) throw new ApiError(400, 'Invalid SDK upload', errors);
  return out;
}
