/**
 * Users, aliases and devices in the database. Every function takes the transaction it runs in;
 * batch lookups take arrays so a 75-item request costs a handful of round trips, not 75.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';
import { lockClause, type UserLockMode } from './locks.js';
import { STANDARD_FIELDS, type User, type UserAlias } from './types.js';

/** The columns of a `User`, qualified by `table` (dob as text: both drivers would make it a Date). */
function userColumns(table?: string): string {
  const q = table ? `${table}.` : '';
  const cols = ['id', 'workspace_id', 'external_id', 'began_anonymous', ...STANDARD_FIELDS, 'custom_attributes', 'session_count', 'first_session_at', 'last_session_at', 'created_at', 'updated_at'];
  return cols.map((c) => (c === 'dob' ? `to_char(${q}dob, 'YYYY-MM-DD') AS dob` : q + c)).join(', ');
}
export const USER_COLUMNS = userColumns();
const U = userColumns('u');
/** Every column of a `User`, qualified by the alias `u` used by the lookups below. */
export const USER_COLUMNS_OF_U = U;
/** The columns of a `UserRef`: enough to name a user in an event, for lookups that change nothing. */
export const USER_REF_COLUMNS = 'u.id, u.workspace_id, u.external_id, u.time_zone';

export async function usersByExternalIds(tx: Queryable, workspaceId: string, ids: string[]): Promise<User[]>;
export async function usersByExternalIds<T>(tx: Queryable, workspaceId: string, ids: string[], columns: string): Promise<T[]>;
export async function usersByExternalIds(tx: Queryable, workspaceId: string, ids: string[], columns = U): Promise<unknown[]> {
  if (!ids.length) return [];
  const { rows } = await tx.query(
    `SELECT ${columns} FROM users u WHERE u.workspace_id = $1 AND u.external_id = ANY($2::text[])`,
    [workspaceId, ids],
  );
  return rows;
}

/** Users by id, in id order; `lock` takes their row locks in that order (step 3 of the lock order, locks.ts). */
export async function usersByIds(tx: Queryable, workspaceId: string, ids: string[], lock?: UserLockMode | false): Promise<User[]>;
export async function usersByIds<T>(tx: Queryable, workspaceId: string, ids: string[], lock: UserLockMode | false, columns: string): Promise<T[]>;
export async function usersByIds(tx: Queryable, workspaceId: string, ids: string[], lock: UserLockMode | false = false, columns = U): Promise<unknown[]> {
  if (!ids.length) return [];
  const { rows } = await tx.query(
    `SELECT ${columns} FROM users u WHERE u.workspace_id = $1 AND u.id = ANY($2::uuid[]) ORDER BY u.id ${lockClause(lock)}`,
    [workspaceId, ids],
  );
  return rows;
}

export async function usersByAliases(tx: Queryable, workspaceId: string, aliases: UserAlias[]): Promise<Array<User & UserAlias>>;
export async function usersByAliases<T>(tx: Queryable, workspaceId: string, aliases: UserAlias[], columns: string): Promise<Array<T & UserAlias>>;
export async function usersByAliases(tx: Queryable, workspaceId: string, aliases: UserAlias[], columns = U): Promise<unknown[]> {
  if (!aliases.length) return [];
  const { rows } = await tx.query(
    `SELECT ${columns}, a.alias_name, a.alias_label
       FROM unnest($2::text[], $3::text[]) AS q(label, name)
       JOIN user_aliases a ON a.workspace_id = $1 AND a.alias_label = q.label AND a.alias_name = q.name
       JOIN users u ON u.id = a.user_id`,
    [workspaceId, aliases.map((a) => a.alias_label), aliases.map((a) => a.alias_name)],
  );
  return rows;
}

/** Braze's email rule: the most recently updated identified user, else the most recently updated user. */
export async function userByEmail(tx: Queryable, workspaceId: string, email: string): Promise<User | undefined>;
export async function userByEmail<T>(tx: Queryable, workspaceId: string, email: string, columns: string): Promise<T | undefined>;
export async function userByEmail(tx: Queryable, workspaceId: string, email: string, columns = U): Promise<unknown> {
  const { rows } = await tx.query(
    `SELECT ${columns} FROM users u WHERE u.workspace_id = $1 AND lower(u.email) = lower($2)
      ORDER BY (u.external_id IS NOT NULL) DESC, u.updated_at DESC, u.id LIMIT 1`,
    [workspaceId, email.trim()],
  );
  return rows[0];
}

export async function userByDeviceId(tx: Queryable, workspaceId: string, deviceId: string): Promise<User | undefined> {
  const { rows } = await tx.query<User>(
    `SELECT ${U} FROM user_devices d JOIN users u ON u.id = d.user_id WHERE d.workspace_id = $1 AND d.device_id = $2`,
    [workspaceId, deviceId],
  );
  return rows[0];
}

/** device id → the user holding it (id and external id), in one statement. */
export async function usersByDeviceIds(tx: Queryable, workspaceId: string, deviceIds: string[]): Promise<Map<string, { id: string; external_id: string | null }>> {
  const out = new Map<string, { id: string; external_id: string | null }>();
  if (!deviceIds.length) return out;
  const { rows } = await tx.query<{ device_id: string; id: string; external_id: string | null }>(
    `SELECT d.device_id, u.id, u.external_id FROM user_devices d JOIN users u ON u.id = d.user_id
      WHERE d.workspace_id = $1 AND d.device_id = ANY($2::text[])`,
    [workspaceId, deviceIds],
  );
  for (const r of rows) out.set(r.device_id, { id: r.id, external_id: r.external_id });
  return out;
}

export interface NewUser {
  externalId?: string | null;
  email?: string | null;
}

/**
 * Creates users, in the order given (their ordinals follow it). Callers that give external ids
 * hold their identity keys first (step 1 of the lock order, locks.ts), so no other transaction
 * inserts the same key meanwhile and the order of the inserts cannot matter. Should one do so all
 * the same, an `external_id` taken concurrently is not an error: that row is returned instead (ON
 * CONFLICT waits for the other transaction, then reads it). Returns the users in the order of `news`.
 */
export async function createUsers(tx: Queryable, workspaceId: string, news: NewUser[]): Promise<User[]> {
  if (!news.length) return [];
  const ids = news.map(() => randomUUID());
  const { rows } = await tx.query<User>(
    `INSERT INTO users (id, workspace_id, external_id, began_anonymous, email)
     SELECT q.id, $1, q.external_id, q.external_id IS NULL, q.email
       FROM unnest($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS q(id, external_id, email, n)
      ORDER BY q.n
     ON CONFLICT (workspace_id, external_id) DO NOTHING
     RETURNING ${USER_COLUMNS}`,
    [workspaceId, ids, news.map((n) => n.externalId ?? null), news.map((n) => n.email ?? null)],
  );
  if (rows.length === news.length) return orderLike(rows, ids);
  const raced = news.filter((n) => n.externalId && !rows.some((r) => r.external_id === n.externalId)).map((n) => n.externalId!);
  const existing = await usersByExternalIds(tx, workspaceId, raced);
  const byExt = new Map([...rows, ...existing].map((u) => [u.external_id, u]));
  const byId = new Map(rows.map((u) => [u.id, u]));
  return news.map((n, i) => (n.externalId ? byExt.get(n.externalId)! : byId.get(ids[i]!)!));
}

function orderLike(rows: User[], ids: string[]): User[] {
  const byId = new Map(rows.map((u) => [u.id, u]));
  return ids.map((id) => byId.get(id)!);
}

/** Adds an alias; false when the (label, name) pair is already taken or the user has that label. */
export async function insertAlias(tx: Queryable, workspaceId: string, userId: string, alias: UserAlias): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO user_aliases (workspace_id, alias_label, alias_name, user_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [workspaceId, alias.alias_label, alias.alias_name, userId],
  );
  return rowCount === 1;
}

export async function aliasesOfUsers(tx: Queryable, userIds: string[]): Promise<Map<string, UserAlias[]>> {
  const out = new Map<string, UserAlias[]>();
  if (!userIds.length) return out;
  const { rows } = await tx.query<{ user_id: string; alias_name: string; alias_label: string }>(
    `SELECT user_id, alias_name, alias_label FROM user_aliases WHERE user_id = ANY($1::uuid[]) ORDER BY created_at, alias_label`,
    [userIds],
  );
  for (const r of rows) {
    const list = out.get(r.user_id) ?? [];
    list.push({ alias_name: r.alias_name, alias_label: r.alias_label });
    out.set(r.user_id, list);
  }
  return out;
}

export async function devicesOfUsers(tx: Queryable, userIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!userIds.length) return out;
  const { rows } = await tx.query<{ user_id: string; device_id: string }>(
    `SELECT user_id, device_id FROM user_devices WHERE user_id = ANY($1::uuid[]) ORDER BY created_at, device_id`,
    [userIds],
  );
  for (const r of rows) out.set(r.user_id, [...(out.get(r.user_id) ?? []), r.device_id]);
  return out;
}

/** Writes back profiles changed in memory (the caller holds their row locks). */
export async function saveProfiles(tx: Queryable, users: User[]): Promise<void> {
  if (!users.length) return;
  const payload = users.map((u) => {
    const row: Record<string, unknown> = { id: u.id, external_id: u.external_id, custom_attributes: u.custom_attributes };
    for (const f of STANDARD_FIELDS) row[f] = u[f];
    return row;
  });
  await tx.query(
    `UPDATE users u SET
        external_id = r.external_id, email = r.email, phone = r.phone, first_name = r.first_name,
        last_name = r.last_name, gender = r.gender, dob = r.dob, country = r.country,
        language = r.language, home_city = r.home_city, time_zone = r.time_zone,
        email_subscribe = r.email_subscribe, push_subscribe = r.push_subscribe,
        custom_attributes = r.custom_attributes, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, external_id text, email text, phone text,
            first_name text, last_name text, gender text, dob date, country text, language text,
            home_city text, time_zone text, email_subscribe text, push_subscribe text, custom_attributes jsonb)
      WHERE u.id = r.id`,
    [JSON.stringify(payload)],
  );
}

/** Whether the user already has an alias with this label (Braze allows one per label). */
export async function userHasAliasLabel(tx: Queryable, userId: string, label: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM user_aliases WHERE user_id = $1 AND alias_label = $2', [userId, label]);
  return rows.length > 0;
}

/** Sets (merges) custom attributes on one user, as a Canvas's User Update step does. */
export async function mergeCustomAttributes(tx: Queryable, workspaceId: string, userId: string, attributes: Record<string, unknown>): Promise<void> {
  await tx.query(`UPDATE users SET custom_attributes = custom_attributes || $3::jsonb, updated_at = now() WHERE workspace_id = $1 AND id = $2`, [workspaceId, userId, JSON.stringify(attributes)]);
}
