/**
 * What a browser's push subscription must be before it is stored (docs/reference/push.md §2). Pure.
 * - `endpoint`: an https URL of at most 2048 characters; http only to an address the webhook
 *   allowlist opens (RIVULET_WEBHOOK_ALLOW, e.g. 127.0.0.1 for the emulator), never with credentials.
 * - `keys.p256dh`: base64url of an uncompressed point on P-256 (65 bytes, 0x04 first).
 * - `keys.auth`: base64url of 16 bytes.
 */
import { createECDH, randomBytes } from 'node:crypto';

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface Problem {
  field: string;
  message: string;
}

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Bytes of a base64url (or base64) string, or undefined if it is not one. */
export function base64urlBytes(value: string): Buffer | undefined {
  const v = value.replace(/\+/g, '-').replace(/\//g, '_');
  if (!B64URL.test(v)) return undefined;
  return Buffer.from(v.replace(/=+$/, ''), 'base64url');
}

/** Whether `point` is an uncompressed P-256 public key on the curve (OpenSSL checks it). */
export function isP256Point(point: Buffer): boolean {
  if (point.length !== 65 || point[0] !== 4) return false;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(randomBytes(32));
    ecdh.computeSecret(point);
    return true;
  } catch {
    return false;
  }
}

export function checkEndpoint(endpoint: unknown, allowHttpHosts: readonly string[]): Problem | undefined {
  const field = 'subscription.endpoint';
  if (typeof endpoint !== 'string' || endpoint.length === 0) return { field, message: 'is required' };
  if (endpoint.length > 2048) return { field, message: 'must be at most 2048 characters' };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { field, message: 'must be an https URL' };
  }
  if (url.username || url.password) return { field, message: 'must not carry credentials' };
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (url.protocol === 'https:' && host) return undefined;
  if (url.protocol === 'http:' && allowHttpHosts.includes(host)) return undefined;
  return { field, message: 'must be an https URL' };
}

/** The problems of `input`, first the endpoint, then the keys; none means it may be stored. */
export function checkSubscription(input: unknown, allowHttpHosts: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  const s = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const endpoint = checkEndpoint(s.endpoint, allowHttpHosts);
  if (endpoint) problems.push(endpoint);
  const keys = (typeof s.keys === 'object' && s.keys !== null ? s.keys : {}) as Record<string, unknown>;
  const p256dh = typeof keys.p256dh === 'string' ? base64urlBytes(keys.p256dh) : undefined;
  if (!p256dh || !isP256Point(p256dh)) problems.push({ field: 'subscription.keys.p256dh', message: 'must be base64url of an uncompressed P-256 public key (65 bytes) on the curve' });
  const auth = typeof keys.auth === 'string' ? base64urlBytes(keys.auth) : undefined;
  if (!auth || auth.length !== 16) problems.push({ field: 'subscription.keys.auth', message: 'must be base64url of 16 bytes' });
  return problems;
}

/** The keys as stored and used: base64url without padding. */
export function canonicalKeys(keys: { p256dh: string; auth: string }): { p256dh: string; auth: string } {
  return { p256dh: base64urlBytes(keys.p256dh)!.toString('base64url'), auth: base64urlBytes(keys.auth)!.toString('base64url') };
}
