/**
 * Mixpanel members → distinct users by the workspace's match key (docs/reference/cohort-import.md §4.2), shared
 * by the webhook receiver and pull mode. Members without the key count as not found.
 */
import { matchEmails, matchExternalIds } from '../identity/index.js';
import type { Queryable } from '../storage/index.js';
import type { MatchKey } from './webhook-payload.js';

export interface ResolvedMembers {
  received: number;
  matched: number;
  notFound: number;
  userIds: string[];
}

export async function resolveMembers(tx: Queryable, workspaceId: string, identifiers: Array<string | undefined>, key: MatchKey): Promise<ResolvedMembers> {
  const present = identifiers.filter((i): i is string => i !== undefined);
  const found = key.kind === 'email' ? await matchEmails(tx, workspaceId, present) : await matchExternalIds(tx, workspaceId, present);
  const users = new Set<string>();
  let matched = 0;
  for (const id of identifiers) {
    const user = id === undefined ? undefined : found.get(id);
    if (user) {
      matched++;
      users.add(user);
    }
  }
  return { received: identifiers.length, matched, notFound: identifiers.length - matched, userIds: [...users] };
}
