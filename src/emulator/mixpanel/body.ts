/**
 * Turns an `/import` request body into records (docs/reference/mixpanel-apis.md §2, §5): the encoding and size
 * checks, gzip inflation under the uncompressed byte cap, and parsing of a JSON array or NDJSON.
 * Each failure carries the whole-request status and error text it answers with.
 */
import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { MESSAGES } from './responses.js';
import { mayHoldLoneSurrogates } from './validation.js';

const gunzipAsync = promisify(gunzip);
const GUNZIP_CHUNK_BYTES = 256 * 1024;

export type BodyFailure = { ok: false; status: 400 | 413 | 415; error: string };
export type Inflated = { ok: true; body: Buffer } | BodyFailure;
/** `surrogates`: whether the text can hold a lone surrogate once parsed (validation.ts). */
export type Parsed = { ok: true; records: unknown[]; surrogates: boolean } | BodyFailure;
/** `form`: `application/x-www-form-urlencoded` with the events in a `data` field (§2, "other request forms"). */
export type BodyFormat = 'json' | 'ndjson' | 'form';

/**
 * The body as text, or `null` when it is not valid UTF-8: what `new TextDecoder('utf-8', { fatal:
 * true }).decode` gives (a leading byte-order mark dropped), through Node's validator and decoder,
 * which cost a fraction of it.
 */
export function decodeUtf8(body: Buffer): string | null {
  if (!isUtf8(body)) return null;
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** `gzip`, `identity` or none; anything else is refused. */
export function isSupportedEncoding(encoding: string | undefined): boolean {
  const value = (encoding ?? '').trim().toLowerCase();
  return value === '' || value === 'identity' || value === 'gzip' || value === 'x-gzip';
}

/**
 * How large a compressed body may be before it is certain to inflate past `maxBytes`:
 * deflate's stored blocks add at most 5 bytes per 16 KiB, and gzip adds a small header.
 */
export function maxWireBytes(maxBytes: number): number {
  return maxBytes + Math.ceil(maxBytes / 16_384) * 5 + 1024;
}

export async function inflateBody(raw: Buffer, encoding: string | undefined, maxBytes: number): Promise<Inflated> {
  const tooLarge: BodyFailure = { ok: false, status: 413, error: MESSAGES.tooLarge(maxBytes) };
  if (!isSupportedEncoding(encoding)) return { ok: false, status: 415, error: MESSAGES.unsupportedMedia };
  const gzipped = /gzip/i.test(encoding ?? '');
  if (!gzipped) return raw.length > maxBytes ? tooLarge : { ok: true, body: raw };
  try {
    // Output in chunks of 256 KiB instead of zlib's 16 KiB: a 2,000-event body then inflates in a
    // few thread-pool round trips instead of fifty (a third of the CPU).
    return { ok: true, body: await gunzipAsync(raw, { maxOutputLength: maxBytes, chunkSize: GUNZIP_CHUNK_BYTES }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge;
    return { ok: false, status: 400, error: 'request body is not valid gzip' };
  }
}

/** `application/json`, `application/x-ndjson` or a form, parameters ignored; `null` for anything else. */
export function bodyFormat(contentType: string | undefined): BodyFormat | null {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-ndjson') return 'ndjson';
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * The JSON text of a `data` parameter: JSON as it is (it starts with `[` or `{`), or base64 of it,
 * standard or URL-safe. A `+` that form or query decoding turned into a space is put back (clients
 * write base64 into a form body without escaping it). `null` when it is neither.
 */
export function decodeDataParam(value: string): string | null {
  const trimmed = value.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return trimmed;
  const b64 = trimmed.replace(/ /g, '+').replace(/[\r\n]/g, '');
  if (b64 === '' || !BASE64.test(b64)) return null;
  return decodeUtf8(Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64'));
}

/** The records of a `data` parameter: a JSON array of events, or a single event object. */
export function parseDataParam(value: string | null | undefined, maxEvents: number): Parsed {
  const bad = (error: string): BodyFailure => ({ ok: false, status: 400, error });
  if (value === null || value === undefined || value === '') return bad("'data' is required: the events as JSON or base64-encoded JSON");
  const text = decodeDataParam(value);
  if (text === null) return bad("'data' is not valid base64-encoded JSON");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad("'data' is not valid JSON");
  }
  const records = Array.isArray(parsed) ? parsed : [parsed];
  if (records.length === 0) return bad('request contains no events');
  if (records.length > maxEvents) return bad(`request contains ${records.length} events; the limit is ${maxEvents}`);
  return { ok: true, records, surrogates: mayHoldLoneSurrogates(text) };
}

/** A form body's fields; `null` when it is not valid UTF-8. */
export function formFields(body: Buffer): URLSearchParams | null {
  const text = decodeUtf8(body);
  return text === null ? null : new URLSearchParams(text);
}

export function parseRecords(body: Buffer, format: BodyFormat, maxEvents: number): Parsed {
  const bad = (error: string): BodyFailure => ({ ok: false, status: 400, error });
  if (format === 'form') {
    const fields = formFields(body);
    if (fields === null) return bad('request body is not valid UTF-8');
    return parseDataParam(fields.get('data'), maxEvents);
  }
  const text = decodeUtf8(body);
  if (text === null) return bad('request body is not valid UTF-8');
  let records: unknown[];
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return bad('request body is not valid JSON');
    }
    if (!Array.isArray(parsed)) return bad('request body must be a JSON array of events');
    records = parsed;
  } else {
    records = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        return bad(`line ${i + 1} is not valid JSON`);
      }
    }
  }
  if (records.length === 0) return bad('request contains no events');
  if (records.length > maxEvents) return bad(`request contains ${records.length} events; the limit is ${maxEvents}`);
  return { ok: true, records, surrogates: mayHoldLoneSurrogates(text) };
}
