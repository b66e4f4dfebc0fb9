/**
 * Maps a stored Currents event to the event Mixpanel's `/import` receives (currents.md §2): the
 * skip rules in their fixed order, the payload shape, and the dead-letter pre-check. Pure, so the
 * delivery loop, backfill, dead-letter re-send and the dashboard preview all produce the same bytes.
 */
import { isSelectableType, mixpanelEventName, type CurrentsEvent } from '../../events/catalogue.js';
import { insertIdFor, isDisallowedIdValue } from './insert-id.js';
import { mixpanelLimitViolation, type MixpanelLimitRule } from './limits.js';

export interface MixpanelEvent {
  event: string;
  properties: Record<string, unknown>;
}

export const DEFAULT_PARTNER_ID = 'rivulet';
/** 2010-01-01T00:00:00Z: nothing earlier is exported (cohort-import.md §7). */
export const EXPORT_CUTOFF_SECONDS = 1262304000;

export interface MixpanelMappingSettings {
  /** The connector's chosen event types. Legacy types are never selected, whatever this holds. */
  selectedTypes: ReadonlySet<string>;
  /** The connector's project token, sent as `token`. */
  token: string;
  /** `$partner_id`; defaults to `"rivulet"`. */
  partnerId?: string | undefined;
}

export type SkipReason = 'not_selected' | 'no_external_user_id' | 'invalid_distinct_id' | 'before_2010';
export type DeadLetterReason = `invalid_for_mixpanel: ${MixpanelLimitRule}`;

export type MappingOutcome =
  | { outcome: 'send'; event: MixpanelEvent }
  | { outcome: 'skip'; reason: SkipReason }
  | { outcome: 'dead_letter'; reason: DeadLetterReason; event: MixpanelEvent };

/** The first §2.1 skip rule that matches, or `null` when the event is to be mapped. */
export function skipReason(event: CurrentsEvent, settings: Pick<MixpanelMappingSettings, 'selectedTypes'>): SkipReason | null {
  if (!settings.selectedTypes.has(event.event_type) || !isSelectableType(event.event_type)) return 'not_selected';
  const externalId = event.user.external_user_id;
  if (externalId === undefined || externalId === null || externalId === '') return 'no_external_user_id';
  if (isDisallowedIdValue(externalId)) return 'invalid_distinct_id';
  if (event.time < EXPORT_CUTOFF_SECONDS) return 'before_2010';
  return null;
}

const NOT_COPIED = new Set(['id', 'time', 'external_user_id', 'user_id', 'timezone', 'device_model', 'os_version']);
const PREFIXED_CONTAINERS: Readonly<Record<string, string>> = {
  custom_properties: '[Custom event property] ',
  purchase_properties: '[Purchase property] ',
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The Mixpanel event for a Currents event that passed `skipReason`. Throws for an event that has
 * no Mixpanel name (unknown or legacy type): such an event must have been skipped.
 */
export function toMixpanelEvent(event: CurrentsEvent, settings: Pick<MixpanelMappingSettings, 'token' | 'partnerId'>): MixpanelEvent {
  const name = mixpanelEventName(event);
  if (name === null) throw new Error(`event type ${event.event_type} is never exported`);
  const source = event.properties;
  const properties: Record<string, unknown> = {
    distinct_id: event.user.external_user_id,
    $insert_id: insertIdFor(event.id),
    time: event.time,
    token: settings.token,
    $partner_id: settings.partnerId ?? DEFAULT_PARTNER_ID,
  };
  if (source['device_model'] != null) properties['$device'] = source['device_model'];
  if (source['os_version'] != null) properties['$os'] = source['os_version'];
  if (event.user.device_id != null) properties['device_id'] = event.user.device_id;
  for (const [key, value] of Object.entries(source)) {
    if (value === null || value === undefined || NOT_COPIED.has(key)) continue;
    const prefix = PREFIXED_CONTAINERS[key];
    if (prefix === undefined) {
      properties[key] = value;
    } else if (isPlainObject(value)) {
      for (const [inner, innerValue] of Object.entries(value)) properties[prefix + inner] = innerValue;
    }
  }
  return { event: name, properties };
}

/** Skip, map and pre-validate one event: what the export does with it. */
export function mapCurrentsEvent(event: CurrentsEvent, settings: MixpanelMappingSettings): MappingOutcome {
  const reason = skipReason(event, settings);
  if (reason) return { outcome: 'skip', reason };
  const mapped = toMixpanelEvent(event, settings);
  const rule = mixpanelLimitViolation(mapped);
  if (rule) return { outcome: 'dead_letter', reason: `invalid_for_mixpanel: ${rule}`, event: mapped };
  return { outcome: 'send', event: mapped };
}

export type SerializedOutcome =
  | { outcome: 'send'; event: MixpanelEvent; json: string; bytes: number }
  | { outcome: 'skip'; reason: SkipReason }
  | { outcome: 'dead_letter'; reason: DeadLetterReason; event: MixpanelEvent; json: string; bytes: number };

/** `mapCurrentsEvent` for the export's hot path: the same outcome, with the event serialized once. */
export function mapForImport(event: CurrentsEvent, settings: MixpanelMappingSettings): SerializedOutcome {
  const reason = skipReason(event, settings);
  if (reason) return { outcome: 'skip', reason };
  const mapped = toMixpanelEvent(event, settings);
  const json = JSON.stringify(mapped);
  const bytes = Buffer.byteLength(json);
  const rule = mixpanelLimitViolation(mapped, bytes);
  if (rule) return { outcome: 'dead_letter', reason: `invalid_for_mixpanel: ${rule}`, event: mapped, json, bytes };
  return { outcome: 'send', event: mapped, json, bytes };
}
