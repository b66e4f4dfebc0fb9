/** Workspaces (Braze's app groups) and their REST API keys, in the database. */
import { randomUUID } from 'node:crypto';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../storage/index.js';
import type { Queryable } from '../storage/index.js';
import { generateSecretKey, hashKey, type Permission } from './keys.js';

export const DEFAULT_WORKSPACE = 'default';

export interface Workspace {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeyRecord {
  id: string;
  workspace_id: string;
  name: string;
  prefix: string;
  permissions: Permission[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const KEY_COLUMNS = 'id, workspace_id, name, prefix, permissions, created_at, last_used_at, revoked_at';

/** Returns the workspace with this name, creating it if needed. Safe under concurrency. */
export async function ensureWorkspace(db: Queryable, name: string): Promise<Workspace> {
  await db.query('INSERT INTO workspaces (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [randomUUID(), name]);
  const { rows } = await db.query<Workspace>('SELECT id, name, created_at FROM workspaces WHERE name = $1', [name]);
  return rows[0]!;
}

export async function findWorkspace(db: Queryable, nameOrId: string): Promise<Workspace | undefined> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId);
  const { rows } = await db.query<Workspace>(
    `SELECT id, name, created_at FROM workspaces WHERE name = $1 ${isUuid ? 'OR id = $1::uuid' : ''}`,
    [nameOrId],
  );
  return rows[0];
}

export async function listWorkspaces(db: Queryable): Promise<Workspace[]> {
  return (await db.query<Workspace>('SELECT id, name, created_at FROM workspaces ORDER BY created_at, name')).rows;
}

export interface CreatedKey {
  /** The secret, shown once. */
  key: string;
  record: ApiKeyRecord;
}

export async function createApiKey(
  db: Queryable,
  input: { workspaceId: string; name: string; permissions: Permission[] },
): Promise<CreatedKey> {
  const generated = generateSecretKey('rvk');
  return insertKey(db, input, generated.key, generated.prefix, generated.hash);
}

/**
 * Registers a key chosen by the operator (`RIVULET_API_KEY`). An upsert: the same key seeds once,
 * however many processes start at once. Seeding again re-grants every permission (new ones may
 * have been added by an upgrade) but never brings back a key that was revoked: the record returned
 * then has `revoked_at` set, for the start to say so. The prefix of a seeded key is derived from
 * its hash, so nothing of the secret is stored.
 */
export async function seedApiKey(
  db: Queryable,
  input: { workspaceId: string; name: string; permissions: Permission[] },
  key: string,
): Promise<ApiKeyRecord> {
  const hash = hashKey(key);
  const prefix = `seed_${hash.subarray(0, 5).toString('hex')}`;
  const { rows } = await db.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, permissions)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (key_hash) DO UPDATE SET permissions = EXCLUDED.permissions
     RETURNING ${KEY_COLUMNS}`,
    [randomUUID(), input.workspaceId, input.name, prefix, hash, input.permissions],
  );
  return rows[0]!;
}

async function insertKey(
  db: Queryable,
  input: { workspaceId: string; name: string; permissions: Permission[] },
  key: string,
  prefix: string,
  hash: Buffer,
): Promise<CreatedKey> {
  const { rows } = await db.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, permissions)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${KEY_COLUMNS}`,
    [randomUUID(), input.workspaceId, input.name, prefix, hash, input.permissions],
  );
  return { key, record: rows[0]! };
}

export async function listApiKeys(db: Queryable, workspaceId?: string): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(
    `SELECT ${KEY_COLUMNS} FROM api_keys ${workspaceId ? 'WHERE workspace_id = $1' : ''} ORDER BY created_at`,
    workspaceId ? [workspaceId] : [],
  );
  return rows;
}

/** A page of the workspace's REST API keys, oldest first (GET /admin/keys). */
export function listApiKeysPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<ApiKeyRecord>> {
  const keys = [{ expr: millis('created_at') }, { expr: 'id' }];
  return queryPage<ApiKeyRecord>(db, `SELECT ${KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1`, [workspaceId], keys, page, (k) => [millisKey(k.created_at), k.id]);
}

/** Revokes by prefix. Returns the record, or undefined when no such key exists (in that workspace). */
export async function revokeApiKey(db: Queryable, prefix: string, workspaceId?: string): Promise<ApiKeyRecord | undefined> {
  const { rows } = await db.query<ApiKeyRecord>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
     WHERE prefix = $1 ${workspaceId ? 'AND workspace_id = $2' : ''} RETURNING ${KEY_COLUMNS}`,
    workspaceId ? [prefix, workspaceId] : [prefix],
  );
  return rows[0];
}

export async function findActiveKeyByHash(db: Queryable, hash: Buffer): Promise<ApiKeyRecord | undefined> {
  const { rows } = await db.query<ApiKeyRecord>(
    `SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    [hash],
  );
  return rows[0];
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}
