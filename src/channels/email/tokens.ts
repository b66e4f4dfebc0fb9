/**
 * Signed tracking tokens (docs/reference/email.md §3): `base64url(payload).base64url(HMAC-SHA256)`
 * under a per-workspace secret, with no expiry. A token carries everything its route needs to
 * append the event without looking anything up; a bad signature is refused (404, never a redirect).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'open' | 'click' | 'unsubscribe';

export interface TrackingPayload {
  /** What the token is for. */
  k: TokenKind;
  /** Workspace id, so that the right secret verifies it. */
  w: string;
  /** The send's key. */
  s: string;
  /** Click: the original URL, and the link's id and alias when known. */
  url?: string;
  lid?: string;
  alias?: string;
  /** Unsubscribe: a subscription group id; absent means the global email state. */
  g?: string;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function mac(secret: Buffer, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

export function signToken(payload: TrackingPayload, secret: Buffer): string {
  const body = b64(JSON.stringify(payload));
  return `${body}.${b64(mac(secret, body))}`;
}

/** The workspace a token claims to be from (unverified), to pick the secret that verifies it. */
export function tokenWorkspace(token: string): string | undefined {
  try {
    const p = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as Partial<TrackingPayload>;
    return typeof p.w === 'string' ? p.w : undefined;
  } catch {
    return undefined;
  }
}

export function verifyToken(token: string, secret: Buffer, kind: TokenKind): TrackingPayload | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || token.length > 8192) return undefined;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(secret, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TrackingPayload;
    return p && p.k === kind && typeof p.s === 'string' && typeof p.w === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}
