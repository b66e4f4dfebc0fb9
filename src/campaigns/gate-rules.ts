/**
 * Quiet hours and global frequency-cap rules (docs/reference/campaigns.md, "Frequency cap and quiet
 * hours"). Pure: the checks of their settings and the user's local time; gates.ts enforces them.
 */
import type { Static } from 'typebox';
import type { QuietHours as QuietHoursSchema } from './contract.js';
/** Local hours 0–23: quiet from `start_hour` (inclusive) to `end_hour` (exclusive); may wrap midnight (schema in the contract). */
export type QuietHours = Static<typeof QuietHoursSchema>;

export interface FrequencyRule {
  channel: 'email' | 'webhook' | 'any';
  count: number;
  window_seconds: number;
}

export const MAX_FREQUENCY_RULES = 10;
export const MAX_FREQUENCY_WINDOW = 30 * 86_400;

type Problems = Array<{ field: string; message: string }>;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hour = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 23;

export function checkQuietHours(raw: unknown, problems: Problems): QuietHours | undefined {
  if (raw === undefined) return undefined;
  if (!isObj(raw)) return void problems.push({ field: 'quiet_hours', message: 'must be {start_hour, end_hour, fallback}' });
  const before = problems.length;
  if (!hour(raw.start_hour)) problems.push({ field: 'quiet_hours.start_hour', message: 'must be an hour from 0 to 23' });
  if (!hour(raw.end_hour) || raw.end_hour === raw.start_hour) problems.push({ field: 'quiet_hours.end_hour', message: 'must be an hour from 0 to 23, not start_hour' });
  const fallback = raw.fallback ?? 'send_later';
  if (fallback !== 'send_later' && fallback !== 'abort') problems.push({ field: 'quiet_hours.fallback', message: 'must be "send_later" or "abort"' });
  return problems.length === before ? { start_hour: raw.start_hour as number, end_hour: raw.end_hour as number, fallback: fallback as QuietHours['fallback'] } : undefined;
}

export function checkFrequencyRules(raw: unknown, problems: Problems): FrequencyRule[] | undefined {
  if (!Array.isArray(raw) || raw.length > MAX_FREQUENCY_RULES) return void problems.push({ field: 'rules', message: `must be an array of at most ${MAX_FREQUENCY_RULES} rules` });
  const out: FrequencyRule[] = [];
  raw.forEach((r, i) => {
    const at = `rules[${i}]`;
    if (!isObj(r)) return problems.push({ field: at, message: 'must be an object' });
    if (!['email', 'webhook', 'any'].includes(r.channel as string)) return problems.push({ field: `${at}.channel`, message: 'must be "email", "webhook" or "any"' });
    if (!Number.isInteger(r.count) || (r.count as number) < 1 || (r.count as number) > 1000) return problems.push({ field: `${at}.count`, message: 'must be a whole number from 1 to 1000' });
    if (!Number.isInteger(r.window_seconds) || (r.window_seconds as number) < 60 || (r.window_seconds as number) > MAX_FREQUENCY_WINDOW) return problems.push({ field: `${at}.window_seconds`, message: `must be a whole number of seconds from 60 to ${MAX_FREQUENCY_WINDOW}` });
    out.push({ channel: r.channel as FrequencyRule['channel'], count: r.count as number, window_seconds: r.window_seconds as number });
  });
  return out;
}

/** The local hour and minute at `ms` in `zone` (UTC if the zone is unknown). */
export function localTime(ms: number, zone: string | null): { hour: number; minute: number; second: number } {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone ?? 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  } catch {
    parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  }
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { hour: get('hour'), minute: get('minute'), second: get('second') };
}

/** When `ms` falls in the quiet hours in `zone`: the time (ms) they end; else undefined. */
export function quietUntil(q: QuietHours, ms: number, zone: string | null): number | undefined {
  const { hour: h, minute, second } = localTime(ms, zone);
  const inside = q.start_hour < q.end_hour ? h >= q.start_hour && h < q.end_hour : h >= q.start_hour || h < q.end_hour;
  if (!inside) return undefined;
  const hoursLeft = (q.end_hour - h + 24) % 24;
  // Whole hours to the end hour, less the minutes and seconds already gone (DST shifts aside).
  return ms + (hoursLeft * 3600 - minute * 60 - second) * 1000;
}
