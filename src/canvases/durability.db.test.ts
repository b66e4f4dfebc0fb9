/**
 * Crash safety of the Canvas workers: users waiting in a Delay, some due; a worker claims a batch
 * and dies half-way (its lease left to expire, as after kill -9); another worker takes over. Every
 * due user advances exactly once (one SplitEntry event each, one transition count), none early,
 * none lost, and the dead worker's late write is refused by the lease fence. The default suite runs
 * 1,000 users on PGlite, 3,000 on PostgreSQL; RIVULET_CANVAS_DURABILITY_USERS=100000 runs the full size (under the heavy lock).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsers } from '../identity/index.js';
import { LOG_START, readLogPage, type LogCursor } from '../events/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { checkCanvasBody } from './definition.js';
import { commitTransition, enterUsers, runEntry, type EngineDeps } from './engine.js';
import { claimDue, createCanvas, getCanvas, setCanvasState, versionDefinition } from './store.js';
import { CanvasWorker } from './worker.js';

const USERS = Number(process.env.RIVULET_CANVAS_DURABILITY_USERS ?? (TEST_BACKEND === 'pglite' ? 1000 : 3000));
let t: TestDb;
let clock = Date.parse('2026-12-07T00:00:00Z');

beforeAll(async () => {
  t = await openTestDb({ migrate: true });
}, 120_000);
afterAll(async () => t?.drop());

async function splitEntries(db: TestDb['db'], ws: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: LogCursor = LOG_START;
  for (;;) {
    const page = await readLogPage(db, cursor, 20_000, ws);
    if (page.scanned === 0) return ids;
    for (const e of page.events) if (e.event_type === 'users.canvas.experimentstep.SplitEntry') ids.push(e.user.user_id!);
    cursor = page.end;
  }
}

describe(`canvas workers survive a crash on ${TEST_BACKEND}`, () => {
  it(`advances ${USERS} waiting users exactly once, none early, none lost`, async () => {
    const { db } = t;
    const ws = (await ensureWorkspace(db, 'default')).id;
    const checked = checkCanvasBody({
      name: 'Durable',
      entry: { type: 'api' },
      from: { address: 'a@b.co' },
      steps: [
        { id: 'wait', type: 'delay', delay: { seconds: 3600 }, next: 'split' },
        { id: 'split', type: 'experiment_paths', paths: [{ id: 'p', name: 'P', percent: 100, next: null }] },
      ],
    });
    expect(checked.problems).toBeUndefined();
    const id = await db.transaction((tx) => createCanvas(tx, ws, checked.input!));
    await setCanvasState(db, id, 'active');
    const canvas = (await getCanvas(db, ws, id))!;
    for (let i = 0; i < USERS; i += 5000) {
      await db.transaction(async (tx) => {
        const users = await createUsers(tx, ws, Array.from({ length: Math.min(5000, USERS - i) }, (_, j) => ({ externalId: `u${i + j}` })));
        await enterUsers(tx, canvas, users, 'test', () => ({}), clock);
      });
    }
    const deps: EngineDeps = {
      db,
      now: () => clock,
      smtp: { url: 'smtp://127.0.0.1:9' },
      sendEmail: async () => ({ kind: 'delivered', response: '250' }),
      publicUrl: 'http://127.0.0.1',
      trackingSecret: () => Buffer.alloc(32),
      members: async () => {
        throw new Error('no segments here');
      },
      definition: (c, v) => versionDefinition(db, c, v),
      canvasName: async () => 'Durable',
    };
    const errors: unknown[] = [];
    const worker = new CanvasWorker(deps, { pollMs: 60_000, leaseMs: 30_000, concurrency: 8, batch: 1000 }, (e) => errors.push(e), false);
    await worker.tick();
    // Everyone waits an hour; then one in ten is moved to be due now and the rest a day later.
    await db.query(`UPDATE canvas_entries SET due_at = due_at + CASE WHEN ('x' || substr(md5(user_id::text), 1, 2))::bit(8)::int % 10 = 0 THEN interval '0' ELSE interval '1 day' END WHERE canvas_id = $1`, [id]);
    const { rows: dueRows } = await db.query<{ user_id: string }>(`SELECT user_id FROM canvas_entries WHERE canvas_id = $1 AND due_at <= to_timestamp($2::float8 / 1000 + 3600)`, [id, clock]);
    const due = new Set(dueRows.map((r) => r.user_id));
    expect(due.size).toBeGreaterThan(USERS / 20);

    // Not yet due: nothing moves.
    clock += 3_599_000;
    expect(await worker.tick()).toBe(0);
    clock += 1000;

    // A worker claims half of the due users with a short lease, runs a few, then dies.
    const dead = 'dead-worker';
    const claimed = await claimDue(db, dead, clock, Math.floor(due.size / 2), 300);
    for (const row of claimed.slice(0, 10)) await runEntry(deps, dead, row);
    const abandoned = claimed[20]!;
    // The survivor runs everything not leased, then (the lease expired) what the dead one held.
    await worker.tick();
    await until(async () => {
      await worker.tick();
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM canvas_entries WHERE canvas_id = $1 AND state = 'done'`, [id]);
      return rows[0]!.n === due.size;
    });
    // The dead worker's late write is refused: the entry is no longer its own.
    expect(await commitTransition(db, { ...abandoned }, dead, { step_id: 'wait', phase: 'wait' }, [])).toBe(false);

    const { rows } = await db.query<{ user_id: string; state: string; visits: number; phase: string }>(`SELECT user_id, state, visits, phase FROM canvas_entries WHERE canvas_id = $1`, [id]);
    const wrong = rows.filter((r) => (due.has(r.user_id) ? r.state !== 'done' || r.visits !== 2 : r.state !== 'active' || r.phase !== 'wait' || r.visits !== 0));
    expect(wrong).toEqual([]);
    const splits = await until(async () => {
      const s = await splitEntries(db, ws);
      return s.length >= due.size ? s : undefined;
    });
    expect(splits.length).toBe(due.size);
    expect(new Set(splits).size).toBe(due.size);
    expect(splits.every((u) => due.has(u))).toBe(true);
    expect(errors).toEqual([]);
  }, 600_000);
});

async function until<T>(probe: () => Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
