/**
 * Data import keys (Braze's partner "client secret"): per workspace and partner, shown once,
 * stored as a SHA-256 hash, rotated or invalidated by the operator. No cache: a rotated-out or
 * invalidated key fails on the very next request.
 */
import { randomUUID } from 'node:crypto';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../storage/index.js';
import type { Queryable } from '../storage/index.js';
import { generateSecretKey, hashKey } from '../workspaces/index.js';
import type { Cohort } from './store.js';

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

/** A page of the workspace's data import keys, oldest first (GET /admin/import-keys). */
export function listImportKeysPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<DataImportKey>> {
  const keys = [{ expr: millis('created_at') }, { expr: 'prefix' }];
  return queryPage<DataImportKey>(db, `SELECT ${COLUMNS} FROM data_import_keys WHERE workspace_id = $1`, [workspaceId], keys, page, (k) => [millisKey(k.created_at), k.prefix]);
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

export interface ImportKeyAccess {
  key: DataImportKey;
  /** Whether the key's workspace has `partner` enabled (a workspace without a setting has). */
  partnerEnabled: boolean;
  /** The key's workspace's cohort of `partner` with the id asked for, if asked and it exists. */
  cohort: Cohort | undefined;
}

/**
 * findActiveImportKey, the partner-enabled check and the cohort lookup of a partner request in one
 * statement (one round trip instead of three). Nothing is cached: a key rotated out or invalidated
 * by any process fails on the very next request.
 */
export async function findImportKeyAccess(db: Queryable, secret: string, partner: string, partnerCohortId: string | null): Promise<ImportKeyAccess | undefined> {
  if (secret.length < 8 || secret.length > 256) return undefined;
  const { rows } = await db.query<DataImportKey & { partner_enabled: boolean } & { [k: `c_${string}`]: any }>(
    `SELECT k.id, k.workspace_id, k.partner, k.prefix, k.state, k.created_at, k.last_used_at, k.ended_at,
            coalesce(ps.enabled, true) AS partner_enabled,
            c.id AS c_id, c.partner_cohort_id AS c_partner_cohort_id, c.name AS c_name, c.description AS c_description,
            c.created_at AS c_created_at, c.updated_at AS c_updated_at, c.last_synced_at AS c_last_synced_at,
            c.last_source AS c_last_source, c.member_count AS c_member_count, c.members_version AS c_members_version
       FROM data_import_keys k
       LEFT JOIN partner_settings ps ON ps.workspace_id = k.workspace_id AND ps.partner = $2
       LEFT JOIN cohorts c ON c.workspace_id = k.workspace_id AND c.partner = $2 AND c.partner_cohort_id = $3
      WHERE k.key_hash = $1 AND k.state = 'active'`,
    [hashKey(secret), partner, partnerCohortId === null ? null : partnerCohortId.normalize('NFC')],
  );
  const r = rows[0];
  if (!r) return undefined;
  const key: DataImportKey = {
    id: r.id,
    workspace_id: r.workspace_id,
    partner: r.partner,
    prefix: r.prefix,
    state: r.state,
    created_at: r.created_at,
    last_used_at: r.last_used_at,
    ended_at: r.ended_at,
  };
  if (!key.last_used_at || key.last_used_at.getTime() < Date.now() - 60_000) {
    await db.query('UPDATE data_import_keys SET last_used_at = now() WHERE id = $1', [key.id]);
  }
  const cohort: Cohort | undefined =
    r.c_id === null
      ? undefined
      : {
          id: r.c_id,
          workspace_id: r.workspace_id,
          partner,
          partner_cohort_id: r.c_partner_cohort_id,
          name: r.c_name,
          description: r.c_description,
          created_at: r.c_created_at,
          updated_at: r.c_updated_at,
          last_synced_at: r.c_last_synced_at,
          last_source: r.c_last_source,
          member_count: r.c_member_count,
          members_version: r.c_members_version,
        };
  return { key, partnerEnabled: r.partner_enabled, cohort };
}

export function publicImportKey(k: DataImportKey) {
  return { prefix: k.prefix, partner: k.partner, state: k.state, created_at: k.created_at, last_used_at: k.last_used_at, ended_at: k.ended_at };
}
