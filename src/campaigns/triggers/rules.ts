/**
 * Action-based delivery (docs/reference/campaigns.md, "Action-based delivery"). Pure: checking a
 * campaign's `trigger`, and deciding whether a logged event triggers it.
 *
 * A trigger names what the user does — a custom event (by name, with property filters), a purchase
 * (any, or one product), a session start — a delay (seconds after the event, up to 30 days) and an
 * optional window (`start` / `end`, ISO times: events outside it trigger nothing, and sends due
 * after `end` are not made). Events more than 24 hours old when read trigger nothing.
 */
import type { Static } from 'typebox';
import type { LogEvent } from '../../events/index.js';
import { MAX_DELAY_SECONDS, MAX_REELIGIBILITY_SECONDS, type CampaignTrigger as CampaignTriggerSchema, type FilterOp as FilterOpSchema, type PropertyFilter as PropertyFilterSchema, type TriggerType as TriggerTypeSchema } from '../contract.js';

// The trigger's types are those of its schema in the campaigns contract.
export type TriggerType = Static<typeof TriggerTypeSchema>;
export type FilterOp = Static<typeof FilterOpSchema>;
export type PropertyFilter = Static<typeof PropertyFilterSchema>;
export type CampaignTrigger = Static<typeof CampaignTriggerSchema>;

export { MAX_DELAY_SECONDS, MAX_REELIGIBILITY_SECONDS };
export const MAX_EVENT_AGE_SECONDS = 86_400;
const OPS: readonly FilterOp[] = ['equals', 'not_equals', 'exists', 'greater_than', 'less_than'];

export const TRIGGER_EVENT_TYPES: Record<TriggerType, string> = {
  custom_event: 'users.behaviors.CustomEvent',
  purchase: 'users.behaviors.Purchase',
  session_start: 'users.behaviors.app.SessionStart',
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));

export function checkTrigger(raw: unknown, problems: Array<{ field: string; message: string }>): CampaignTrigger | undefined {
  if (!isObj(raw)) {
    problems.push({ field: 'trigger', message: 'an action-based campaign needs a trigger object' });
    return undefined;
  }
  const before = problems.length;
  const type = raw.type as TriggerType;
  if (!(type in TRIGGER_EVENT_TYPES)) problems.push({ field: 'trigger.type', message: 'must be "custom_event", "purchase" or "session_start"' });
  const t: CampaignTrigger = { type, delay_seconds: 0 };
  if (type === 'custom_event') {
    if (typeof raw.custom_event_name !== 'string' || !raw.custom_event_name || raw.custom_event_name.length > 255) problems.push({ field: 'trigger.custom_event_name', message: 'must name the custom event' });
    else t.custom_event_name = raw.custom_event_name;
  }
  if (type === 'purchase' && raw.product !== undefined) {
    if (typeof raw.product !== 'string' || !raw.product) problems.push({ field: 'trigger.product', message: 'must be a product id' });
    else t.product = raw.product;
  }
  if (raw.property_filters !== undefined) {
    if (type !== 'custom_event' && type !== 'purchase') problems.push({ field: 'trigger.property_filters', message: 'only custom events and purchases have properties' });
    else if (!Array.isArray(raw.property_filters) || raw.property_filters.length > 10) problems.push({ field: 'trigger.property_filters', message: 'must be an array of at most 10 filters' });
    else {
      t.property_filters = [];
      raw.property_filters.forEach((f, i) => {
        const at = `trigger.property_filters[${i}]`;
        if (!isObj(f) || typeof f.property !== 'string' || !f.property) return problems.push({ field: `${at}.property`, message: 'must name a property' });
        if (!OPS.includes(f.op as FilterOp)) return problems.push({ field: `${at}.op`, message: `must be one of ${OPS.join(', ')}` });
        if (f.op !== 'exists' && !['string', 'number', 'boolean'].includes(typeof f.value)) return problems.push({ field: `${at}.value`, message: 'must be a string, number or boolean' });
        if ((f.op === 'greater_than' || f.op === 'less_than') && typeof f.value !== 'number') return problems.push({ field: `${at}.value`, message: 'must be a number' });
        t.property_filters!.push({ property: f.property, op: f.op as FilterOp, ...(f.op !== 'exists' ? { value: f.value as string | number | boolean } : {}) });
      });
    }
  }
  const delay = raw.delay_seconds ?? 0;
  if (!Number.isInteger(delay) || (delay as number) < 0 || (delay as number) > MAX_DELAY_SECONDS) problems.push({ field: 'trigger.delay_seconds', message: `must be a whole number of seconds from 0 to ${MAX_DELAY_SECONDS}` });
  else t.delay_seconds = delay as number;
  if (raw.window !== undefined) {
    const w = raw.window;
    if (!isObj(w) || (w.start !== undefined && !isTime(w.start)) || (w.end !== undefined && !isTime(w.end))) problems.push({ field: 'trigger.window', message: 'must be {start?, end?} with ISO 8601 times' });
    else if (w.start !== undefined && w.end !== undefined && Date.parse(w.end as string) <= Date.parse(w.start as string)) problems.push({ field: 'trigger.window.end', message: 'must be after start' });
    else t.window = { ...(w.start !== undefined ? { start: w.start as string } : {}), ...(w.end !== undefined ? { end: w.end as string } : {}) };
  }
  if (raw.reeligible_after_seconds !== undefined) {
    const r = raw.reeligible_after_seconds;
    if (!Number.isInteger(r) || (r as number) < 0 || (r as number) > MAX_REELIGIBILITY_SECONDS) problems.push({ field: 'trigger.reeligible_after_seconds', message: `must be a whole number of seconds from 0 to ${MAX_REELIGIBILITY_SECONDS}` });
    else t.reeligible_after_seconds = r as number;
  }
  return problems.length === before ? t : undefined;
}

function passes(f: PropertyFilter, props: Record<string, unknown> | undefined): boolean {
  const v = props?.[f.property];
  switch (f.op) {
    case 'exists':
      return v !== undefined && v !== null;
    case 'equals':
      return v === f.value;
    case 'not_equals':
      return v !== f.value;
    case 'greater_than':
      return typeof v === 'number' && v > (f.value as number);
    case 'less_than':
      return typeof v === 'number' && v < (f.value as number);
  }
}

/**
 * When `event` triggers `trigger`: the time (seconds) its send is due; undefined if it does not
 * trigger (another kind, filters fail, outside the window, too old, or due after the window's end).
 */
export function triggerDue(trigger: CampaignTrigger, event: Pick<LogEvent, 'event_type' | 'properties' | 'time'>, nowS: number): number | undefined {
  if (event.event_type !== TRIGGER_EVENT_TYPES[trigger.type]) return undefined;
  const p = event.properties;
  if (trigger.type === 'custom_event' && p.name !== trigger.custom_event_name) return undefined;
  if (trigger.type === 'purchase' && trigger.product !== undefined && p.product_id !== trigger.product) return undefined;
  const props = (trigger.type === 'custom_event' ? p.custom_properties : p.purchase_properties) as Record<string, unknown> | undefined;
  for (const f of trigger.property_filters ?? []) if (!passes(f, props)) return undefined;
  if (nowS - event.time > MAX_EVENT_AGE_SECONDS) return undefined;
  const start = trigger.window?.start ? Date.parse(trigger.window.start) / 1000 : -Infinity;
  const end = trigger.window?.end ? Date.parse(trigger.window.end) / 1000 : Infinity;
  if (event.time < start || event.time > end) return undefined;
  const due = event.time + trigger.delay_seconds;
  return due > end ? undefined : due;
}
