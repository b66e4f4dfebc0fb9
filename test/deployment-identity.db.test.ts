/**
 * One identity for a deployment on one PostgreSQL (issue 21, items 3 and 4), with real
 * `rivulet serve` processes:
 * - the first process, started without a master key, generates it and prints how to give it to
 *   the others (`RIVULET_MASTER_KEY=$(cat …/master.key)`, never the key); it generates the partner key, prints it once and stores
 *   only its hash;
 * - a process with another master key, and a process with none on a database that has one, exit
 *   non-zero at start with one line that names the fix;
 * - a process given the printed key starts, accepts the partner key the first one generated (and
 *   generates none), and the key seeded from RIVULET_API_KEY, revoked through the first process,
 *   stays revoked at its start, which says so.
 * And on either backend: a Currents connector whose credentials were sealed under another master key
 * (a deployment from before the check, whose processes each made their own key) shows `failed` with
 * the reason, not `active` without an error; a pull connection likewise.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnector, parseMixpanelExportInput } from '../src/currents/index.js';
import { UNREADABLE_CREDENTIALS } from '../src/currents/delivery/supervisor.js';
import { SecretBox } from '../src/secrets/index.js';
import { createConnection } from '../src/cohorts/pull/connections.js';
import { startRivuletOn, type RivuletOnDb } from '../src/cohorts/pull/testing.js';
import { createTestDatabaseUrl, openTestDb, TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { PERMISSIONS } from '../src/workspaces/index.js';
import { freePort, runCli, serve, type ServeProcess } from './cli-process.js';
import { connectorBody, projectCreds, waitFor } from './currents-support.js';

const SEED = 'deployment-identity-seeded-key-0123456789';
/** Nothing inherited from the test runner's environment. */
const BLANK = { RIVULET_MASTER_KEY: '', RIVULET_PARTNER_API_KEY_MIXPANEL: '', RIVULET_ADMIN_PASSWORD: '', LOG_LEVEL: 'info' };

describe.skipIf(TEST_BACKEND !== 'postgres')('one master key and one set of partner keys per deployment (real processes)', { timeout: 240_000 }, () => {
  let database: { url: string; drop(): Promise<void> };
  let dirA: string;
  let dirB: string;
  const procs: ServeProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    dirA = await mkdtemp(join(tmpdir(), 'rivulet-identity-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'rivulet-identity-b-'));
  });

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await database?.drop();
    for (const d of [dirA, dirB]) if (d) await rm(d, { recursive: true, force: true });
  });

  const call = async (p: ServeProcess, method: string, path: string, key: string | null, body?: unknown) => {
    const res = await fetch(p.url + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  it('the first generates and prints; a wrong or missing key exits with the fix; the printed key joins; a revoked seeded key stays revoked', async () => {
    const a = await serve({ ...BLANK, DATABASE_URL: database.url, RIVULET_DATA_DIR: dirA, RIVULET_API_KEY: SEED });
    procs.push(a);
    // It says how to give the key to the others, and never prints the key itself.
    expect(a.output()).toContain(`RIVULET_MASTER_KEY=$(cat ${join(dirA, 'master.key')})`);
    const printed = (await readFile(join(dirA, 'master.key'), 'utf8')).trim();
    expect(printed.length).toBeGreaterThan(30);
    expect(a.output()).not.toContain(printed);
    const partnerKey = /Generated the mixpanel partner API key[^\n]*\n\s+(\S+)/.exec(a.output())?.[1];
    expect(partnerKey).toMatch(/^pk_mixpanel_/);

    // Another master key: exits non-zero at start, with one line that names the fix.
    const wrong = await runCli(['serve'], { ...BLANK, DATABASE_URL: database.url, RIVULET_DATA_DIR: dirB, RIVULET_MASTER_KEY: 'another-master-key-0123456789abcdef', PORT: String(await freePort()) });
    expect(wrong.code).not.toBe(0);
    const wrongLines = wrong.stderr.split('\n').filter((l) => l.includes('master key'));
    expect(wrongLines).toHaveLength(1);
    expect(wrongLines[0]).toMatch(/^rivulet: RIVULET_MASTER_KEY is not the master key .* set RIVULET_MASTER_KEY to the deployment's master key/);

    // No master key (and no key file) on a database that has one: the same.
    const none = await runCli(['serve'], { ...BLANK, DATABASE_URL: database.url, RIVULET_DATA_DIR: dirB, PORT: String(await freePort()) });
    expect(none.code).not.toBe(0);
    const noneLines = none.stderr.split('\n').filter((l) => l.includes('master key'));
    expect(noneLines).toHaveLength(1);
    expect(noneLines[0]).toMatch(/^rivulet: this database already has a master key and this process has none: set RIVULET_MASTER_KEY/);

    // Revoke the seeded key through the first process (with another admin key).
    const other = await call(a, 'POST', '/admin/keys', SEED, { name: 'other', permissions: [...PERMISSIONS] });
    expect(other.status).toBe(201);
    const keys = await call(a, 'GET', '/admin/keys', other.body.key);
    const seeded = (keys.body.keys as Array<{ name: string; prefix: string }>).find((k) => k.name === 'RIVULET_API_KEY')!;
    expect((await call(a, 'POST', `/admin/keys/${seeded.prefix}/revoke`, other.body.key)).status).toBe(200);

    // The printed key joins: it starts, with RIVULET_API_KEY still configured.
    const b = await serve({ ...BLANK, DATABASE_URL: database.url, RIVULET_DATA_DIR: dirB, RIVULET_MASTER_KEY: printed, RIVULET_API_KEY: SEED });
    procs.push(b);
    expect(b.output()).not.toContain('Generated the mixpanel partner API key');
    expect(b.output()).not.toContain('RIVULET_MASTER_KEY=');
    expect(b.output()).toMatch(/the API key configured in RIVULET_API_KEY is revoked and stays revoked/);
    // The seeded key stays revoked, on both.
    expect((await call(b, 'GET', '/admin/keys', SEED)).status).toBe(401);
    expect((await call(a, 'GET', '/admin/keys', SEED)).status).toBe(401);
    expect((await call(b, 'GET', '/admin/keys', other.body.key)).status).toBe(200);

    // The partner key the first one generated is accepted by the second; a wrong one is not.
    const importKey = await call(b, 'POST', '/admin/import-keys', other.body.key, { partner: 'mixpanel' });
    expect(importKey.status).toBe(201);
    const cohort = { client_secret: importKey.body.key, cohort_id: 'identity', name: 'Identity', created_at: '2024-01-01T00:00:00Z' };
    expect((await call(b, 'POST', '/partners/mixpanel/cohorts', null, { ...cohort, partner_api_key: partnerKey })).status).toBe(201);
    expect((await call(b, 'POST', '/partners/mixpanel/cohorts', null, { ...cohort, partner_api_key: `${partnerKey}x` })).status).toBe(401);
    expect((await call(a, 'POST', '/partners/mixpanel/cohorts', null, { ...cohort, partner_api_key: partnerKey })).status).toBe(201);
  });
});

describe(`a connector sealed under another master key (${TEST_BACKEND})`, () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({ RIVULET_CURRENTS_RECONCILE_MS: '200' });
  });

  afterAll(async () => {
    await s?.close();
  });

  it('shows failed with the reason, not active without an error', async () => {
    // As a deployment from before the check left it: sealed by a process with its own key.
    const foreign = SecretBox.fromString('a-key-of-another-process-0123456789');
    const input = parseMixpanelExportInput(connectorBody('http://127.0.0.1:9', projectCreds('4242')));
    const c = await createConnector(s.testDb.db, foreign, s.workspaceId, input);
    const status = await waitFor(async () => {
      const res = await s.call('GET', `/admin/currents/${c.id}/status`);
      return res.body?.state === 'failed' ? res.body : undefined;
    }, 'the connector to show failed');
    expect(status.last_error).toBe(UNREADABLE_CREDENTIALS);
    expect(status.last_error).toMatch(/cannot be decrypted with this deployment's master key/);
  });
});

describe(`a pull connection sealed under another master key (${TEST_BACKEND})`, () => {
  let t: Awaited<ReturnType<typeof openTestDb>>;
  let dataDir: string;
  let s: RivuletOnDb;

  beforeAll(async () => {
    t = await openTestDb();
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-identity-pull-'));
    s = await startRivuletOn(t, { dataDir, pullTiming: { pollMs: 50, backoffStartMs: 50, backoffMaxMs: 200 } });
  });

  afterAll(async () => {
    await s?.close();
    await t?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('shows failed with the reason', async () => {
    const foreign = SecretBox.fromString('a-key-of-another-process-0123456789');
    const row = await createConnection(t.db, foreign, s.workspaceId, {
      name: 'Sealed elsewhere',
      projectId: '4343',
      mixpanelWorkspaceId: null,
      region: 'US',
      baseUrl: 'http://127.0.0.1:9',
      credentials: { kind: 'service_account', username: 'sa', secret: 'sealed-elsewhere-secret' },
      cohortIds: ['1'],
      mode: 'dynamic',
      intervalSeconds: 3600,
      matchKey: 'external_id',
      queryBudget: 10,
      enabled: true,
    });
    const shown = await waitFor(async () => {
      const res = await s.call('GET', `/admin/mixpanel/connections/${row.id}`);
      return res.body?.state === 'failed' ? res.body : undefined;
    }, 'the connection to show failed');
    expect(shown.last_error).toMatch(/cannot be decrypted with this deployment's master key/);
    expect(shown.credentials.kind).toMatch(/unreadable/);
  });
});
