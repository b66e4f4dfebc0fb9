/**
 * The Canvas event listener (docs/reference/canvases.md §3): reads the event log from its own
 * cursor, like the Currents exporter, instead of hooking the track route. For each custom event or
 * purchase it enters users into action-based Canvases, routes entries waiting in an Action Paths
 * window, exits entries whose exit events match (at once: pending work is cancelled) and records
 * conversions. The page and the cursor move commit together, under the cursor row's lock, so with
 * several processes each event is handled once.
 */
import { appendEvents, logHead, readLogPage, type LogCursor, type LogEvent, type StoredEvent } from '../events/index.js';
import { userOrdinals, usersByIds, type User } from '../identity/index.js';
import { getSegment } from '../segments/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { matchesEvent, type CanvasDefinition } from './definition.js';
import { enterUsers, type EngineDeps } from './engine.js';
import { canvasEvent } from './events.js';
import { activeCanvases, ENTRY_COLUMNS, type Canvas, type Entry } from './store.js';

const CURSOR = 'canvases';
const PAGE = 2000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The entries an event can act on (`e`): under way, or entered within the longest conversion window. */
const ACTIONABLE_ENTRY = `e.state = 'active' OR e.entered_at > now() - interval '31 days'`;
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
    // With no Canvas live (or ended within the conversion window) and no entry under way, nothing on
    // the page can matter: scan past it without reading the events (most of a page's cost).
    const page = await readLogPage(tx, cursor, PAGE, undefined, { positionsOnly: !(await anyCanvasListens(tx)) });
    if (page.scanned === 0) return 0;
    const relevant = page.events.filter((e) => RELEVANT.has(e.event_type) && typeof e.user.user_id === 'string');
    if (relevant.length) {
      const canvases = await activeCanvases(tx);
      const events = await concerningCanvases(tx, canvases, relevant);
      if (events.length) await handle(deps, tx, canvases, events);
    }
    await tx.query(`UPDATE canvas_log_cursor SET txid = $2, seq = $3 WHERE name = $1`, [CURSOR, page.end.txid, page.end.seq]);
    return page.scanned;
  });
}

/** Whether any Canvas could react to an event now: one live, paused or ended within 31 days (conversions), or an entry under way. */
async function anyCanvasListens(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ listens: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM canvases WHERE state IN ('active', 'paused') OR (state <> 'draft' AND updated_at > now() - interval '31 days'))
         OR EXISTS (SELECT 1 FROM canvas_entries WHERE state = 'active') AS listens`,
  );
  return rows[0]?.listens === true;
}

/**
 * The events of users a Canvas could act on: users with an entry (the rows `entriesOf` reads) and
 * users with an event that matches a live action-based entry (all their events: a later one may act
 * on the entry an earlier one makes). Most tracked events concern no Canvas; they cost this one
 * light query for the page instead of reading their users (`/users/track` carries the difference).
 */
async function concerningCanvases(tx: Queryable, canvases: Canvas[], events: StoredEvent[]): Promise<StoredEvent[]> {
  const keys = new Map<string, [string, string]>();
  // Ids that are not UUIDs (an event published for a user the store never had) have no entries.
  for (const e of events) if (UUID.test(e.user.user_id!)) keys.set(userKey(e.workspace_id, e.user.user_id!), [e.workspace_id, e.user.user_id!]);
  const concerned = new Set<string>();
  if (keys.size) {
    const { rows } = await tx.query<{ workspace_id: string; user_id: string }>(
      `SELECT DISTINCT e.workspace_id, e.user_id
         FROM unnest($1::uuid[], $2::uuid[]) AS k(ws, uid)
         JOIN canvas_entries e ON e.workspace_id = k.ws AND e.user_id = k.uid
        WHERE ${ACTIONABLE_ENTRY}`,
      [[...keys.values()].map((k) => k[0]), [...keys.values()].map((k) => k[1])],
    );
    for (const r of rows) concerned.add(userKey(r.workspace_id, r.user_id));
  }
  const actionEntries = canvases.filter((c) => c.definition.entry.type === 'action');
  for (const e of events) {
    if (actionEntries.some((c) => c.workspace_id === e.workspace_id && c.definition.entry.type === 'action' && matchesEvent(c.definition.entry.event, e))) concerned.add(userKey(e.workspace_id, e.user.user_id!));
  }
  return events.filter((e) => concerned.has(userKey(e.workspace_id, e.user.user_id!)));
}

/** The properties a tracked event carried (Braze's `event_properties`). */
function eventProperties(e: StoredEvent): Record<string, unknown> {
  const p = e.properties.custom_properties ?? e.properties.purchase_properties;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

const userKey = (ws: string, userId: string) => `${ws}:${userId}`;

/** Entries of the page's users: active ones, and recent ones (conversions), in one query. */
async function entriesOf(tx: Queryable, keys: Array<[string, string]>, exclude: Set<string> = new Set()): Promise<Map<string, Entry[]>> {
  const out = new Map<string, Entry[]>();
  if (!keys.length) return out;
  const { rows } = await tx.query<Entry>(
    `SELECT ${ENTRY_COLUMNS.split(', ').map((c) => `e.${c}`).join(', ')}
       FROM unnest($1::uuid[], $2::uuid[]) AS k(ws, uid)
       JOIN canvas_entries e ON e.workspace_id = k.ws AND e.user_id = k.uid
      WHERE ${ACTIONABLE_ENTRY}`,
    [keys.map((k) => k[0]), keys.map((k) => k[1])],
  );
  for (const r of rows) {
    if (exclude.has(r.id)) continue;
    const k = userKey(r.workspace_id, r.user_id);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** Users of a segment among `userIds` (one evaluation and one ordinal lookup for the whole page). */
async function segmentHolds(deps: EngineDeps, tx: Queryable, ws: string, segmentId: string, userIds: string[]): Promise<Set<string>> {
  const segment = await getSegment(tx, ws, segmentId);
  if (!segment) return new Set();
  const [members, ordinals] = await Promise.all([deps.members(ws, segment.filter, deps.now()), userOrdinals(tx, ws, userIds)]);
  return new Set(userIds.filter((id) => {
    const o = ordinals.get(id);
    return o !== undefined && members.has(o);
  }));
}

/** What a page does to entries, gathered in memory and written set-based at the end. */
class PageWrites {
  /** Action Paths routes, by entry (the first matching event wins). */
  readonly routes = new Map<string, { next: string | null; step_id: string; props: Record<string, unknown> }>();
  /** Exits by event, by entry, with their event. */
  readonly exits = new Map<string, LogEvent>();
  /** Conversion credits (entry:behavior) with the event written if the credit is new. */
  readonly credits = new Map<string, { entry_id: string; workspace_id: string; behavior: number; event: LogEvent }>();
}

/**
 * The definitions and names of the page's entries' Canvases, read through the page's transaction in
 * one statement each (an embedded store has one connection: a read outside the transaction would
 * wait for it).
 */
class Lookups {
  readonly defs = new Map<string, CanvasDefinition>();
  readonly names = new Map<string, string>();
  constructor(canvases: Canvas[]) {
    for (const c of canvases) {
      this.names.set(c.id, c.name);
      this.defs.set(`${c.id}:${c.version}`, c.definition);
    }
  }

  async load(tx: Queryable, entries: Entry[]): Promise<void> {
    const pairs = new Map<string, [string, number]>();
    for (const e of entries) if (!this.defs.has(`${e.canvas_id}:${e.version}`)) pairs.set(`${e.canvas_id}:${e.version}`, [e.canvas_id, e.version]);
    if (pairs.size) {
      const { rows } = await tx.query<{ canvas_id: string; version: number; definition: CanvasDefinition }>(
        `SELECT v.canvas_id, v.version, v.definition FROM unnest($1::uuid[], $2::int[]) AS k(c, v) JOIN canvas_versions v ON v.canvas_id = k.c AND v.version = k.v`,
        [[...pairs.values()].map((p) => p[0]), [...pairs.values()].map((p) => p[1])],
      );
      for (const r of rows) this.defs.set(`${r.canvas_id}:${r.version}`, r.definition);
    }
    const ids = [...new Set(entries.map((e) => e.canvas_id).filter((id) => !this.names.has(id)))];
    if (ids.length) {
      const { rows } = await tx.query<{ id: string; name: string }>(`SELECT id, name FROM canvases WHERE id = ANY($1::uuid[])`, [ids]);
      for (const r of rows) this.names.set(r.id, r.name);
    }
  }
}

/**
 * Applies one event to a user's entries in memory (conversions, an exit by event, an Action Paths
 * route); the entries' state is updated so that later events of the page see it.
 */
function applyEvent(lookups: Lookups, user: User, entries: Entry[], e: StoredEvent, writes: PageWrites): void {
  const ws = e.workspace_id;
  for (const entry of entries) {
    const def = lookups.defs.get(`${entry.canvas_id}:${entry.version}`);
    if (!def) continue;
    const name = lookups.names.get(entry.canvas_id) ?? entry.canvas_id;
    const step = def.steps.find((s) => s.id === entry.step_id);
    const variant = entry.variant_id === 'control' ? { id: 'control', name: 'Control' } : def.variant;
    const ctx = { workspaceId: ws, canvas: { id: entry.canvas_id, name }, variant, user, ...(step ? { step: { id: step.id, name: step.name } } : {}) };
    conversions(def, entry, e, ctx, writes);
    if (entry.state !== 'active') continue;
    if (def.exit.events.some((m) => matchesEvent(m, e))) {
      entry.state = 'exited';
      writes.exits.set(entry.id, canvasEvent('users.canvas.exit.PerformedEvent', ctx, entry.id, {}, e.time * 1000));
    } else if (entry.phase === 'listen' && step?.type === 'action_paths') {
      const path = step.paths.find((p) => matchesEvent(p.event, e));
      if (path) {
        entry.phase = 'run';
        entry.step_id = path.next;
        if (path.next === null) entry.state = 'done';
        writes.routes.set(entry.id, { next: path.next, step_id: step.id, props: eventProperties(e) });
      }
    }
  }
}

/**
 * Handles a page's relevant events with a fixed number of statements, whatever their count: one
 * read of the users (per workspace) and of their entries, in-memory matching in log order, then one
 * statement each for the routes, the exits and the conversion credits, an entry batch per
 * action-based Canvas, and one append per workspace.
 */
async function handle(deps: EngineDeps, tx: Queryable, canvasList: Canvas[], events: StoredEvent[]): Promise<void> {
  const nowMs = deps.now();
  const canvases = new Map(canvasList.map((c) => [c.id, c]));
  const keys = new Map<string, [string, string]>();
  for (const e of events) keys.set(userKey(e.workspace_id, e.user.user_id!), [e.workspace_id, e.user.user_id!]);
  const byWorkspace = new Map<string, string[]>();
  for (const [ws, id] of keys.values()) {
    const list = byWorkspace.get(ws);
    if (list) list.push(id);
    else byWorkspace.set(ws, [id]);
  }
  const users = new Map<string, User>();
  for (const [ws, ids] of byWorkspace) for (const u of await usersByIds(tx, ws, ids)) users.set(userKey(ws, u.id), u);
  const entries = await entriesOf(tx, [...keys.values()].filter(([ws, id]) => users.has(userKey(ws, id))));
  const lookups = new Lookups(canvasList);
  await lookups.load(tx, [...entries.values()].flat());
  const writes = new PageWrites();

  // Entries first: an event that enters a user is not also an action of the new entry.
  const entering = new Map<string, Array<{ user: User; e: StoredEvent; at: number }>>();
  const actionCanvases = canvasList.filter((c) => c.definition.entry.type === 'action');
  for (const [i, e] of events.entries()) {
    const k = userKey(e.workspace_id, e.user.user_id!);
    const user = users.get(k);
    if (!user) continue;
    applyEvent(lookups, user, entries.get(k) ?? [], e, writes);
    for (const canvas of actionCanvases) {
      const entry = canvas.definition.entry;
      if (canvas.workspace_id !== e.workspace_id || entry.type !== 'action' || !matchesEvent(entry.event, e)) continue;
      const list = entering.get(canvas.id) ?? [];
      // A user enters once per page (the first matching event), as an active entry blocks re-entry.
      if (!list.some((x) => x.user.id === user.id)) list.push({ user, e, at: i });
      entering.set(canvas.id, list);
    }
  }
  const entered: Array<{ key: string; at: number }> = [];
  for (const [canvasId, list] of entering) {
    const canvas = canvases.get(canvasId)!;
    const segmentId = canvas.definition.entry.type === 'action' ? canvas.definition.entry.segment_id : undefined;
    const allowed = segmentId ? await segmentHolds(deps, tx, canvas.workspace_id, segmentId, list.map((x) => x.user.id)) : undefined;
    const chosen = allowed ? list.filter((x) => allowed.has(x.user.id)) : list;
    if (!chosen.length) continue;
    const source = new Map(chosen.map((x) => [x.user.id, x.e]));
    const n = await enterUsers(tx, canvas, chosen.map((x) => x.user), (id) => source.get(id)!.id, (id) => eventProperties(source.get(id)!), nowMs);
    if (n) for (const x of chosen) entered.push({ key: userKey(canvas.workspace_id, x.user.id), at: x.at });
  }
  // Later events of the page reach the entries it made (an exit by event, a conversion).
  if (entered.length) {
    const known = new Set([...entries.values()].flat().map((en) => en.id));
    const fresh = await entriesOf(tx, [...new Set(entered.map((x) => x.key))].map((k) => keys.get(k)!), known);
    await lookups.load(tx, [...fresh.values()].flat());
    const firstAt = new Map<string, number>();
    for (const x of entered) firstAt.set(x.key, Math.min(firstAt.get(x.key) ?? Infinity, x.at));
    for (const [i, e] of events.entries()) {
      const k = userKey(e.workspace_id, e.user.user_id!);
      if (i > (firstAt.get(k) ?? Infinity) && fresh.has(k)) applyEvent(lookups, users.get(k)!, fresh.get(k)!, e, writes);
    }
  }
  await writePage(tx, writes);
}

async function writePage(tx: Queryable, writes: PageWrites): Promise<void> {
  const out = new Map<string, LogEvent[]>();
  const emit = (ws: string, ev: LogEvent) => {
    const list = out.get(ws);
    if (list) list.push(ev);
    else out.set(ws, [ev]);
  };
  if (writes.routes.size) {
    await tx.query(
      `UPDATE canvas_entries e SET step_id = r.next, phase = 'run', state = CASE WHEN r.next IS NULL THEN 'done' ELSE 'active' END,
              due_at = to_timestamp($2::float8 / 1000), visits = e.visits + 1, step_attempts = 0, event_properties = r.props,
              end_reason = CASE WHEN r.next IS NULL THEN 'completed' END, ended_at = CASE WHEN r.next IS NULL THEN now() END,
              lease_owner = NULL, lease_until = NULL
         FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, next text, step_id text, props jsonb)
        WHERE e.id = r.id AND e.state = 'active' AND e.phase = 'listen' AND e.step_id = r.step_id`,
      [JSON.stringify([...writes.routes].map(([id, r]) => ({ id, ...r }))), Date.now()],
    );
  }
  if (writes.exits.size) {
    const { rows } = await tx.query<{ id: string; workspace_id: string }>(
      `UPDATE canvas_entries SET state = 'exited', end_reason = 'performed_event', ended_at = now(), lease_owner = NULL, lease_until = NULL
        WHERE id = ANY($1::uuid[]) AND state = 'active' RETURNING id, workspace_id`,
      [[...writes.exits.keys()]],
    );
    for (const r of rows) emit(r.workspace_id, writes.exits.get(r.id)!);
  }
  if (writes.credits.size) {
    const credits = [...writes.credits.values()];
    const { rows } = await tx.query<{ entry_id: string; behavior: number }>(
      `INSERT INTO canvas_conversions (entry_id, behavior) SELECT * FROM unnest($1::uuid[], $2::int[]) ON CONFLICT DO NOTHING RETURNING entry_id, behavior`,
      [credits.map((c) => c.entry_id), credits.map((c) => c.behavior)],
    );
    const fresh = new Set(rows.map((r) => `${r.entry_id}:${r.behavior}`));
    for (const c of credits) {
      // An experiment's credit counts only with the conversion's own (as one did before the other).
      if (!fresh.has(`${c.entry_id}:${c.behavior}`)) continue;
      if (c.behavior < 0 && !fresh.has(`${c.entry_id}:${-1 - c.behavior}`)) continue;
      emit(c.workspace_id, c.event);
    }
  }
  for (const [ws, events] of out) await appendEvents(tx, ws, events);
}

function conversions(def: CanvasDefinition, entry: Entry, e: StoredEvent, ctx: Parameters<typeof canvasEvent>[1], writes: PageWrites): void {
  const since = e.time * 1000 - entry.entered_at.getTime();
  if (since < 0) return;
  const credit = (behavior: number, event: LogEvent) => {
    const k = `${entry.id}:${behavior}`;
    if (!writes.credits.has(k)) writes.credits.set(k, { entry_id: entry.id, workspace_id: entry.workspace_id, behavior, event });
  };
  for (const [i, c] of def.conversions.entries()) {
    if (since > c.window_seconds * 1000 || !matchesEvent({ kind: c.kind, ...(c.name ? { name: c.name } : {}) }, e)) continue;
    const fields = { conversion_behavior_index: i, conversion_behavior: JSON.stringify(c) };
    credit(i, canvasEvent('users.canvas.Conversion', ctx, entry.id, fields, e.time * 1000, String(i)));
    if (entry.experiment) {
      const x = entry.experiment;
      credit(-1 - i, canvasEvent('users.canvas.experimentstep.Conversion', ctx, entry.id, { ...fields, experiment_step_id: x.step_id, experiment_split_id: x.split_id, experiment_split_name: x.split_name }, e.time * 1000, `x${i}`));
    }
  }
}
