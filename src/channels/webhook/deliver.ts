/**
 * One webhook attempt and what it means (docs/reference/webhooks.md §3): 2xx → sent; 408, 429, 5xx,
 * network errors and timeouts → retry; any other status (3xx included: redirects are not followed)
 * → abort `invalid_http_status`; a URL without a host → `missing_hostname`; an address the policy
 * refuses → `blocked_webhook_url`, before any connection. Every attempt is recorded.
 */
import { errors, request, type Dispatcher } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { BlockedAddress, checkUrlHost } from './connect.js';

export const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];
/** How much of a reply each attempt keeps. */
export const REPLY_KEPT_BYTES = 4096;

export interface WebhookRequest {
  /** Rendered already; checked here. */
  url: string;
  method: WebhookMethod;
  headers: Record<string, string>;
  body?: string;
  /** The send's key: `Idempotency-Key` and `X-Rivulet-Send-Id`, the same on every attempt. */
  sendKey: string;
}

export interface AttemptRecord {
  at: string;
  status: number | null;
  duration_ms: number;
  error?: string;
  reply?: string;
}

export type WebhookAbortType = 'invalid_http_status' | 'missing_hostname' | 'blocked_webhook_url';

export type WebhookOutcome =
  | { kind: 'sent'; attempt: AttemptRecord }
  | { kind: 'retry'; attempt: AttemptRecord; retryAfterMs?: number }
  | { kind: 'aborted'; abortType: WebhookAbortType; abortLog: string; attempt?: AttemptRecord };

const RETRIED_STATUS = (s: number) => s === 408 || s === 429 || s >= 500;

/** `Retry-After` as seconds or an HTTP date, in ms from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Header values rendered from user data lose any CR or LF (no header injection). */
function cleanHeaders(headers: Record<string, string>, sendKey: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    out[k] = v.replace(/[\r\n]+/g, ' ');
  }
  out['idempotency-key'] = sendKey;
  out['x-rivulet-send-id'] = sendKey;
  return out;
}

export async function attemptWebhook(req: WebhookRequest, agent: Dispatcher, policy: AddressPolicy, now: () => number = Date.now): Promise<WebhookOutcome> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { kind: 'aborted', abortType: 'missing_hostname', abortLog: `not a URL: ${req.url.slice(0, 100)}` };
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    return { kind: 'aborted', abortType: 'missing_hostname', abortLog: `a webhook URL needs http(s) and a host: ${req.url.slice(0, 100)}` };
  }
  const literal = checkUrlHost(url, policy);
  if (literal) return { kind: 'aborted', abortType: 'blocked_webhook_url', abortLog: literal.message.slice(0, 128) };

  const started = now();
  const at = new Date(started).toISOString();
  try {
    const res = await request(url, { method: req.method, headers: cleanHeaders(req.headers, req.sendKey), body: req.method === 'GET' ? undefined : req.body, dispatcher: agent });
    const chunks: Buffer[] = [];
    let kept = 0;
    for await (const chunk of res.body) {
      if (kept < REPLY_KEPT_BYTES) {
        chunks.push(chunk as Buffer);
        kept += (chunk as Buffer).length;
      }
    }
    const attempt: AttemptRecord = { at, status: res.statusCode, duration_ms: now() - started, reply: Buffer.concat(chunks).subarray(0, REPLY_KEPT_BYTES).toString('utf8') };
    if (res.statusCode >= 200 && res.statusCode < 300) return { kind: 'sent', attempt };
    if (RETRIED_STATUS(res.statusCode)) return { kind: 'retry', attempt, retryAfterMs: parseRetryAfter(res.headers['retry-after'], now()) };
    return { kind: 'aborted', abortType: 'invalid_http_status', abortLog: `HTTP ${res.statusCode}`, attempt };
  } catch (err) {
    const blocked = findBlocked(err);
    const attempt: AttemptRecord = { at, status: null, duration_ms: now() - started, error: describe(err) };
    if (blocked) return { kind: 'aborted', abortType: 'blocked_webhook_url', abortLog: blocked.message.slice(0, 128), attempt };
    return { kind: 'retry', attempt };
  }
}

function findBlocked(err: unknown): BlockedAddress | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if (e instanceof BlockedAddress) return e;
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err instanceof errors.ConnectTimeoutError) return 'timed out';
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return (e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err)).slice(0, 200);
}
