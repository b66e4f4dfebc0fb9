/**
 * Who gets which variant, and the send keys (docs/reference/campaigns.md §2). Pure and stable: a
 * user's bucket is a hash of the campaign and the user, so every dispatch of a campaign splits its
 * users the same way; a send key is UUIDv5(dispatch, user, channel), so writing the rows again
 * writes nothing new.
 */
import { createHash } from 'node:crypto';
import type { CampaignDefinition } from './definition.js';

/** RFC 4122 version 5 (SHA-1, name-based) UUID of `name` in the namespace `namespace` (a UUID). */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function sendKey(dispatchId: string, userId: string, channel: string): string {
  return uuidV5(dispatchId, `${userId}:${channel}`);
}

/** 0–99, stable per campaign and user. */
export function bucketOf(campaignId: string, userId: string): number {
  return createHash('sha256').update(`${campaignId}:${userId}`).digest().readUInt32BE(0) % 100;
}

export const CONTROL_VARIANT = 'control';

/** The variant id a user gets, or `control`. The control group takes the lowest buckets. */
export function assignVariant(def: Pick<CampaignDefinition, 'variants' | 'control_percent'>, campaignId: string, userId: string): string {
  const bucket = bucketOf(campaignId, userId);
  if (bucket < def.control_percent) return CONTROL_VARIANT;
  let edge = def.control_percent;
  for (const v of def.variants) {
    edge += v.percent;
    if (bucket < edge) return v.id;
  }
  return def.variants.at(-1)!.id;
}
