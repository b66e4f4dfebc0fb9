import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { migrate } from './migrate.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb();
});
afterAll(() => t.drop());

describe(`storage on ${TEST_BACKEND}`, () => {
  it('reports its backend kind', () => {
    expect(t.db.kind).toBe(TEST_BACKEND);
  });

  it('applies migrations once; a second run applies nothing', async () => {
    const again = await migrate(t.db);
    expect(again).toEqual([]);
    const { rows } = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)[0]).toBe(1);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    await t.db.exec('CREATE TABLE tx_probe (v int)');
    await t.db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_probe VALUES (1)');
    });
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_probe VALUES (2)');
        throw new Error('half way');
      }),
    ).rejects.toThrow('half way');
    const { rows } = await t.db.query<{ v: number }>('SELECT v FROM tx_probe ORDER BY v');
    expect(rows).toEqual([{ v: 1 }]);
  });

  it('parses int8 as numbers and jsonb as objects on both backends', async () => {
    const { rows } = await t.db.query<{ n: number; j: unknown }>(`SELECT 9007199254740991::int8 AS n, $1::jsonb AS j`, [
      JSON.stringify({ a: [1, 'x'] }),
    ]);
    expect(rows[0]).toEqual({ n: 9007199254740991, j: { a: [1, 'x'] } });
  });
});
