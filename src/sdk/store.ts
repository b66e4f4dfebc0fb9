/** SQL of the SDK capability: SDK apps (public keys) and the idempotency ledger of uploaded events. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';
import { generateSecretKey, hashKey } from '../workspaces/index.js';

export interface SdkApp {
  id: string;
  workspace_id: string;
  name: string;
  key_prefix: string;
  allowed_origins: string[];
  created_at: Date;
}

const COLUMNS = 'id, workspace_id, name, key_prefix, allowed_origins, created_at';

export async function createSdkApp(db: Queryable, workspaceId: string, name: string, allowedOrigins: string[]): Promise<{ app: SdkApp; key: string }> {
  const generated = generateSecretKey('rsk');
  const { rows } = await db.query<SdkApp>(
    `INSERT INTO sdk_apps (id, workspace_id, name, key_prefix, key_hash, allowed_origins) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [randomUUID(), workspaceId, name, generated.prefix, generated.hash, allowedOrigins],
  );
  return { app: rows[0]!, key: generated.key };
}

export async function listSdkApps(db: Queryable, workspaceId: string): Promise<SdkApp[]> {
  const { rows } = await db.query<SdkApp>(`SELECT ${COLUMNS} FROM sdk_apps WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`, [workspaceId]);
  return rows;
}

export async function findSdkAppByKey(db: Queryable, key: string): Promise<SdkApp | undefined> {
  const { rows } = await db.query<SdkApp>(`SELECT ${COLUMNS} FROM sdk_apps WHERE key_hash = $1 AND revoked_at IS NULL`, [hashKey(key)]);
  return rows[0];
}

/** Claims client event ids: the ones this upload is the first to bring. */
export async function claimClientEvents(db: Queryable, appId: string, clientEventIds: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ client_event_id: string }>(
    `INSERT INTO sdk_uploaded_events (sdk_app_id, client_event_id) SELECT $1, unnest($2::text[])
     ON CONFLICT DO NOTHING RETURNING client_event_id`,
    [appId, clientEventIds],
  );
  return new Set(rows.map((r) => r.client_event_id));
}

/** Gives claims back when applying their events failed, so a retry may apply them. */
export async function releaseClientEvents(db: Queryable, appId: string, clientEventIds: string[]): Promise<void> {
  if (clientEventIds.length === 0) return;
  await db.query('DELETE FROM sdk_uploaded_events WHERE sdk_app_id = $1 AND client_event_id = ANY($2::text[])', [appId, clientEventIds]);
}
