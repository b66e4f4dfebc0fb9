/**
 * The store as `openStorage` opens it for the server (the embedded store in its thread on a data
 * dir, or PostgreSQL with the store timeout as statement_timeout): a statement past the timeout and
 * a "disk full" failure (SQLSTATE 53100, raised here by the statement itself) answer as "store
 * unavailable" (503), the latter makes the store not ready, and the probe write makes it ready again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stopProbe: (() => void) | undefined;
import { createTestDatabaseUrl, TEST_BACKEND } from '../test-support/db.js';
import { isStoreUnavailable, migrate, openStorage, startStoreProbe, type Db } from './index.js';

let db: Db;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    db = await openStorage({ databaseUrl: created.url, dataDir: '', timeoutMs: 1_000 });
    cleanup = created.drop;
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-health-'));
    db = await openStorage({ dataDir: dir, timeoutMs: 60_000, minFreeBytes: 0 });
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  await migrate(db);
  stopProbe = startStoreProbe(db);
}, 120_000);
afterAll(async () => {
  stopProbe?.();
  await db?.close();
  await cleanup?.();
});

describe('store failures map to 503 and readiness', () => {
  it.runIf(TEST_BACKEND === 'postgres')('a statement past the store timeout fails as unavailable (57014); migrations are exempt', async () => {
    const err = await db.query('SELECT pg_sleep(3)').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '57014' });
    expect(isStoreUnavailable(err)).toBe(true);
    // A timeout is not a failure of the store: still ready.
    expect(db.health!.ready).toBe(true);
    await db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('statement_timeout', '0', true)`);
      await tx.query('SELECT pg_sleep(1.5)');
    });
  });

  it('a disk-full failure makes the store not ready until a probe write succeeds', async () => {
    const raise = `DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`;
    const err = await db.exec(raise).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '53100' });
    expect(isStoreUnavailable(err)).toBe(true);
    expect(db.health!.ready).toBe(false);
    expect(db.health!.reason).toMatch(/53100/);
    // The probe (every second) writes store_probe and clears it.
    for (let i = 0; i < 150 && !db.health!.ready; i++) await new Promise((r) => setTimeout(r, 100));
    expect(db.health!.ready).toBe(true);
    expect((await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM store_probe')).rows[0]!.n).toBe(1);
  });
});
