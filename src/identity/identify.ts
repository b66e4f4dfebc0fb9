/**
 * Identification: a profile S (alias-only, email-only or anonymous device profile) takes the
 * external id E (docs/reference/rest-api.md §3, rules 2–4). Shared by `/users/identify` and the SDK's change of user.
 */
import type { Queryable } from '../storage/index.js';
import { identityKey, lockIdentityKeys } from './locks.js';
import { assignExternalId, mergeUsers, type MergeBehavior, type MergeParticipant } from './merge.js';
import { usersByAliases, usersByExternalIds, usersByIds } from './store.js';
import type { UserAlias } from './types.js';

export type IdentifyOutcome =
  | { ok: true; userId: string; change: 'none' | 'identified' | 'merged' }
  | { ok: false; error: string };

export async function identifyProfile(
  tx: Queryable,
  workspaceId: string,
  sourceId: string,
  externalId: string,
  behavior: MergeBehavior,
  participants: readonly MergeParticipant[],
): Promise<IdentifyOutcome> {
  // Lock order (locks.ts): the external id's key, then both users in one statement, in id order.
  // Who holds the external id cannot change meanwhile: every path that gives one out takes its key.
  await lockIdentityKeys(tx, [identityKey.externalId(workspaceId, externalId)]);
  const [existing] = await usersByExternalIds(tx, workspaceId, [externalId]);
  const locked = await usersByIds(tx, workspaceId, existing && existing.id !== sourceId ? [sourceId, existing.id] : [sourceId], 'update');
  const source = locked.find((u) => u.id === sourceId);
  const target = existing ? locked.find((u) => u.id === existing.id) : undefined;
  if (!source) return { ok: false, error: 'user not found' };
  if (source.external_id === externalId) return { ok: true, userId: source.id, change: 'none' };
  if (source.external_id !== null) return { ok: false, error: 'alias belongs to a different identified user' };
  if (!target) {
    await assignExternalId(tx, source.id, externalId);
    return { ok: true, userId: source.id, change: 'identified' };
  }
  const merged = await mergeUsers(tx, source, target, behavior, participants);
  return merged.ok ? { ok: true, userId: target.id, change: 'merged' } : merged;
}

/**
 * For a batch of identifications in one transaction (`/users/identify`): takes every lock the batch
 * will need up front, in the global order (locks.ts) — the external ids' keys, then the alias
 * holders and current holders of the external ids, in id order — so that the items, applied one by
 * one in request order afterwards, only re-take locks they already hold.
 */
export async function lockForIdentify(tx: Queryable, workspaceId: string, items: ReadonlyArray<{ externalId: string; alias: UserAlias }>): Promise<void> {
  if (!items.length) return;
  await lockIdentityKeys(
    tx,
    items.map((i) => identityKey.externalId(workspaceId, i.externalId)),
  );
  const holders = await usersByAliases(tx, workspaceId, items.map((i) => i.alias));
  const identified = await usersByExternalIds(tx, workspaceId, [...new Set(items.map((i) => i.externalId))]);
  const ids = [...new Set([...holders, ...identified].map((u) => u.id))];
  await usersByIds(tx, workspaceId, ids, 'update');
}
