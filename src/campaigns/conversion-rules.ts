/**
 * Conversion behaviors (docs/reference/campaigns.md, "Conversions"). Pure: checking a campaign's
 * `conversion_behaviors`, and deciding whether a logged event is a behavior's match.
 */
import type { Static } from 'typebox';
import type { LogEvent } from '../events/index.js';
import { MAX_CONVERSION_BEHAVIORS, MAX_CONVERSION_WINDOW, MIN_CONVERSION_WINDOW, type ConversionBehavior as ConversionBehaviorSchema, type ConversionType as ConversionTypeSchema } from './contract.js';

export type ConversionType = Static<typeof ConversionTypeSchema>;
/** A conversion behavior (its schema is in the contract). */
export type ConversionBehavior = Static<typeof ConversionBehaviorSchema>;

export const CONVERSION_TYPES: readonly ConversionType[] = ['opens_email', 'clicks_email', 'makes_purchase', 'performs_custom_event', 'starts_session'];
export { MAX_CONVERSION_BEHAVIORS, MAX_CONVERSION_WINDOW, MIN_CONVERSION_WINDOW };
export const DEFAULT_CONVERSION_WINDOW = 3 * 86_400;

/** The event types a conversion can be; the reader looks at these only. */
export const CONVERTING_EVENT_TYPES: ReadonlySet<string> = new Set([
  'users.messages.email.Open',
  'users.messages.email.Click',
  'users.behaviors.Purchase',
  'users.behaviors.CustomEvent',
  'users.behaviors.app.SessionStart',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks `conversion_behaviors` (absent: none); problems name their field. */
export function checkConversionBehaviors(raw: unknown, problems: Array<{ field: string; message: string }>): ConversionBehavior[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length > MAX_CONVERSION_BEHAVIORS) {
    problems.push({ field: 'conversion_behaviors', message: `must be an array of at most ${MAX_CONVERSION_BEHAVIORS} behaviors` });
    return undefined;
  }
  const out: ConversionBehavior[] = [];
  raw.forEach((b, i) => {
    const at = `conversion_behaviors[${i}]`;
    if (!isObj(b)) return problems.push({ field: at, message: 'must be an object' });
    if (!CONVERSION_TYPES.includes(b.type as ConversionType)) return problems.push({ field: `${at}.type`, message: `must be one of ${CONVERSION_TYPES.join(', ')}` });
    const window = b.window ?? DEFAULT_CONVERSION_WINDOW;
    if (!Number.isInteger(window) || (window as number) < MIN_CONVERSION_WINDOW || (window as number) > MAX_CONVERSION_WINDOW) {
      return problems.push({ field: `${at}.window`, message: `must be a whole number of seconds from ${MIN_CONVERSION_WINDOW} to ${MAX_CONVERSION_WINDOW}` });
    }
    const behavior: ConversionBehavior = { type: b.type as ConversionType, window: window as number };
    if (b.type === 'performs_custom_event') {
      if (typeof b.custom_event_name !== 'string' || !b.custom_event_name || b.custom_event_name.length > 255) return problems.push({ field: `${at}.custom_event_name`, message: 'must name the custom event' });
      behavior.custom_event_name = b.custom_event_name;
    }
    if (b.type === 'makes_purchase' && b.product !== undefined) {
      if (typeof b.product !== 'string' || !b.product || b.product.length > 255) return problems.push({ field: `${at}.product`, message: 'must be a product id' });
      behavior.product = b.product;
    }
    out.push(behavior);
  });
  return out;
}

/** Whether `event` performs `behavior` for a message of `campaignId`. */
export function matchesBehavior(behavior: ConversionBehavior, event: Pick<LogEvent, 'event_type' | 'properties'>, campaignId: string): boolean {
  const p = event.properties;
  switch (behavior.type) {
    case 'opens_email':
      return event.event_type === 'users.messages.email.Open' && p.campaign_id === campaignId;
    case 'clicks_email':
      return event.event_type === 'users.messages.email.Click' && p.campaign_id === campaignId;
    case 'makes_purchase':
      return event.event_type === 'users.behaviors.Purchase' && (behavior.product === undefined || p.product_id === behavior.product);
    case 'performs_custom_event':
      return event.event_type === 'users.behaviors.CustomEvent' && p.name === behavior.custom_event_name;
    case 'starts_session':
      return event.event_type === 'users.behaviors.app.SessionStart';
  }
}

export interface Receipt {
  send_key: string;
  campaign_id: string;
  /** Seconds: delivery (or control enrollment). */
  at: number;
  behaviors: ConversionBehavior[];
}

/**
 * The receipts `event` converts: per campaign and behavior, the newest receipt whose window holds
 * the event's time (overlapping windows of one campaign credit the newest).
 */
export function conversionsOf(event: Pick<LogEvent, 'event_type' | 'properties' | 'time'>, receipts: readonly Receipt[]): Array<{ receipt: Receipt; index: number }> {
  const best = new Map<string, { receipt: Receipt; index: number }>();
  for (const r of receipts) {
    r.behaviors.forEach((b, index) => {
      if (event.time < r.at || event.time > r.at + b.window || !matchesBehavior(b, event, r.campaign_id)) return;
      const key = `${r.campaign_id}:${index}`;
      const held = best.get(key);
      if (!held || held.receipt.at < r.at) best.set(key, { receipt: r, index });
    });
  }
  return [...best.values()];
}
