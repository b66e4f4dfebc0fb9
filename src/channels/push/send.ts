/**
 * One push message to one subscription (docs/reference/push.md §3): the payload encrypted for the
 * subscription's keys (RFC 8291, aes128gcm) and the VAPID JWT (RFC 8292) made by the `web-push`
 * library, POSTed per RFC 8030 with undici through the webhook channel's guarded agent (the same
 * address policy: a push endpoint is a URL a browser handed us). 201 (or any 2xx) → accepted;
 * 404/410 → the subscription is gone; 408, 429, 5xx and network errors → transient; any other
 * status → refused.
 */
import { request, type Dispatcher } from 'undici';
import webpush from 'web-push';
import { BlockedAddress, checkUrlHost } from '../webhook/connect.js';
import type { AddressPolicy } from '../webhook/address-policy.js';
import { parseRetryAfter } from '../webhook/deliver.js';
import type { VapidKeys } from './vapid.js';

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** What the service worker receives (JSON, encrypted): the notification and how to report its click. */
export interface PushPayload {
  title: string;
  body: string;
  url?: string;
  icon?: string;
  rivulet: { open_url: string; token: string };
}

export type PushOutcome =
  | { kind: 'accepted'; status: number }
  | { kind: 'gone'; status: number; reason: string }
  | { kind: 'transient'; status: number | null; reason: string; retryAfterMs?: number }
  | { kind: 'refused'; status: number | null; reason: string };

export const PUSH_TIMEOUT_MS = 15_000;
/** How long a push service keeps an undelivered message (seconds): four weeks at most (RFC 8030 §5.2). */
export const PUSH_TTL_SECONDS = 24 * 3600;
/** The most a push service must accept (RFC 8291: 4096 bytes of record); the plaintext limit web-push enforces. */
export const MAX_PAYLOAD_BYTES = 4078;

/** The VAPID `sub` claim: the public URL when it is https, else a mailto the operator can read. */
export function vapidSubject(publicUrl: string): string {
  return publicUrl.startsWith('https://') ? publicUrl : 'mailto:webpush@rivulet.invalid';
}

/** The request `web-push` builds: method, headers (TTL, Content-Encoding, Authorization: vapid …) and encrypted body. */
export function pushRequest(target: PushTarget, payload: string, vapid: VapidKeys, subject: string, opts: { ttl?: number; urgency?: 'very-low' | 'low' | 'normal' | 'high'; topic?: string } = {}) {
  return webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, payload, {
    vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    TTL: opts.ttl ?? PUSH_TTL_SECONDS,
    contentEncoding: 'aes128gcm',
    ...(opts.urgency ? { urgency: opts.urgency } : {}),
    ...(opts.topic ? { topic: opts.topic } : {}),
  });
}

const RETRIED = (s: number) => s === 408 || s === 429 || s >= 500;

export async function sendPush(target: PushTarget, payload: string, vapid: VapidKeys, subject: string, agent: Dispatcher, policy: AddressPolicy): Promise<PushOutcome> {
  let url: URL;
  try {
    url = new URL(target.endpoint);
  } catch {
    return { kind: 'refused', status: null, reason: 'the endpoint is not a URL' };
  }
  const blocked = checkUrlHost(url, policy);
  if (blocked) return { kind: 'refused', status: null, reason: blocked.message.slice(0, 200) };
  let details;
  try {
    details = pushRequest(target, payload, vapid, subject);
  } catch (err) {
    return { kind: 'refused', status: null, reason: `could not encrypt: ${(err as Error).message}`.slice(0, 200) };
  }
  try {
    const res = await request(url, {
      method: 'POST',
      headers: details.headers as Record<string, string>,
      body: details.body ?? undefined,
      dispatcher: agent,
      headersTimeout: PUSH_TIMEOUT_MS,
      bodyTimeout: PUSH_TIMEOUT_MS,
    });
    const text = (await res.body.text().catch(() => '')).slice(0, 200);
    const s = res.statusCode;
    if (s >= 200 && s < 300) return { kind: 'accepted', status: s };
    const reason = `HTTP ${s}${text ? `: ${text}` : ''}`;
    if (s === 404 || s === 410) return { kind: 'gone', status: s, reason };
    if (RETRIED(s)) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
      return { kind: 'transient', status: s, reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { kind: 'refused', status: s, reason };
  } catch (err) {
    for (let c: unknown = err; c; c = (c as { cause?: unknown }).cause) if (c instanceof BlockedAddress) return { kind: 'refused', status: null, reason: c.message.slice(0, 200) };
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    return { kind: 'transient', status: null, reason: (e.cause?.code ?? e.code ?? e.message ?? String(err)).slice(0, 200) };
  }
}
