/**
 * Turns a request's identifier occurrences into users with the identity matchers, in order, and
 * reduces them to "the last entry for a user wins" (docs/reference/cohort-import.md §1.3), with the counts the
 * response and the sync history report.
 */
import { aliasKey, isMatchableExternalId, lockUsersKeyShare, matchAliases, matchDeviceIds, matchExternalIds, type Match, type Unmatched, type UserAlias } from '../identity/index.js';
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

interface Matches {
  byExternalId: Map<string, string>;
  byDevice: Map<string, Match>;
  byAlias: Map<string, string>;
}

function split(entries: CohortEntry[]) {
  const userIds: string[] = [];
  const deviceIds: string[] = [];
  const aliases: UserAlias[] = [];
  for (const e of entries) {
    if (e.identifier.kind === 'user_id') userIds.push(e.identifier.value);
    else if (e.identifier.kind === 'device_id') deviceIds.push(e.identifier.value);
    else aliases.push(e.identifier.alias);
  }
  return { userIds, deviceIds, aliases };
}

export interface GroupMatches {
  matches: Matches;
  /** Every distinct user matched by any request of the group. */
  users: string[];
}

/**
 * The matching of a group of requests to one cohort (group commit), in as few statements as it
 * takes: the external ids of every request in one statement (the common case: one round trip in
 * all); device ids and aliases with the identity matchers. Every user matched stays locked (FOR
 * KEY SHARE) until the transaction ends: none can be deleted or merged away, nor change its
 * external id, before the memberships written for it commit. No cohort lock is needed for this:
 * the users' locks hold the match, and identifiers that matched nobody may be taken as the state
 * at any moment since the request arrived (docs/reference/cohort-import.md §2, "at apply time").
 */
export async function matchGroup(tx: Queryable, workspaceId: string, requests: CohortEntry[][]): Promise<GroupMatches> {
  const externalIds = new Set<string>();
  const deviceIds: string[] = [];
  const aliases: UserAlias[] = [];
  for (const entries of requests) {
    const s = split(entries);
    for (const id of s.userIds) if (isMatchableExternalId(id)) externalIds.add(id);
    deviceIds.push(...s.deviceIds);
    aliases.push(...s.aliases);
  }
  if (!deviceIds.length && !aliases.length) {
    // The common case: external ids only, matched and locked in one statement.
    const byExternalId = await matchExternalIds(tx, workspaceId, externalIds, { lock: true });
    return { matches: { byExternalId, byDevice: new Map(), byAlias: new Map() }, users: [...new Set(byExternalId.values())] };
  }
  // Several kinds: match them, then lock every user found at once, in id order (one lock order,
  // identity/locks.ts); a user deleted or merged away in between is no match.
  const byExternalId = await matchExternalIds(tx, workspaceId, externalIds);
  const byDevice = await matchDeviceIds(tx, workspaceId, deviceIds);
  const byAlias = await matchAliases(tx, workspaceId, aliases);
  const found = new Set(byExternalId.values());
  for (const m of byDevice.values()) if ('userId' in m) found.add(m.userId);
  for (const u of byAlias.values()) found.add(u);
  const live = await lockUsersKeyShare(tx, [...found]);
  for (const [k, u] of byExternalId) if (!live.has(u)) byExternalId.delete(k);
  for (const [k, m] of byDevice) if ('userId' in m && !live.has(m.userId)) byDevice.delete(k);
  for (const [k, u] of byAlias) if (!live.has(u)) byAlias.delete(k);
  const users = new Set(byExternalId.values());
  for (const m of byDevice.values()) if ('userId' in m) users.add(m.userId);
  for (const u of byAlias.values()) users.add(u);
  return { matches: { byExternalId, byDevice, byAlias }, users: [...users] };
}

/** Each request's resolution from the group's matches (see matchGroup). */
export function reduceGroup(requests: CohortEntry[][], { matches }: GroupMatches): ResolvedChanges[] {
  return requests.map((entries) => reduceEntries(entries, matches));
}

/** Applies the matches to the entries in order: counts, unmatched identifiers, the last entry per user. */
function reduceEntries(entries: CohortEntry[], { byExternalId, byDevice, byAlias }: Matches): ResolvedChanges {
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
