/**
 * Data import keys (Braze's partner "client secret"): per workspace and partner, shown once,
 * stored as a SHA-256 hash, rotated or invalidated by the operator. No cache: a rotated-out or
 * invalidated key fails on the very next request.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';
import { generateSecretKey, hashKey } from '../workspaces/index.js';

export interface DataImportKey {
  id: string;
  workspace_id: string;
  partner: string;
  prefix: string;
  state: 'active' | 'rotated' | 'invalidated';
  created_at: Date;
  last_used_at: Date | null;
  ended_at: Date | null;
}

const COLUMNS = 'id, workspace_id, partner, prefix, state, created_at, last_used_at, ended_at';

export async function createImportKey(db: Queryable, workspaceId: string, partner: string): Promise<{ key: string; record: DataImportKey }> {
  const g = generateSecretKey('dik');
  const { rows } = await db.query<DataImportKey>(
    `INSERT INTO data_import_keys (id, workspace_id, partner, prefix, key_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [randomUUID(), workspaceId, partner, g.prefix, g.hash],
  );
  return { key: g.key, record: rows[0]! };
}

export async function listImportKeys(db: Queryable, workspaceId?: string): Promise<DataImportKey[]> {
  const { rows } = await db.query<DataImportKey>(
    `SELECT ${COLUMNS} FROM data_import_keys ${workspaceId ? 'WHERE workspace_id = $1' : ''} ORDER BY created_at, prefix`,
    workspaceId ? [workspaceId] : [],
  );
  return rows;
}

/** Ends an active key by prefix; undefined when there is no active key with that prefix (in that workspace). */
async function endKey(tx: Queryable, prefix: string, state: 'rotated' | 'invalidated', workspaceId?: string): Promise<DataImportKey | undefined> {
  const { rows } = await tx.query<DataImportKey>(
    `UPDATE data_import_keys SET state = $2, ended_at = now()
      WHERE prefix = $1 AND state = 'active' ${workspaceId ? 'AND workspace_id = $3' : ''} RETURNING ${COLUMNS}`,
    workspaceId ? [prefix, state, workspaceId] : [prefix, state],
  );
  return rows[0];
}

export async function invalidateImportKey(db: Queryable, prefix: string, workspaceId?: string): Promise<DataImportKey | undefined> {
  return endKey(db, prefix, 'invalidated', workspaceId);
}

/** Replaces an active key with a new one for the same workspace and partner; the old one stops at once. */
export async function rotateImportKey(
  tx: Queryable,
  prefix: string,
  workspaceId?: string,
): Promise<{ key: string; record: DataImportKey; previous: DataImportKey } | undefined> {
  const previous = await endKey(tx, prefix, 'rotated', workspaceId);
  if (!previous) return undefined;
  const next = await createImportKey(tx, previous.workspace_id, previous.partner);
  await tx.query('UPDATE data_import_keys SET replaced_by = $2 WHERE id = $1', [previous.id, next.record.id]);
  return { ...next, previous };
}

/** The active key record for a presented secret, or undefined. Marks it used (at most once a minute). */
export async function findActiveImportKey(db: Queryable, secret: string): Promise<DataImportKey | undefined> {
  if (secret.length < 8 || secret.length > 256) return undefined;
  const { rows } = await db.query<DataImportKey>(`SELECT ${COLUMNS} FROM data_import_keys WHERE key_hash = $1 AND state = 'active'`, [
    hashKey(secret),
  ]);
  const key = rows[0];
  if (key && (!key.last_used_at || key.last_used_at.getTime() < Date.now() - 60_000)) {
    await db.query('UPDATE data_import_keys SET last_used_at = now() WHERE id = $1', [key.id]);
  }
  return key;
}

export function publicImportKey(k: DataImportKey) {
  return { prefix: k.prefix, partner: k.partner, state: k.state, created_at: k.created_at, last_used_at: k.last_used_at, ended_at: k.ended_at };
}
