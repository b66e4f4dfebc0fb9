/**
 * Partner keys live in the database (issue 21): generated once per database and kept only as a
 * hash, accepted by every process on it; a key from a process's environment recorded for the
 * processes without one; the key of an older data dir's `partner-keys.json` carried over.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { MIXPANEL, PartnerRegistry, resolvePartnerKeys } from './partners.js';

const partners = [MIXPANEL];
let t: TestDb | undefined;
const dirs: string[] = [];
const dir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'rivulet-partner-keys-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  t = await openTestDb();
});

beforeEach(async () => {
  await t!.db.query('DELETE FROM partner_api_keys');
});

afterAll(async () => {
  await t?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe(`partner keys in the database (${TEST_BACKEND})`, () => {
  it('are generated once, stored only as a hash, and accepted by every later start', async () => {
    const first = await resolvePartnerKeys(t!.db, partners, {}, await dir());
    expect(first.generated).toHaveLength(1);
    const key = first.generated[0]!.key;
    const stored = await t!.db.query<{ key_hash: Uint8Array; source: string }>('SELECT key_hash, source FROM partner_api_keys');
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.source).toBe('generated');
    expect(Buffer.from(stored.rows[0]!.key_hash).toString('utf8')).not.toContain(key);

    const second = await resolvePartnerKeys(t!.db, partners, {}, await dir());
    expect(second.generated).toEqual([]);
    const registry = new PartnerRegistry(partners, {}, second.hashes);
    expect(registry.verifyPartnerKey('mixpanel', key)).toBe(true);
    expect(registry.verifyPartnerKey('mixpanel', `${key}x`)).toBe(false);
  });

  it("records a process's configured keys for the processes without them, replacing a generated one", async () => {
    const generated = await resolvePartnerKeys(t!.db, partners, {}, await dir());
    const configured = await resolvePartnerKeys(t!.db, partners, { mixpanel: ['pk-env-one', 'pk-env-two'] }, await dir());
    expect(configured.generated).toEqual([]);
    const other = await resolvePartnerKeys(t!.db, partners, {}, await dir());
    expect(other.generated).toEqual([]);
    const registry = new PartnerRegistry(partners, {}, other.hashes);
    expect(registry.verifyPartnerKey('mixpanel', 'pk-env-one')).toBe(true);
    expect(registry.verifyPartnerKey('mixpanel', 'pk-env-two')).toBe(true);
    expect(registry.verifyPartnerKey('mixpanel', generated.generated[0]!.key)).toBe(false);
  });

  it("carries the key of an older data dir's partner-keys.json into the database, printing nothing", async () => {
    const old = await dir();
    await writeFile(join(old, 'partner-keys.json'), JSON.stringify({ mixpanel: 'pk_mixpanel_from_an_older_version' }));
    const carried = await resolvePartnerKeys(t!.db, partners, {}, old);
    expect(carried.generated).toEqual([]);
    const elsewhere = await resolvePartnerKeys(t!.db, partners, {}, await dir());
    expect(new PartnerRegistry(partners, {}, elsewhere.hashes).verifyPartnerKey('mixpanel', 'pk_mixpanel_from_an_older_version')).toBe(true);
  });
});
