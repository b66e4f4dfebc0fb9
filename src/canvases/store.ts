/** The Canvases capability's tables (migration 100): Canvases, their versions, entries, conversions, the listener's cursor. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';
import type { CanvasDefinition, CanvasInput } from './definition.js';

export type CanvasState = 'draft' | 'active' | 'paused' | 'stopped' | 'archived';

export interface Canvas {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  tags: string[];
  state: CanvasState;
  version: number;
  definition: CanvasDefinition;
  first_entry: Date | null;
  last_entry: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface Entry {
  id: string;
  workspace_id: string;
  canvas_id: string;
  version: number;
  user_id: string;
  variant_id: string;
  entry_properties: Record<string, unknown>;
  event_properties: Record<string, unknown>;
  step_id: string | null;
  phase: 'run' | 'wait' | 'listen';
  state: 'active' | 'done' | 'exited';
  due_at: Date;
  visits: number;
  step_attempts: number;
  experiment: { step_id: string; split_id: string; split_name: string; control: boolean } | null;
  entered_at: Date;
}

const CANVAS = `c.id, c.workspace_id, c.name, c.description, c.tags, c.state, c.version, v.definition, c.first_entry, c.last_entry, c.created_at, c.updated_at`;
const FROM = `canvases c JOIN canvas_versions v ON v.canvas_id = c.id AND v.version = c.version`;
export const ENTRY_COLUMNS = 'id, workspace_id, canvas_id, version, user_id, variant_id, entry_properties, event_properties, step_id, phase, state, due_at, visits, step_attempts, experiment, entered_at';

export async function createCanvas(db: Queryable, workspaceId: string, input: CanvasInput): Promise<string> {
  const id = randomUUID();
  await db.query(`INSERT INTO canvases (id, workspace_id, name, description, tags) VALUES ($1, $2, $3, $4, $5)`, [id, workspaceId, input.name, input.description, JSON.stringify(input.tags)]);
  await db.query(`INSERT INTO canvas_versions (canvas_id, version, definition) VALUES ($1, 1, $2)`, [id, JSON.stringify(input.definition)]);
  return id;
}

/** Replaces the definition: a launched version is never changed, so an edit after launch makes the next version. */
export async function updateCanvas(db: Queryable, canvas: Canvas, input: CanvasInput): Promise<void> {
  const { rows } = await db.query<{ launched: boolean }>(`SELECT launched FROM canvas_versions WHERE canvas_id = $1 AND version = $2`, [canvas.id, canvas.version]);
  const version = rows[0]?.launched ? canvas.version + 1 : canvas.version;
  await db.query(
    `INSERT INTO canvas_versions (canvas_id, version, definition, launched) VALUES ($1, $2, $3, $4)
     ON CONFLICT (canvas_id, version) DO UPDATE SET definition = EXCLUDED.definition`,
    [canvas.id, version, JSON.stringify(input.definition), canvas.state === 'active'],
  );
  await db.query(`UPDATE canvases SET name = $2, description = $3, tags = $4, version = $5, updated_at = now() WHERE id = $1`, [canvas.id, input.name, input.description, JSON.stringify(input.tags), version]);
}

export async function getCanvas(db: Queryable, workspaceId: string, id: string, lock = false): Promise<Canvas | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await db.query<Canvas>(`SELECT ${CANVAS} FROM ${FROM} WHERE c.workspace_id = $1 AND c.id = $2${lock ? ' FOR UPDATE OF c' : ''}`, [workspaceId, id]);
  return rows[0];
}

export async function listCanvases(db: Queryable, workspaceId: string, opts: { limit: number; offset: number; includeArchived: boolean; desc: boolean }): Promise<Canvas[]> {
  const { rows } = await db.query<Canvas>(
    `SELECT ${CANVAS} FROM ${FROM} WHERE c.workspace_id = $1 AND ($4 OR c.state <> 'archived')
      ORDER BY c.created_at ${opts.desc ? 'DESC' : 'ASC'}, c.id LIMIT $2 OFFSET $3`,
    [workspaceId, opts.limit, opts.offset, opts.includeArchived],
  );
  return rows;
}

export async function activeCanvases(db: Queryable): Promise<Canvas[]> {
  const { rows } = await db.query<Canvas>(`SELECT ${CANVAS} FROM ${FROM} WHERE c.state = 'active'`);
  return rows;
}

export async function setCanvasState(db: Queryable, id: string, state: CanvasState): Promise<void> {
  await db.query(`UPDATE canvases SET state = $2, updated_at = now() WHERE id = $1`, [id, state]);
  if (state === 'active') await db.query(`UPDATE canvas_versions SET launched = true WHERE canvas_id = $1 AND version = (SELECT version FROM canvases WHERE id = $1)`, [id]);
}

export async function versionDefinition(db: Queryable, canvasId: string, version: number): Promise<CanvasDefinition | undefined> {
  const { rows } = await db.query<{ definition: CanvasDefinition }>(`SELECT definition FROM canvas_versions WHERE canvas_id = $1 AND version = $2`, [canvasId, version]);
  return rows[0]?.definition;
}

export interface NewEntry {
  id: string;
  user_id: string;
  variant_id: string;
  entry_properties: Record<string, unknown>;
  step_id: string | null;
  state: 'active' | 'done';
}

/**
 * Writes entries once (ids are UUIDv5 of Canvas, user and the entry's source); returns the ids
 * written now. A user already active in the Canvas, or whose last entry is within the re-entry
 * gap, is not entered again.
 */
export async function insertEntries(db: Queryable, canvas: Canvas, entries: NewEntry[], dueMs: number, reEntrySeconds: number | null): Promise<Set<string>> {
  if (!entries.length) return new Set();
  // Users active in the Canvas, or entered within the re-entry gap, are left out. One lookup per
  // batch by (workspace, user, canvas), not a correlated check per row, so entry stays linear.
  const { rows: blocked } = await db.query<{ user_id: string }>(
    `SELECT DISTINCT user_id FROM canvas_entries
      WHERE workspace_id = $1 AND user_id = ANY($3::uuid[]) AND canvas_id = $2
        AND (state = 'active' OR $5::float8 IS NULL OR entered_at > to_timestamp($4::float8 / 1000 - $5::float8))`,
    [canvas.workspace_id, canvas.id, entries.map((e) => e.user_id), dueMs, reEntrySeconds],
  );
  const skip = new Set(blocked.map((r) => r.user_id));
  const fresh = entries.filter((e) => !skip.has(e.user_id));
  if (!fresh.length) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO canvas_entries (id, workspace_id, canvas_id, version, user_id, variant_id, entry_properties, step_id, state, due_at, entered_at)
     SELECT e.id, $1, $2, $3, e.user_id, e.variant_id, e.entry_properties, e.step_id, e.state, to_timestamp($5::float8 / 1000), to_timestamp($5::float8 / 1000)
       FROM jsonb_to_recordset($4::jsonb) AS e(id uuid, user_id uuid, variant_id text, entry_properties jsonb, step_id text, state text)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [canvas.workspace_id, canvas.id, canvas.version, JSON.stringify(fresh), dueMs],
  );
  if (rows.length) {
    await db.query(`UPDATE canvases SET first_entry = coalesce(first_entry, to_timestamp($2::float8 / 1000)), last_entry = to_timestamp($2::float8 / 1000) WHERE id = $1`, [canvas.id, dueMs]);
  }
  return new Set(rows.map((r) => r.id));
}

export async function countEntries(db: Queryable, canvasId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM canvas_entries WHERE canvas_id = $1`, [canvasId]);
  return rows[0]!.n;
}

/** Claims active entries due by `nowMs` for this worker (leases; rows another worker holds are skipped). */
export async function claimDue(db: Queryable, owner: string, nowMs: number, limit: number, leaseMs: number): Promise<Entry[]> {
  const { rows } = await db.query<Entry>(
    `UPDATE canvas_entries e SET lease_owner = $1, lease_until = now() + make_interval(secs => $4::float8 / 1000)
      WHERE e.id IN (SELECT id FROM canvas_entries
                      WHERE state = 'active' AND due_at <= to_timestamp($2::float8 / 1000) AND (lease_until IS NULL OR lease_until < now())
                        AND canvas_id IN (SELECT id FROM canvases WHERE state = 'active')
                      ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING ${ENTRY_COLUMNS.split(', ').map((c) => `e.${c}`).join(', ')}`,
    [owner, nowMs, limit, leaseMs],
  );
  return rows;
}

export async function releaseEntries(db: Queryable, owner: string): Promise<void> {
  await db.query(`UPDATE canvas_entries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, [owner]);
}

/** Per step: users in it now, and entries that ended or exited there. */
export async function stepStats(db: Queryable, canvasId: string): Promise<Array<{ step_id: string | null; state: string; count: number }>> {
  const { rows } = await db.query<{ step_id: string | null; state: string; count: number }>(
    `SELECT step_id, state, count(*)::int AS count FROM canvas_entries WHERE canvas_id = $1 GROUP BY step_id, state ORDER BY step_id, state`,
    [canvasId],
  );
  return rows;
}
