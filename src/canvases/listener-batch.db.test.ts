/**
 * The Canvas listener's cost does not grow with the events of a page (docs/reference/canvases.md
 * §3): a page of tracked events for many users in a live Canvas (Action Paths routes, exits by
 * event, conversions) is handled with a fixed number of statements, and each event's effect lands
 * once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, LOG_START, readLogPage, type LogEvent } from '../events/index.js';
import { createUsers } from '../identity/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { checkCanvasBody } from './definition.js';
import { enterUsers, type EngineDeps } from './engine.js';
import { ensureCursor, listenOnce } from './listener.js';
import { createCanvas, getCanvas, setCanvasState, versionDefinition } from './store.js';
import { CanvasWorker } from './worker.js';

const USERS = 300;
let t: TestDb;

beforeAll(async () => {
  t = await openTestDb({ migrate: true });
}, 120_000);
afterAll(async () => t?.drop());

/** `db` with every statement counted, inside transactions too. */
function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const wrap = <T extends Queryable>(q: T): T =>
    new Proxy(q, {
      get(target, prop, receiver) {
        if (prop === 'query') return (...args: unknown[]) => (n++, (target.query as (...a: unknown[]) => unknown)(...args));
        if (prop === 'transaction') return (fn: (tx: Queryable) => Promise<unknown>) => (target as unknown as Db).transaction((tx) => fn(wrap(tx)));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  return { db: wrap(db), count: () => n };
}

describe(`the Canvas listener on ${TEST_BACKEND}`, () => {
  it(`handles a page of ${USERS * 2} events with a fixed number of statements`, async () => {
    const { db } = t;
    const ws = (await ensureWorkspace(db, 'default')).id;
    const checked = checkCanvasBody({
      name: 'Listens',
      entry: { type: 'api' },
      from: { address: 'a@b.co' },
      exit: { events: [{ kind: 'custom_event', name: 'quit' }] },
      conversions: [{ kind: 'custom_event', name: 'buy', window_seconds: 86_400 }],
      steps: [{ id: 'act', type: 'action_paths', window_seconds: 86_400, paths: [{ name: 'Bought', event: { kind: 'custom_event', name: 'buy' }, next: null }], everyone_else: null }],
    });
    expect(checked.problems).toBeUndefined();
    const id = await db.transaction((tx) => createCanvas(tx, ws, checked.input!));
    await setCanvasState(db, id, 'active');
    const canvas = (await getCanvas(db, ws, id))!;
    const entered = Date.now() - 60_000;
    const users = await db.transaction(async (tx) => {
      const made = await createUsers(tx, ws, Array.from({ length: USERS }, (_, i) => ({ externalId: `l${i}` })));
      await enterUsers(tx, canvas, made, 'test', () => ({}), entered);
      return made;
    });
    const deps: EngineDeps = {
      db,
      now: Date.now,
      smtp: { url: 'smtp://127.0.0.1:9' },
      sendEmail: async () => ({ kind: 'delivered', response: '250' }),
      publicUrl: 'http://127.0.0.1',
      trackingSecret: () => Buffer.alloc(32),
      members: async () => {
        throw new Error('no segments here');
      },
      definition: (c, v) => versionDefinition(db, c, v),
      canvasName: async () => 'Listens',
    };
    // Everyone waits in the Action Paths window.
    await new CanvasWorker(deps, { pollMs: 60_000, leaseMs: 30_000, concurrency: 4, batch: 1000 }, (e) => expect.fail(String(e)), false).tick();
    await ensureCursor(db);
    // Half buy (route + conversion), half quit (exit); each also sends an unrelated event, and the
    // buyers buy twice (one route, one conversion).
    const time = Math.floor(Date.now() / 1000);
    const ev = (userId: string, name: string): LogEvent => ({ event_type: 'users.behaviors.CustomEvent', id: randomUUID(), time, user: { user_id: userId }, properties: { name } });
    const events = users.flatMap((u, i) => (i % 2 === 0 ? [ev(u.id, 'buy'), ev(u.id, 'browse'), ev(u.id, 'buy')] : [ev(u.id, 'quit'), ev(u.id, 'browse')]));
    await db.transaction((tx) => appendEvents(tx, ws, events));

    const counted = counting(db);
    // The log shows a transaction's events once it has settled: poll (a page that scans nothing costs two statements and is not counted).
    let scanned = 0;
    let statements = 0;
    const deadline = Date.now() + 120_000;
    while (scanned < events.length && Date.now() < deadline) {
      const before = counted.count();
      const n = await listenOnce({ ...deps, db: counted.db }, counted.db);
      if (n > 0) statements += counted.count() - before;
      else await new Promise((r) => setTimeout(r, 100));
      scanned += n;
    }
    expect(scanned).toBe(events.length);
    // Cursor, page, canvases, users, entries, routes, exits, conversions, append, cursor move.
    expect(statements).toBeLessThanOrEqual(14);

    const { rows } = await db.query<{ state: string; end_reason: string; n: number }>(`SELECT state, end_reason, count(*)::int AS n FROM canvas_entries WHERE canvas_id = $1 GROUP BY 1, 2 ORDER BY 1`, [id]);
    expect(rows).toEqual([
      { state: 'done', end_reason: 'completed', n: USERS / 2 },
      { state: 'exited', end_reason: 'performed_event', n: USERS / 2 },
    ]);
    // The listener's own events (exits, conversions) come round on the log and change nothing.
    const drainUntil = Date.now() + 120_000;
    let more = 0;
    while (more < USERS && Date.now() < drainUntil) {
      const n = await listenOnce(deps, db);
      if (n === 0) await new Promise((r) => setTimeout(r, 100));
      more += n;
    }
    const logged = (await readLogPage(db, LOG_START, 20_000, ws)).events;
    expect(logged.filter((e) => e.event_type === 'users.canvas.exit.PerformedEvent').length).toBe(USERS / 2);
    expect(logged.filter((e) => e.event_type === 'users.canvas.Conversion').length).toBe(USERS / 2);
  }, 300_000);
});
