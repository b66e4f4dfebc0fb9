/**
 * Identifier → user, in batches. The one place the REST API, cohort import, the publish API and the
 * dashboard turn identifiers into users (cohort import adds its device-id rule on top).
 */
import type { Queryable } from '../storage/index.js';
import { userByEmail, usersByAliases, usersByExternalIds, usersByIds } from './store.js';
import { identifierKey, type Identifier, type User } from './types.js';

/** Existing users for the given identifiers, keyed by `identifierKey`. Missing ones are absent. */
export async function findUsers(tx: Queryable, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, User>> {
  const found = new Map<string, User>();
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
  const byExt = await usersByExternalIds(tx, workspaceId, [...externalIds]);
  const byAlias = await usersByAliases(tx, workspaceId, [...aliases.values()]);
  const byId = await usersByIds(tx, workspaceId, [...userIds]);
  for (const u of byExt) found.set(identifierKey({ kind: 'external_id', externalId: u.external_id! }), u);
  for (const u of byAlias) {
    const { alias_name, alias_label, ...user } = u;
    found.set(identifierKey({ kind: 'user_alias', alias: { alias_name, alias_label } }), user);
  }
  for (const u of byId) found.set(identifierKey({ kind: 'braze_id', userId: u.id }), u);
  for (const email of emails) {
    const u = await userByEmail(tx, workspaceId, email);
    if (u) found.set(identifierKey({ kind: 'email', email }), u);
  }
  return found;
}
