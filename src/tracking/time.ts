/**
 * The time formats of the REST API (rest-api.md §1): ISO-8601 with `Z` or an offset and optional
 * fractions, Braze's `yyyy-MM-dd'T'HH:mm:ss:SSSZ`, no zone meaning UTC, and date-only values
 * where allowed. Returns epoch milliseconds, or undefined for anything else.
 */
const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.:](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

export function parseTime(value: unknown, opts: { dateOnly?: boolean } = {}): number | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const m = TIME_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const hasTime = h !== undefined;
  if (!hasTime && (!opts.dateOnly || zone)) return undefined;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const base = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const check = new Date(base);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  return base - zoneOffsetMs(zone);
}

function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || 0);
  return sign * (hours * 60 + minutes) * 60_000;
}

/** `YYYY-MM-DD` that names a real calendar day. */
export function isCalendarDate(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && parseTime(value, { dateOnly: true }) !== undefined;
}

/** Looks like a date-time (has a time part), so a string attribute of this shape is stored as a date. */
export function isDateTimeString(value: string): boolean {
  return value.length <= 64 && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value) && parseTime(value) !== undefined;
}
