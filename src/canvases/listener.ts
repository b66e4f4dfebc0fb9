/**
 * The Canvas event listener (docs/reference/canvases.md §3): reads the event log from its own
 * cursor, like the Currents exporter, instead of hooking the track route. For each custom event or
 * purchase it enters users into action-based Canvases, routes entries waiting in an Action Paths
 * window, exits entries whose exit events match (at once: pending work is cancelled) and records
 * conversions. The page and the cursor move commit together, under the cursor row's lock, so with
 * several processes each event is handled once.
 */
import { appendEvents, logHead, readLogPage, type LogCursor, type LogEvent, type StoredEvent } from '../events/index.js';
import { usersByIds } from '../identity/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { matchesEvent, type CanvasDefinition } from './definition.js';
import { enterUsers, inSegment, type EngineDeps } from './engine.js';
import { canvasEvent } from './events.js';
import { activeCanvases, ENTRY_COLUMNS, type Canvas, type Entry } from './store.js';

const CURSOR = 'canvases';
const PAGE = 2000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RELEVANT = new Set(['users.behaviors.CustomEvent', 'users.behaviors.Purchase']);

/** Creates the cursor at the log's head the first time (history before the first start is not replayed). */
export async function ensureCursor(db: Db): Promise<void> {
  const head = await logHead(db);
  await db.query(`INSERT INTO canvas_log_cursor (name, txid, seq) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [CURSOR, head.txid, head.seq]);
}

/** Handles one page of the log; returns how many events were scanned (0: caught up, or another process holds the cursor). */
export async function listenOnce(deps: EngineDeps, db: Db): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ txid: string; seq: string }>(`SELECT txid, seq FROM canvas_log_cursor WHERE name = $1 FOR UPDATE SKIP LOCKED`, [CURSOR]);
    if (!rows.length) return 0;
    const cursor: LogCursor = { txid: rows[0]!.txid, seq: Number(rows[0]!.seq) };
    const page = await readLogPage(tx, cursor, PAGE);
    if (page.scanned === 0) return 0;
    const events = page.events.filter((e) => RELEVANT.has(e.event_type) && typeof e.user.user_id === 'string');
    if (events.length) {
      const canvases = await activeCanvases(tx);
      // Most tracked events concern no Canvas: only users already in one (for exits, Action Paths and
      // conversions) and events that match an action-based entry need the per-event work below.
      const inCanvas = await usersWithEntries(tx, events);
      for (const e of events) {
        const key = `${e.workspace_id}/${e.user.user_id!}`;
        if (!inCanvas.has(key) && !canvases.some((c) => c.workspace_id === e.workspace_id && c.definition.entry.type === 'action' && matchesEvent(c.definition.entry.event, e))) continue;
        await handle(deps, tx, canvases, e);
        inCanvas.add(key); // a later event of the page may concern the entry this one made
      }
    }
    await tx.query(`UPDATE canvas_log_cursor SET txid = $2, seq = $3 WHERE name = $1`, [CURSOR, page.end.txid, page.end.seq]);
    return page.scanned;
  });
}

/** `workspace/user` of the page's users with an entry the listener could act on (the same rows `handle` reads), in one query. */
async function usersWithEntries(tx: Queryable, events: StoredEvent[]): Promise<Set<string>> {
  // Ids that are not UUIDs (an event published for a user the store never had) have no entries.
  const pairs = new Map(events.filter((e) => UUID.test(e.user.user_id!)).map((e) => [`${e.workspace_id}/${e.user.user_id!}`, e]));
  if (!pairs.size) return new Set();
  const { rows } = await tx.query<{ workspace_id: string; user_id: string }>(
    `SELECT DISTINCT e.workspace_id, e.user_id FROM canvas_entries e
       JOIN unnest($1::uuid[], $2::uuid[]) AS p(workspace_id, user_id) ON e.workspace_id = p.workspace_id AND e.user_id = p.user_id
      WHERE e.state = 'active' OR e.entered_at > now() - interval '31 days'`,
    [[...pairs.values()].map((e) => e.workspace_id), [...pairs.values()].map((e) => e.user.user_id!)],
  );
  return new Set(rows.map((r) => `${r.workspace_id}/${r.user_id}`));
}

/** The properties a tracked event carried (Braze's `event_properties`). */
function eventProperties(e: StoredEvent): Record<string, unknown> {
  const p = e.properties.custom_properties ?? e.properties.purchase_properties;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

async function handle(deps: EngineDeps, tx: Queryable, canvases: Canvas[], e: StoredEvent): Promise<void> {
  const userId = e.user.user_id!;
  const ws = e.workspace_id;
  const nowMs = deps.now();
  const [user] = await usersByIds(tx, ws, [userId]);
  if (!user) return;
  // Entries first: an event that enters a user is not also an action of the new entry.
  const { rows: entries } = await tx.query<Entry>(`SELECT ${ENTRY_COLUMNS} FROM canvas_entries WHERE workspace_id = $1 AND user_id = $2 AND (state = 'active' OR entered_at > now() - interval '31 days')`, [ws, userId]);
  const names = new Map(canvases.map((c) => [c.id, c.name]));
  for (const entry of entries) {
    const def = await deps.definition(entry.canvas_id, entry.version);
    if (!def) continue;
    const name = names.get(entry.canvas_id) ?? (await deps.canvasName(entry.canvas_id));
    const step = def.steps.find((s) => s.id === entry.step_id);
    const variant = entry.variant_id === 'control' ? { id: 'control', name: 'Control' } : def.variant;
    const ctx = { workspaceId: ws, canvas: { id: entry.canvas_id, name }, variant, user, ...(step ? { step: { id: step.id, name: step.name } } : {}) };
    const out: LogEvent[] = [];
    await conversions(tx, def, entry, e, ctx, out);
    if (entry.state === 'active') {
      if (def.exit.events.some((m) => matchesEvent(m, e))) {
        const { rowCount } = await tx.query(`UPDATE canvas_entries SET state = 'exited', end_reason = 'performed_event', ended_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'active'`, [entry.id]);
        if (rowCount) out.push(canvasEvent('users.canvas.exit.PerformedEvent', ctx, entry.id, {}, e.time * 1000));
      } else if (entry.phase === 'listen' && step?.type === 'action_paths') {
        const path = step.paths.find((p) => matchesEvent(p.event, e));
        if (path) {
          const next = path.next;
          await tx.query(
            `UPDATE canvas_entries SET step_id = $2, phase = 'run', state = $3, due_at = to_timestamp($4::float8 / 1000), visits = visits + 1, step_attempts = 0,
                    event_properties = $5, end_reason = $6, ended_at = CASE WHEN $3 = 'done' THEN now() END, lease_owner = NULL, lease_until = NULL
              WHERE id = $1 AND state = 'active' AND phase = 'listen' AND step_id = $7`,
            [entry.id, next, next === null ? 'done' : 'active', nowMs, JSON.stringify(eventProperties(e)), next === null ? 'completed' : null, step.id],
          );
        }
      }
    }
    await appendEvents(tx, ws, out);
  }
  for (const canvas of canvases) {
    const entry = canvas.definition.entry;
    if (canvas.workspace_id !== ws || entry.type !== 'action' || !matchesEvent(entry.event, e)) continue;
    if (entry.segment_id && !(await inSegment(deps, ws, entry.segment_id, userId))) continue;
    await enterUsers(tx, canvas, [user], e.id, () => eventProperties(e), nowMs);
  }
}

async function conversions(tx: Queryable, def: CanvasDefinition, entry: Entry, e: StoredEvent, ctx: Parameters<typeof canvasEvent>[1], out: LogEvent[]): Promise<void> {
  const since = e.time * 1000 - entry.entered_at.getTime();
  if (since < 0) return;
  const credit = async (behavior: number) => (await tx.query(`INSERT INTO canvas_conversions (entry_id, behavior) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [entry.id, behavior])).rowCount === 1;
  for (const [i, c] of def.conversions.entries()) {
    if (since > c.window_seconds * 1000 || !matchesEvent({ kind: c.kind, ...(c.name ? { name: c.name } : {}) }, e)) continue;
    if (!(await credit(i))) continue;
    const fields = { conversion_behavior_index: i, conversion_behavior: JSON.stringify(c) };
    out.push(canvasEvent('users.canvas.Conversion', ctx, entry.id, fields, e.time * 1000, String(i)));
    if (entry.experiment) {
      const x = entry.experiment;
      if (await credit(-1 - i)) out.push(canvasEvent('users.canvas.experimentstep.Conversion', ctx, entry.id, { ...fields, experiment_step_id: x.step_id, experiment_split_id: x.split_id, experiment_split_name: x.split_name }, e.time * 1000, `x${i}`));
    }
  }
}
