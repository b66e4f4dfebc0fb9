/**
 * The one lock order of every transaction that creates or locks users (docs/scaling.md#lock-order).
 * Two transactions that take their locks in the same order cannot deadlock, whichever process runs
 * them; so every path (track, identify, alias, the SDK's sessions, cohort import) takes
 * them in these steps, each step's locks sorted, and never goes back to an earlier step:
 *
 * 1. Identity keys: transaction-scoped advisory locks on the identifiers a transaction may create
 *    or re-assign (external ids, emails and aliases of users to create, device ids), all in one
 *    statement, sorted by lock key. They serialise the creation of one identifier across processes,
 *    so two requests that both see "no such user" do not both make one.
 * 2. New rows: users, then aliases. Their unique keys are the identity keys locked in step 1, so no
 *    other transaction inserts them meanwhile: an insert never waits, whatever the order.
 * 3. Row locks on existing users, all in one statement, sorted by user id
 *    (`FOR NO KEY UPDATE` to change a profile, `FOR UPDATE` to delete or re-key one, `FOR KEY SHARE`
 *    to write rows that refer to it).
 * 4. Rows hanging off users (memberships, event statistics), written sorted by their key.
 *
 * All within one workspace: no transaction locks users of two workspaces. The retries of
 * `transactionWithRetry` stay as a safety net (a lock taken out of order in a rare race), and are
 * counted in `/metrics` (rivulet_transaction_retries_total).
 */
import type { Queryable } from '../storage/index.js';
import type { UserAlias } from './types.js';

export type UserLockMode = 'update' | 'no key update' | 'key share';

const CLAUSE: Record<UserLockMode, string> = {
  update: 'FOR UPDATE',
  'no key update': 'FOR NO KEY UPDATE',
  'key share': 'FOR KEY SHARE',
};

/** The SQL locking clause of a mode ('' for none). */
export function lockClause(mode: UserLockMode | undefined | false): string {
  return mode ? CLAUSE[mode] : '';
}

export const identityKey = {
  externalId: (workspaceId: string, externalId: string) => `ext:${workspaceId}:${externalId}`,
  email: (workspaceId: string, email: string) => `mail:${workspaceId}:${email.trim().toLowerCase()}`,
  alias: (workspaceId: string, a: UserAlias) => `alias:${workspaceId}:${JSON.stringify([a.alias_label, a.alias_name])}`,
  device: (workspaceId: string, deviceId: string) => `dev:${workspaceId}:${deviceId}`,
};

/**
 * Step 1: advisory locks on identity keys, held until the transaction ends. Sorted by the lock's
 * own key (the 64-bit hash), so two keys that share a hash are one lock taken once.
 */
export async function lockIdentityKeys(tx: Queryable, keys: Iterable<string>): Promise<void> {
  const list = [...new Set(keys)];
  if (!list.length) return;
  if (list.length === 1) {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [list[0]]);
    return;
  }
  await tx.query(
    `SELECT count(*) FROM (
       SELECT pg_advisory_xact_lock(sorted.h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) sorted
     ) taken`,
    [list],
  );
}

/**
 * Step 3 for writers of rows that refer to users (memberships): `FOR KEY SHARE` on the users, in id
 * order, so none can be deleted or merged away before the transaction ends. Returns the ids of the
 * users that exist.
 */
export async function lockUsersKeyShare(tx: Queryable, userIds: readonly string[]): Promise<Set<string>> {
  if (!userIds.length) return new Set();
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE', [userIds]);
  return new Set(rows.map((r) => r.id));
}
