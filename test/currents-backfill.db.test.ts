/**
 * Backfill: re-exporting a time range to one connector with the live export's mapping and
 * `$insert_id`, so a repeated or overlapping backfill changes nothing in Mixpanel's dedup view.
 * On PostgreSQL through the real `rivulet currents backfill` command (progress bar on stderr);
 * on the in-memory PGlite, which another process cannot open, through the same function in-process.
 * The CLI's create, list, status, pause, resume and test commands run there too.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCurrentsConfig, runBackfill, silentLog, type BackfillProgress } from '../src/currents/index.js';
import { formatProgress } from '../src/currents/backfill/progress.js';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { SecretBox } from '../src/secrets/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { runCli } from './cli-process.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, startEmulator, waitFor } from './currents-support.js';

const P = projectCreds('8101');
const MASTER_KEY = 'backfill-test-master-key-material-0123';
const DAY = 86_400;
const START = Date.UTC(2025, 0, 1) / 1000;
let s: TestServer;
let mp: RunningMixpanelEmulator;

beforeAll(async () => {
  mp = await startEmulator([P]);
  s = await startTestServer({ RIVULET_MASTER_KEY: MASTER_KEY });
  expect((await s.call('POST', '/users/track', { attributes: Array.from({ length: 20 }, (_, i) => ({ external_id: `bf-${i}` })) })).status).toBe(201);
  // Three days of history, logged before the connector exists.
  const events = Array.from({ length: 3000 }, (_, i) => ({
    event_type: i % 10 === 0 ? 'users.messages.email.Send' : 'users.behaviors.CustomEvent',
    id: i % 3 === 0 ? `hist:${i}/x` : randomUUID(),
    time: START + Math.floor((i * 3 * DAY) / 3000),
    user: { external_user_id: `bf-${i % 20}` },
    properties: i % 10 === 0 ? { email_address: 'a@b.c' } : { name: 'historic', custom_properties: { i } },
  }));
  for (let i = 0; i < events.length; i += 1000) expect((await s.call('POST', '/currents/events', { events: events.slice(i, i + 1000) })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await mp?.close();
});

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

async function backfill(connectorId: string, from: number, to: number): Promise<{ summary: string; progress: string[]; reach: string | undefined }> {
  if (TEST_BACKEND === 'postgres') {
    const r = await runCli(['currents', 'backfill', '--connector', connectorId, '--from', iso(from), '--to', iso(to)], {
      DATABASE_URL: s.testDb.url!,
      RIVULET_MASTER_KEY: MASTER_KEY,
      RIVULET_CURRENTS_DELAY_SCALE: '0.002',
    });
    expect(r.code, r.stderr).toBe(0);
    const progress = r.stderr.trim().split('\n');
    return { summary: r.stdout.trim(), progress: progress.filter((l) => !l.startsWith('reach: ')), reach: progress.find((l) => l.startsWith('reach: '))?.slice(7) };
  }
  const lines: string[] = [];
  const started = Date.now();
  const r = await runBackfill({
    db: s.testDb.db,
    box: SecretBox.fromString(MASTER_KEY),
    config: loadCurrentsConfig(),
    connectorId,
    fromSeconds: from,
    toSeconds: to,
    log: silentLog,
    onProgress: (p: BackfillProgress) => lines.push(formatProgress(p, Date.now() - started)),
  });
  lines.push(formatProgress(r, Date.now() - started));
  return { summary: `backfill ${r.id} ${r.state}: ${r.done} events read, ${r.sent} sent, ${r.skipped} skipped, ${r.deadLettered} dead-lettered, ${r.retries} retries`, progress: lines, reach: r.reach };
}

describe(`rivulet currents backfill on ${TEST_BACKEND}`, () => {
  it('re-exports a time range with the same $insert_id; repeating it changes nothing after dedup', { timeout: 180_000 }, async () => {
    const created = await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Backfill', batch_byte_cap: 64 * 1024 }));
    const id = created.body.id;
    // The live export starts at "now": history is not sent until backfilled.
    await new Promise((r) => setTimeout(r, 500));
    expect(mp.emulator.store.count(P.projectId, 'raw')).toBe(0);

    mp.emulator.setFaults({ rate429: 0.2, rate5xx: 0.05 });
    const from = START;
    const to = START + Math.floor(1.5 * DAY);
    const first = await backfill(id, from, to);
    expect(first.summary).toMatch(/^backfill [0-9a-f-]+ done: 1500 events read, 1350 sent, 150 skipped, 0 dead-lettered, \d+ retries$/);
    expect(first.progress.at(-1)).toContain('100.0%');
    expect(first.progress.at(-1)).toContain('1,500/1,500 events');
    // It says how far back the log reaches (the retention window).
    expect(first.reach).toMatch(/^the event log keeps events recorded since \d{4}-\d\d-\d\dT[\d:.]+Z \(its retention window\)/);

    const inRange = (await allLogEvents(s.testDb.db, s.workspaceId)).filter((e) => e.time >= from && e.time < to);
    const expected = expectedFor(inRange, ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'], P.token);
    expect(mp.emulator.events(P.projectId).sort(byInsertId)).toEqual(expected.events.sort(byInsertId));

    // Overlapping second run: more raw records, the same deduplicated view plus the new half day.
    const second = await backfill(id, from + DAY, START + 2 * DAY);
    expect(second.summary).toMatch(/done: 1000 events read, 900 sent, 100 skipped/);
    const both = (await allLogEvents(s.testDb.db, s.workspaceId)).filter((e) => e.time >= from && e.time < START + 2 * DAY);
    const expectedBoth = expectedFor(both, ['users.behaviors.CustomEvent'], P.token);
    expect(mp.emulator.events(P.projectId).sort(byInsertId)).toEqual(expectedBoth.events.sort(byInsertId));
    expect(mp.emulator.store.count(P.projectId, 'raw')).toBe(1350 + 900);

    const { rows } = await s.testDb.db.query<{ state: string; total: number; read: number; sent: number; skipped: number }>(
      'SELECT state, total, read, sent, skipped FROM currents_backfills WHERE connector_id = $1 ORDER BY started_at',
      [id],
    );
    expect(rows).toEqual([
      { state: 'done', total: 1500, read: 1500, sent: 1350, skipped: 150 },
      { state: 'done', total: 1000, read: 1000, sent: 900, skipped: 100 },
    ]);
    // The live connector's own counters are untouched by backfills.
    const st = (await s.call('GET', `/admin/currents/${id}/status`)).body;
    expect(st.sent).toBe(0);
    mp.emulator.setFaults({});
  });

  it.skipIf(TEST_BACKEND !== 'postgres')('manages connectors from the CLI: create, list, status, pause, resume, test, update, delete', { timeout: 240_000 }, async () => {
    const cliEnv = { DATABASE_URL: s.testDb.url!, RIVULET_MASTER_KEY: MASTER_KEY, MIXPANEL_SERVICE_ACCOUNT_SECRET: P.secret, MIXPANEL_PROJECT_TOKEN: P.token };
    const bad = await runCli(['currents', 'create-mixpanel', '--name', 'X', '--contact-email', 'nope', '--event-types', 'users.nope'], cliEnv);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--contact-email');
    expect(bad.stderr).toContain('--event-types');
    const created = await runCli(
      ['currents', 'create-mixpanel', '--name', 'From CLI', '--contact-email', 'ops@example.com', '--service-account-username', P.username, '--project-id', P.projectId, '--event-types', 'all', '--base-url', mp.url],
      cliEnv,
    );
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim().split('\n').pop()!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const list = await runCli(['currents', 'list'], cliEnv);
    expect(list.stdout).toContain(`${id}\tactive\tUS\tFrom CLI`);
    expect((await runCli(['currents', 'pause', id], cliEnv)).stdout).toContain(`paused ${id}`);
    const status = await runCli(['currents', 'status', id], cliEnv);
    expect(status.stdout).toContain('state paused');
    expect(status.stdout).toContain(`secret …${P.secret.slice(-4)}`);
    expect((await runCli(['currents', 'resume', id], cliEnv)).stdout).toContain(`resumed ${id}`);
    const tested = await runCli(['currents', 'test', id], cliEnv);
    expect(tested.stdout).toContain('ok: Credentials accepted');
    // Changed in place: only the options given; a bad one names the field and changes nothing.
    const renamed = await runCli(['currents', 'update', id, '--name', 'Renamed', '--event-types', 'users.behaviors.Purchase'], cliEnv);
    expect(renamed.stdout).toContain(`updated ${id}: name, event_types`);
    const badUpdate = await runCli(['currents', 'update', id, '--contact-email', 'nope'], cliEnv);
    expect([badUpdate.code, badUpdate.stderr.includes('--contact-email')]).toEqual([1, true]);
    const broken = await runCli(['currents', 'update', id, '--service-account-secret-stdin'], cliEnv, 'WRONG-secret-0000\n');
    expect(broken.stdout).toContain(`updated ${id}: credentials`);
    expect((await runCli(['currents', 'test', id], cliEnv)).stdout).toContain('FAILED: Mixpanel rejected the credentials');
    expect((await runCli(['currents', 'update', id], { ...cliEnv, MIXPANEL_SERVICE_ACCOUNT_SECRET: P.secret })).stdout).toContain('credentials');
    expect((await runCli(['currents', 'update', id, '--service-account-secret', P.secret], cliEnv)).stderr).toContain('--service-account-secret is refused');
    expect((await runCli(['currents', 'list'], cliEnv)).stdout).toContain(`${id}\tactive\tUS\tRenamed`);
    for (const out of [created, list, status, tested, renamed, broken]) for (const secret of [P.secret, P.token]) expect(out.stdout + out.stderr).not.toContain(secret);
    // The server picks up connectors made elsewhere.
    await waitFor(async () => (await s.call('GET', `/admin/currents/${id}/status`)).body.delivering_here, 'the server to start the CLI-made connector', 10_000);
    expect((await runCli(['currents', 'delete', id], cliEnv)).stdout).toContain(`deleted ${id}`);
  });
});
