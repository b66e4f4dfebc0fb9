/**
 * The filters Braze adds to standard Liquid (docs/reference/personalization.md). Pure functions
 * registered on the engine by name.
 */
import { createHash, createHmac } from 'node:crypto';

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export const BRAZE_FILTERS: Record<string, (value: unknown, ...args: unknown[]) => unknown> = {
  /** Escapes for a JSON string literal, without the quotes. */
  json_escape: (v) => JSON.stringify(text(v)).slice(1, -1),
  /** Escapes for a URL, keeping its reserved characters (like `encodeURI`). */
  url_escape: (v) => encodeURI(text(v)),
  /** Escapes for one query parameter value (like `encodeURIComponent`). */
  url_param_escape: (v) => encodeURIComponent(text(v)),
  /** Reads a key of a hash: `{{ hash | property_accessor: 'key' }}`. */
  property_accessor: (v, key) => (v && typeof v === 'object' && Object.hasOwn(v, text(key)) ? (v as Record<string, unknown>)[text(key)] : undefined),
  /** 1234567.891 → "1,234,567.891"; the delimiter is an optional argument. */
  number_with_delimiter: (v, delimiter = ',') => {
    const n = typeof v === 'number' ? v : Number(text(v));
    if (!Number.isFinite(n)) return text(v);
    const [int, frac] = String(n).split('.');
    const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, text(delimiter));
    return frac === undefined ? grouped : `${grouped}.${frac}`;
  },
  md5: (v) => createHash('md5').update(text(v)).digest('hex'),
  sha1: (v) => createHash('sha1').update(text(v)).digest('hex'),
  sha2: (v) => createHash('sha256').update(text(v)).digest('hex'),
  hmac_sha1: (v, key) => createHmac('sha1', text(key)).update(text(v)).digest('hex'),
};
