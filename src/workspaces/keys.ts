/**
 * REST API keys: generation, hashing and the permission vocabulary. Pure; storage is in store.ts.
 *
 * A key looks like `rvk_0123456789_<43 chars>`: the part before the second underscore is the
 * non-secret prefix shown in lists and error messages; the whole key carries 256 random bits.
 * Only its SHA-256 is stored. A fast hash is right here: the key is random, not a password, so
 * there is nothing to brute-force, and lookup by hash keeps authentication at one index probe.
 */
import { createHash, randomBytes } from 'node:crypto';

export const PERMISSIONS = [
  'users.track',
  'users.identify',
  'users.alias.new',
  'users.export.ids',
  'sdk.sessions',
  'currents.publish',
  'campaigns.trigger.send',
  'admin',
  // The messaging API (docs/reference/messaging-api.md), Braze's names.
  'messages.send',
  'messages.schedule.create',
  'messages.schedule.update',
  'messages.schedule.delete',
  'sends.id.create',
  'campaigns.list',
  'campaigns.details',
  'subscription.status.set',
  'subscription.status.get',
  'email.status',
  'email.hard_bounces',
  'email.unsubscribe',
  'email.bounce.remove',
  'email.spam.remove',
  'campaigns.trigger.schedule.create',
  'campaigns.trigger.schedule.update',
  'campaigns.trigger.schedule.delete',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(p: string): p is Permission {
  return (PERMISSIONS as readonly string[]).includes(p);
}

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

export function generateSecretKey(kind: string): GeneratedKey {
  const prefix = `${kind}_${randomBytes(5).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashKey(key) };
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function parsePermissions(list: string): Permission[] {
  const wanted = list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (wanted.length === 1 && wanted[0] === 'all') return [...PERMISSIONS];
  const bad = wanted.filter((p) => !isPermission(p));
  if (bad.length) throw new Error(`unknown permission(s): ${bad.join(', ')}; known: ${PERMISSIONS.join(', ')}, or "all"`);
  if (!wanted.length) throw new Error('at least one permission is required');
  return [...new Set(wanted)] as Permission[];
}
