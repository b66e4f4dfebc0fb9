/**
 * Identification: a profile S (alias-only, email-only or anonymous device profile) takes the
 * external id E (docs/reference/rest-api.md §3, rules 2–4). Shared by `/users/identify` and the SDK's change of user.
 */
import type { Queryable } from '../storage/index.js';
import { assignExternalId, lockExternalId, mergeUsers, type MergeBehavior, type MergeParticipant } from './merge.js';
import { usersByExternalIds, usersByIds } from './store.js';

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
  await lockExternalId(tx, workspaceId, externalId);
  const [source] = await usersByIds(tx, workspaceId, [sourceId], true);
  if (!source) return { ok: false, error: 'user not found' };
  if (source.external_id === externalId) return { ok: true, userId: source.id, change: 'none' };
  if (source.external_id !== null) return { ok: false, error: 'alias belongs to a different identified user' };
  const [existing] = await usersByExternalIds(tx, workspaceId, [externalId]);
  if (!existing) {
    await assignExternalId(tx, source.id, externalId);
    return { ok: true, userId: source.id, change: 'identified' };
  }
  const [target] = await usersByIds(tx, workspaceId, [existing.id], true);
  const merged = await mergeUsers(tx, source, target!, behavior, participants);
  return merged.ok ? { ok: true, userId: target!.id, change: 'merged' } : merged;
}
