/**
 * Turns a request's identifier occurrences into users with the identity matchers, in order, and
 * reduces them to "the last entry for a user wins" (cohort-import.md §1.3), with the counts the
 * response and the sync history report.
 */
import { aliasKey, matchAliases, matchDeviceIds, matchExternalIds, type Unmatched } from '../identity/index.js';
import type { Queryable } from '../storage/index.js';
import type { CohortEntry } from './partner-payload.js';

export interface ResolvedChanges {
  received: number;
  matched: number;
  unmatched: Record<Unmatched, number>;
  unmatchedIdentifiers: { user_ids: string[]; device_ids: string[]; aliases: Array<{ alias_name: string; alias_label: string }> };
  /** Each distinct matched user → the state its last entry asked for (true = member). */
  wanted: Map<string, boolean>;
}

/**
 * `lock`: the users found stay locked (FOR KEY SHARE) until the transaction ends, so the apply
 * that follows may write memberships for them without re-checking that they still exist.
 */
export async function resolveEntries(tx: Queryable, workspaceId: string, entries: CohortEntry[], opts: { lock?: boolean } = {}): Promise<ResolvedChanges> {
  const userIds: string[] = [];
  const deviceIds: string[] = [];
  const aliases = [];
  for (const e of entries) {
    if (e.identifier.kind === 'user_id') userIds.push(e.identifier.value);
    else if (e.identifier.kind === 'device_id') deviceIds.push(e.identifier.value);
    else aliases.push(e.identifier.alias);
  }
  const byExternalId = await matchExternalIds(tx, workspaceId, userIds, opts);
  const byDevice = await matchDeviceIds(tx, workspaceId, deviceIds, opts);
  const byAlias = await matchAliases(tx, workspaceId, aliases, opts);

  const out: ResolvedChanges = {
    received: entries.length,
    matched: 0,
    unmatched: { not_found: 0, device_id_of_identified_user: 0 },
    unmatchedIdentifiers: { user_ids: [], device_ids: [], aliases: [] },
    wanted: new Map(),
  };
  for (const e of entries) {
    const id = e.identifier;
    let userId: string | undefined;
    let reason: Unmatched = 'not_found';
    if (id.kind === 'user_id') userId = byExternalId.get(id.value);
    else if (id.kind === 'alias') userId = byAlias.get(aliasKey(id.alias));
    else {
      const m = byDevice.get(id.value);
      if (m && 'userId' in m) userId = m.userId;
      else if (m) reason = m.unmatched;
    }
    if (userId) {
      out.matched++;
      out.wanted.delete(userId); // re-insert so iteration order follows the last entry
      out.wanted.set(userId, !e.remove);
      continue;
    }
    out.unmatched[reason]++;
    if (id.kind === 'user_id') out.unmatchedIdentifiers.user_ids.push(id.value);
    else if (id.kind === 'device_id') out.unmatchedIdentifiers.device_ids.push(id.value);
    else out.unmatchedIdentifiers.aliases.push(id.alias);
  }
  return out;
}
