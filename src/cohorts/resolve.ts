/**
 * Turns a request's identifier occurrences into users with the identity matchers, in order, and
 * reduces them to "the last entry for a user wins" (docs/reference/cohort-import.md §1.3), with the counts the
 * response and the sync history report.
 */
import { aliasKey, isMatchableExternalId, matchAliases, matchDeviceIds, matchExternalIds, type Match, type Unmatched, type UserAlias } from '../identity/index.js';
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

/**
 * `lock`: the users found stay locked (FOR KEY SHARE) until the transaction ends, so the apply
 * that follows may write memberships for them without re-checking that they still exist.
 */
export async function resolveEntries(tx: Queryable, workspaceId: string, entries: CohortEntry[], opts: { lock?: boolean } = {}): Promise<ResolvedChanges> {
  const { userIds, deviceIds, aliases } = split(entries);
  const byExternalId = await matchExternalIds(tx, workspaceId, userIds, opts);
  const byDevice = await matchDeviceIds(tx, workspaceId, deviceIds, opts);
  const byAlias = await matchAliases(tx, workspaceId, aliases, opts);
  return reduceEntries(entries, { byExternalId, byDevice, byAlias });
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
  const byExternalId = new Map<string, string>();
  if (externalIds.size) {
    // The ids travel as one JSON array (cheaper to write and to read than a text[] literal); the
    // answer is one JSON value.
    const { rows } = await tx.query<{ found: Array<[string, string]> | null }>(
      `WITH f AS (
         SELECT u.external_id, u.id FROM users u
          WHERE u.workspace_id = $1 AND u.external_id = ANY(ARRAY(SELECT json_array_elements_text($2::json)))
            FOR KEY SHARE)
       SELECT json_agg(json_build_array(f.external_id, f.id)) AS found FROM f`,
      [workspaceId, JSON.stringify([...externalIds])],
    );
    for (const [externalId, userId] of rows[0]?.found ?? []) byExternalId.set(externalId, userId);
  }
  const byDevice = await matchDeviceIds(tx, workspaceId, deviceIds, { lock: true });
  const byAlias = await matchAliases(tx, workspaceId, aliases, { lock: true });
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
