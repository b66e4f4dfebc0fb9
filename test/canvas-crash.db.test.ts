/**
 * `kill -9` of a real `rivulet serve` while it runs a batch of due Canvas timers, then a restart on
 * the same PostgreSQL (docs/reference/canvases.md, "Crash safety"): every due user advances exactly
 * once, none early, none lost, and nobody who was not due moves (test/canvas-crash-drill.ts counts
 * the rows and the log). The suite runs 10,000 waiting with 1,500 due over 4 s; the acceptance size
 * (100,000 waiting, 10,000 due within a second) is `bench/canvas.ts --crash`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { checkDrill, doneCount, seedDrill } from './canvas-crash-drill.js';
import { serve, type ServeProcess } from './cli-process.js';
import { waitFor } from './currents-support.js';

const USERS = Number(process.env.RIVULET_CANVAS_CRASH_USERS ?? 10_000);
const DUE = Number(process.env.RIVULET_CANVAS_CRASH_DUE ?? 1_500);

describe.skipIf(TEST_BACKEND !== 'postgres')('kill -9 of a rivulet serve running Canvas timers', () => {
  let database: { url: string; drop(): Promise<void> };
  let db: Db;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    db = openPostgres({ connectionString: database.url, maxConnections: 4 });
    // Migrated here, so that the first start (within the serve helper's 60 s) only seeds.
    await migrate(db);
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-canvas-crash-'));
    env = {
      RIVULET_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      RIVULET_SEND_POLL_MS: '50',
      // Entries claimed by the killed process are taken over once their lease ends.
      RIVULET_SEND_LEASE_MS: '2000',
    };
  }, 300_000);

  afterAll(async () => {
    await db?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(`${USERS} waiting, ${DUE} due: after the restart each due user advanced exactly once`, { timeout: 600_000 }, async () => {
    let first: ServeProcess | undefined;
    let second: ServeProcess | undefined;
    try {
      first = await serve(env);
      const drill = await seedDrill(db, { users: USERS, due: DUE, startAt: Date.now() + 1000, spreadMs: 4000 });
      // Kill once the first due users are through: the process is in the middle of the due batch.
      await waitFor(async () => (await doneCount(db, drill)) > 0, 'the first due users to advance', 120_000, 20);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = await doneCount(db, drill);
      expect(atKill).toBeLessThan(DUE);

      second = await serve(env);
      await waitFor(async () => (await doneCount(db, drill)) >= DUE, 'every due user to advance after the restart', 120_000, 200);
      // Give the survivor time to do anything wrong (move someone not due, repeat someone).
      await new Promise((r) => setTimeout(r, 1000));
      expect(await checkDrill(db, drill)).toEqual([]);
      console.log(`[canvas crash] ${USERS} waiting, ${DUE} due; killed with ${atKill} done`);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      if (first && first.child.exitCode === null) first.child.kill('SIGKILL');
      if (second && second.child.exitCode === null) second.child.kill('SIGKILL');
    }
  });
});
