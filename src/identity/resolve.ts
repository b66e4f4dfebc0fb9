/**
 * Identifier → user, in batches. The one place the REST API, cohort import, the publish API and the
 * dashboard turn identifiers into users (cohort import adds its device-id rule on top).
 */
import type { Queryable } from '../storage/index.js';
import { USER_COLUMNS_OF_U, USER_REF_COLUMNS, userByEmail, usersByAliases, usersByExternalIds, usersByIds } from './store.js';
import { identifierKey, type Identifier, type User, type UserRef } from './types.js';

/** Existing users for the given identifiers, keyed by `identifierKey`. Missing ones are absent. */
export function findUsers(tx: Queryable, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, User>> {
  return find<User>(tx, workspaceId, identifiers, USER_COLUMNS_OF_U);
}

/** As `findUsers`, reading only the columns of a `UserRef` (cheaper when the profiles are not changed). */
export function findUserRefs(tx: Queryable, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, UserRef>> {
  return find<UserRef>(tx, workspaceId, identifiers, USER_REF_COLUMNS);
}

async function find<T extends UserRef>(tx: Queryable, workspaceId: string, identifiers: Identifier[], columns: string): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  const externalIds = new Set<string>();
  const aliases = new Map<string, Extract<Identifier, { kind: 'user_alias' }>['alias']>();
  const userIds = new Set<string>();
  const emails = new Set<string>();
  for (const id of identifiers) {
    if (id.kind === 'external_id') externalIds.add(id.externalId);
    else if (id.kind === 'user_alias') aliases.set(identifierKey(id), id.alias);
    else if (id.kind === 'braze_id') userIds.add(id.userId);
    else emails.add(id.email.toLowerCase());
  }
  // Sequential on purpose: one transaction is one connection, which runs one statement at a time.
  const byExt = await usersByExternalIds<T>(tx, workspaceId, [...externalIds], columns);
  const byAlias = await usersByAliases<T>(tx, workspaceId, [...aliases.values()], columns);
  const byId = await usersByIds<T>(tx, workspaceId, [...userIds], false, columns);
  for (const u of byExt) found.set(identifierKey({ kind: 'external_id', externalId: u.external_id! }), u);
  for (const u of byAlias) {
    const { alias_name, alias_label, ...user } = u;
    found.set(identifierKey({ kind: 'user_alias', alias: { alias_name, alias_label } }), user as unknown as T);
  }
  for (const u of byId) found.set(identifierKey({ kind: 'braze_id', userId: u.id }), u);
  for (const email of emails) {
    const u = await userByEmail<T>(tx, workspaceId, email, columns);
    if (u) found.set(identifierKey({ kind: 'email', email }), u);
  }
  return found;
}
