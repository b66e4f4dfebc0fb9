/**
 * The Canvas listener reads every tracked event from the log; what it costs per event when no
 * Canvas listens decides what `/users/track` can carry (docs/reference/canvases.md §3). A page of
 * events for users in no Canvas, with no action-based Canvas live, must cost one lookup for the
 * whole page, not a query per event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendEvents } from '../events/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { openTestDb, type TestDb } from '../test-support/db.js';
import type { EngineDeps } from './engine.js';
import { ensureCursor, listenOnce } from './listener.js';

let t: TestDb;
let workspaceId: string;

beforeAll(async () => {
  t = await openTestDb();
  const { rows } = await t.db.query<{ id: string }>(`INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'listener') RETURNING id`);
  workspaceId = rows[0]!.id;
});

afterAll(async () => {
  await t?.drop();
});

/** The same store, recording every statement run through it (transactions included). */
function recording(db: Db, statements: string[]): Db {
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => (statements.push(sql), q.query(sql, params)),
    exec: (sql) => q.exec(sql),
  });
  return { kind: db.kind, ...wrap(db), transaction: (work) => db.transaction((tx) => work(wrap(tx))), close: () => db.close() };
}

const unused = (name: string) => () => {
  throw new Error(`the listener called ${name} for events no Canvas listens to`);
};

it('handles a page of events for users in no Canvas with one lookup, not a query per event', async () => {
  await ensureCursor(t.db);
  const events = Array.from({ length: 300 }, (_, i) => ({
    event_type: i % 3 ? 'users.behaviors.CustomEvent' : 'users.behaviors.Purchase',
    id: randomUUID(),
    time: Math.floor(Date.now() / 1000),
    user: { user_id: randomUUID(), external_user_id: `u${i}` },
    properties: i % 3 ? { name: 'played' } : { product_id: 'p', price: 1, currency: 'USD' },
  }));
  await t.db.transaction((tx) => appendEvents(tx, workspaceId, events));

  const statements: string[] = [];
  const db = recording(t.db, statements);
  const deps: EngineDeps = {
    db,
    now: Date.now,
    smtp: { url: 'smtp://127.0.0.1:9' },
    sendEmail: unused('sendEmail'),
    publicUrl: 'http://127.0.0.1',
    trackingSecret: unused('trackingSecret'),
    members: unused('members'),
    definition: unused('definition'),
    canvasName: unused('canvasName'),
  };
  // Commits become readable once every older transaction on the server has ended (other test
  // files share it), so read until the whole page has been scanned.
  // Only the calls that scanned are counted: a poll that finds nothing settled costs its own few statements.
  let scanned = 0;
  const counted: string[] = [];
  const deadline = Date.now() + 120_000;
  while (scanned < events.length && Date.now() < deadline) {
    const before = statements.length;
    const n = await listenOnce(deps, db);
    if (n === 0) await new Promise((r) => setTimeout(r, 100));
    else counted.push(...statements.slice(before));
    scanned += n;
  }
  expect(scanned).toBe(events.length);
  const perUser = counted.filter((sql) => /\bFROM users\b|JOIN canvas_entries/.test(sql));
  // At most one lookup of a page's users with entries (none while no Canvas listens); without the filter it was two per event (600).
  expect(perUser.length).toBeLessThanOrEqual(Math.ceil(events.length / 2000));
  expect(counted.length).toBeGreaterThan(0);
});
