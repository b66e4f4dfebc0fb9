/**
 * The time formats of the REST API (docs/reference/rest-api.md §1): ISO-8601 with `Z` or an offset and optional
 * fractions, Braze's `yyyy-MM-dd'T'HH:mm:ss:SSSZ`, no zone meaning UTC, and date-only values
 * where allowed. Returns epoch milliseconds, or undefined for anything else.
 */
const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.:](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const num = (s: string, from: number, len: number): number => {
  let n = 0;
  for (let i = from; i < from + len; i++) n = n * 10 + digit(s, i);
  return n;
};
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The shape almost every client sends, `YYYY-MM-DDTHH:MM:SS[.sss]Z`, read without a regular
 * expression; undefined (not "invalid") for any other shape, which then takes the general path.
 */
function parseCanonicalUtc(v: string): number | undefined {
  const n = v.length;
  if (n !== 20 && n !== 24) return undefined;
  if (v[4] !== '-' || v[7] !== '-' || v[10] !== 'T' || v[13] !== ':' || v[16] !== ':' || v[n - 1] !== 'Z') return undefined;
  if (n === 24 && v[19] !== '.') return undefined;
  const year = num(v, 0, 4);
  const month = num(v, 5, 2);
  const day = num(v, 8, 2);
  const hour = num(v, 11, 2);
  const minute = num(v, 14, 2);
  const second = num(v, 17, 2);
  const ms = n === 24 ? num(v, 20, 3) : 0;
  // NaN (a non-digit) fails every comparison below. Years below 100 take the general path (Date.UTC
  // reads them as 19xx, which the general path's round-trip check refuses).
  if (!(month >= 1 && month <= 12 && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0 && year >= 100)) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (!(day >= 1 && day <= days)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

export function parseTime(value: unknown, opts: { dateOnly?: boolean } = {}): number | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const fast = parseCanonicalUtc(value);
  if (fast !== undefined) return fast;
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
