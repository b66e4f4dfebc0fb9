/**
 * Connectors in the database. Credentials and the project token are sealed with the master key
 * before they reach SQL, and only their last four characters are kept in clear (`credential_hints`).
 * Operator changes bump `version`, which the running exporters watch; the engine's own columns
 * (cursor, health, lease) are written by the delivery code, never here.
 */
import { randomUUID } from 'node:crypto';
import { LOG_START, logHead, type LogCursor } from '../../events/index.js';
import { hint, type SecretBox } from '../../secrets/index.js';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../../storage/index.js';
import type { Queryable } from '../../storage/index.js';
import type { MixpanelExportInput, Region, SealedSecrets } from './settings.js';

export type ConnectorHealth = 'ok' | 'failed' | 'degraded';
export type ConnectorState = 'active' | 'paused' | 'failed' | 'degraded';

export interface Connector {
  id: string;
  workspaceId: string;
  name: string;
  contactEmail: string;
  credentialKind: 'service_account' | 'api_secret';
  credentialHints: Record<string, string>;
  projectId: string | null;
  region: Region;
  baseUrl: string | null;
  eventTypes: string[];
  partnerId: string;
  batchByteCap: number;
  maxInFlight: number;
  paused: boolean;
  health: ConnectorHealth;
  incidentStartedAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  cursor: LogCursor;
  cursorMovedAt: Date | null;
  retries: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface ConnectorRow {
  id: string;
  workspace_id: string;
  name: string;
  contact_email: string;
  credential_kind: 'service_account' | 'api_secret';
  credential_hints: Record<string, string>;
  project_id: string | null;
  region: Region;
  base_url: string | null;
  event_types: string[];
  partner_id: string;
  batch_byte_cap: number;
  max_in_flight: number;
  paused: boolean;
  health: ConnectorHealth;
  incident_started_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
  cursor_txid: string;
  cursor_seq: number;
  cursor_moved_at: Date | null;
  retries: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** Every column but the ciphertext: nothing that reads connectors for display ever loads it. */
const COLUMNS = `id, workspace_id, name, contact_email, credential_kind, credential_hints, project_id, region, base_url,
  event_types, partner_id, batch_byte_cap, max_in_flight, paused, health, incident_started_at, last_error, last_error_at,
  cursor_txid::text AS cursor_txid, cursor_seq, cursor_moved_at, retries, version, created_at, updated_at`;

function fromRow(r: ConnectorRow): Connector {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    contactEmail: r.contact_email,
    credentialKind: r.credential_kind,
    credentialHints: r.credential_hints,
    projectId: r.project_id,
    region: r.region,
    baseUrl: r.base_url,
    eventTypes: r.event_types,
    partnerId: r.partner_id,
    batchByteCap: r.batch_byte_cap,
    maxInFlight: r.max_in_flight,
    paused: r.paused,
    health: r.health,
    incidentStartedAt: r.incident_started_at,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
    cursor: { txid: r.cursor_txid, seq: r.cursor_seq },
    cursorMovedAt: r.cursor_moved_at,
    retries: r.retries,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function connectorState(c: Pick<Connector, 'paused' | 'health'>): ConnectorState {
  if (c.paused) return 'paused';
  return c.health === 'ok' ? 'active' : c.health;
}

/** The last four characters of every sealed value, for status and lists. */
export function credentialHints(secrets: SealedSecrets): Record<string, string> {
  const c = secrets.credentials;
  const hints: Record<string, string> =
    c.kind === 'service_account' ? { username: hint(c.username), secret: hint(c.secret) } : { api_secret: hint(c.apiSecret) };
  hints['project_token'] = hint(secrets.projectToken);
  return hints;
}

export async function createConnector(db: Queryable, box: SecretBox, workspaceId: string, input: MixpanelExportInput): Promise<Connector> {
  const start = input.startFrom === 'now' ? await logHead(db) : LOG_START;
  const c = input.secrets.credentials;
  const { rows } = await db.query<ConnectorRow>(
    `INSERT INTO currents_connectors (id, workspace_id, name, contact_email, credential_kind, credentials, credential_hints,
        project_id, region, base_url, event_types, partner_id, batch_byte_cap, max_in_flight, cursor_txid, cursor_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::xid8, $16)
     RETURNING ${COLUMNS}`,
    [
      randomUUID(),
      workspaceId,
      input.name,
      input.contactEmail,
      c.kind,
      box.sealJson(input.secrets),
      JSON.stringify(credentialHints(input.secrets)),
      c.kind === 'service_account' ? c.projectId : null,
      input.region,
      input.baseUrl,
      input.eventTypes,
      input.partnerId,
      input.batchByteCap,
      input.maxInFlight,
      start.txid,
      start.seq,
    ],
  );
  return fromRow(rows[0]!);
}

export async function listConnectors(db: Queryable, workspaceId?: string): Promise<Connector[]> {
  const { rows } = await db.query<ConnectorRow>(
    `SELECT ${COLUMNS} FROM currents_connectors ${workspaceId ? 'WHERE workspace_id = $1' : ''} ORDER BY created_at, id`,
    workspaceId ? [workspaceId] : [],
  );
  return rows.map(fromRow);
}

/** A page of the workspace's connectors, oldest first (GET /admin/currents). */
export async function listConnectorsPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<Connector>> {
  const keys = [{ expr: millis('created_at') }, { expr: 'id' }];
  const rows = await queryPage<ConnectorRow>(db, `SELECT ${COLUMNS} FROM currents_connectors WHERE workspace_id = $1`, [workspaceId], keys, page, (r) => [
    millisKey(r.created_at),
    r.id,
  ]);
  return { items: rows.items.map(fromRow), next_cursor: rows.next_cursor };
}

/** A connector by id, only within `workspaceId` when given (the admin API always gives it). */
export async function getConnector(db: Queryable, id: string, workspaceId?: string): Promise<Connector | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query<ConnectorRow>(
    `SELECT ${COLUMNS} FROM currents_connectors WHERE id = $1 ${workspaceId ? 'AND workspace_id = $2' : ''}`,
    workspaceId ? [id, workspaceId] : [id],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** The decrypted credentials and token; only the delivery engine and the connection test call this. */
export async function openSecrets(db: Queryable, box: SecretBox, id: string): Promise<SealedSecrets> {
  const { rows } = await db.query<{ credentials: Uint8Array }>('SELECT credentials FROM currents_connectors WHERE id = $1', [id]);
  if (!rows[0]) throw new Error(`connector ${id} not found`);
  return box.openJson<SealedSecrets>(Buffer.from(rows[0].credentials));
}

export async function setPaused(db: Queryable, id: string, workspaceId: string | undefined, paused: boolean): Promise<Connector | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query<ConnectorRow>(
    `UPDATE currents_connectors SET paused = $2, version = version + 1, updated_at = now()
      WHERE id = $1 ${workspaceId ? 'AND workspace_id = $3' : ''} RETURNING ${COLUMNS}`,
    workspaceId ? [id, paused, workspaceId] : [id, paused],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/**
 * Replaces a connector's settings and sealed secrets (an operator's update); bumps `version`, so the
 * exporter running it restarts with them at once, from its cursor. When the credentials, token,
 * region or base URL change, a failed or degraded connector is set back to `ok`, so it retries now
 * instead of after its back-off (a wrong setting fixed in place).
 */
export async function updateConnector(db: Queryable, id: string, workspaceId: string, input: MixpanelExportInput & { sealed: Buffer }, reset: boolean): Promise<Connector | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query<ConnectorRow>(
    `UPDATE currents_connectors SET name = $3, contact_email = $4, credential_kind = $5, credentials = $6, credential_hints = $7,
        project_id = $8, region = $9, base_url = $10, event_types = $11, partner_id = $12, batch_byte_cap = $13, max_in_flight = $14,
        health = CASE WHEN $15::boolean THEN 'ok' ELSE health END,
        incident_started_at = CASE WHEN $15::boolean THEN NULL ELSE incident_started_at END,
        version = version + 1, updated_at = now()
      WHERE id = $1 AND workspace_id = $2 RETURNING ${COLUMNS}`,
    [
      id,
      workspaceId,
      input.name,
      input.contactEmail,
      input.secrets.credentials.kind,
      input.sealed,
      JSON.stringify(credentialHints(input.secrets)),
      input.secrets.credentials.kind === 'service_account' ? input.secrets.credentials.projectId : null,
      input.region,
      input.baseUrl,
      input.eventTypes,
      input.partnerId,
      input.batchByteCap,
      input.maxInFlight,
      reset,
    ],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function deleteConnector(db: Queryable, id: string, workspaceId?: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await db.query(
    `DELETE FROM currents_connectors WHERE id = $1 ${workspaceId ? 'AND workspace_id = $2' : ''}`,
    workspaceId ? [id, workspaceId] : [id],
  );
  return rowCount === 1;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(v: string): boolean {
  return UUID.test(v);
}
