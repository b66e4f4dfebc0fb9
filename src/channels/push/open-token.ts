/**
 * The token a push payload carries so its click can be reported (docs/reference/push.md §4):
 * `<workspace>.<send key>.<subscription id>.<HMAC-SHA256, base64url>` under a key derived per
 * workspace from the master key. The service worker posts it back; nothing else authenticates
 * the Open, and a token names one message on one subscription only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface OpenClaim {
  workspaceId: string;
  sendKey: string;
  subscriptionId: string;
}

const mac = (secret: Buffer, body: string) => createHmac('sha256', secret).update(body).digest();

export function signOpenToken(claim: OpenClaim, secret: Buffer): string {
  const body = `${claim.workspaceId}.${claim.sendKey}.${claim.subscriptionId}`;
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** The workspace a token names (unverified): to pick the key that verifies it. */
export function openTokenWorkspace(token: string): string | undefined {
  const ws = token.split('.')[0];
  return ws && UUID.test(ws) ? ws : undefined;
}

export function verifyOpenToken(token: string, secret: Buffer): OpenClaim | undefined {
  const parts = token.split('.');
  if (parts.length !== 4 || !parts.slice(0, 3).every((p) => UUID.test(p))) return undefined;
  const given = Buffer.from(parts[3]!, 'base64url');
  // One spelling per MAC: base64url with unused trailing bits set would decode to the same bytes.
  if (given.toString('base64url') !== parts[3]) return undefined;
  const want = mac(secret, parts.slice(0, 3).join('.'));
  if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
  return { workspaceId: parts[0]!, sendKey: parts[1]!, subscriptionId: parts[2]! };
}
