/**
 * PostgreSQL restarted under a running Currents export (through the TCP proxy of pg-proxy.ts: every
 * connection cut at once, new ones refused, then back). The exporter must resume by itself — no
 * pause/resume, no process restart — and the emulator's deduplicated view must end exactly equal
 * to the mapping of the event log: nothing lost, nothing doubled after deduplication. A checkpoint
 * (cursor + counters) that could not be committed is kept and committed once the store is back;
 * anything re-sent meanwhile is absorbed by the dedup view (the raw view would show it). Cut three times while the exporter is reading, sending and committing checkpoints, once
 * more while it is idle and new events arrive. PostgreSQL only: PGlite runs in-process.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_LEASE_MS = '1500';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '200';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { RunningMixpanelEmulator } from '../../src/emulator/mixpanel/index.js';
import { createRivulet, type Rivulet } from '../../src/server.js';
import { openPostgres, type Db } from '../../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../../src/test-support/db.js';
import { createApiKey, ensureWorkspace, PERMISSIONS } from '../../src/workspaces/index.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, jsonCall, startEmulator, waitFor } from '../currents-support.js';
import { PgOutageProxy } from './pg-proxy.js';

const P = projectCreds('7301');
const TYPES = ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'];
let proxy: PgOutageProxy;
let direct: Db;
let rivulet: Rivulet;
let mp: RunningMixpanelEmulator;
let url: string;
let key: string;
let workspaceId: string;
let drop: () => Promise<void> = async () => {};

const call = (method: string, path: string, body?: unknown) => jsonCall(url, key, method, path, body);

/** Tracks `count` events in 75-event requests; returns how many were acknowledged (201). */
async function track(count: number, tag: string): Promise<number> {
  let acked = 0;
  const time = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < count; i += 75) {
    const n = Math.min(75, count - i);
    const events = Array.from({ length: n }, (_, j) => ({ external_id: `px-${(i + j) % 40}`, name: `restart_${tag}`, time, properties: { n: i + j } }));
    const purchases = i % 750 === 0 ? [{ external_id: `px-${i % 40}`, product_id: 'sku', currency: 'USD', price: 1.5, time }] : [];
    const r = await call('POST', '/users/track', { events, purchases });
    expect([201, 503], JSON.stringify(r.body)).toContain(r.status);
    if (r.status === 201) acked += n + purchases.length;
  }
  return acked;
}

describe.skipIf(TEST_BACKEND !== 'postgres')('PostgreSQL restarted during a Currents export', () => {
  beforeAll(async () => {
    const created = await createTestDatabaseUrl();
    drop = created.drop;
    proxy = new PgOutageProxy();
    await proxy.start();
    mp = await startEmulator([P], { seed: 11 });
    direct = openPostgres({ connectionString: created.url });
    const config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: '/tmp/rivulet-pg-restart-export-test', RIVULET_RATE_LIMIT_TRACK: '100000' });
    rivulet = await createRivulet(config, { db: openPostgres({ connectionString: proxy.url(created.url), maxConnections: 6 }), logger: false });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(rivulet.app.server.address() as { port: number }).port}`;
    const ws = await ensureWorkspace(direct, 'default');
    workspaceId = ws.id;
    key = (await createApiKey(direct, { workspaceId: ws.id, name: 't', permissions: [...PERMISSIONS] })).key;
    expect((await call('POST', '/users/track', { attributes: Array.from({ length: 40 }, (_, i) => ({ external_id: `px-${i}` })) })).status).toBe(201);
  });
  afterAll(async () => {
    await rivulet?.close().catch(() => {});
    await proxy?.close();
    await mp?.close();
    await direct?.close();
    await drop();
  });

  it('resumes by itself after each cut; the dedup view is exactly the log', { timeout: 120_000 }, async () => {
    const connector = await call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Restart', event_types: TYPES, batch_byte_cap: 8 * 1024 }));
    expect(connector.status).toBe(201);
    const id = connector.body.id as string;

    // The events wait in the log while the connector is paused; then Mixpanel answers slowly, so
    // the cuts land while batches are in flight and checkpoints are being committed.
    expect((await call('POST', `/admin/currents/${id}/pause`)).status).toBe(200);
    const first = await track(6000, 'a');
    expect(first).toBeGreaterThanOrEqual(6000);
    mp.emulator.setFaults({ latencyMs: 100 }, P.projectId);
    expect((await call('POST', `/admin/currents/${id}/resume`)).status).toBe(200);
    const delivered = () => mp.emulator.store.count(P.projectId, 'dedup');
    const cutAt: number[] = [];
    for (const [threshold, outageMs] of [[1200, 1500], [3000, 400], [4200, 800]] as const) {
      await waitFor(async () => delivered() >= threshold, `${threshold} events to be delivered`, 60_000, 2);
      proxy.cut();
      cutAt.push(delivered());
      // Meanwhile /users/track gets a clean 503.
      const during = await call('POST', '/users/track', { events: [{ external_id: 'px-1', name: 'restart_during', time: new Date().toISOString() }] });
      expect(during.status).toBe(503);
      await new Promise((r) => setTimeout(r, outageMs));
      proxy.restore();
    }
    expect(cutAt.every((n) => n < first)).toBe(true);
    mp.emulator.setFaults({}, P.projectId);

    // Caught up without anyone touching the connector.
    const status = async () => (await call('GET', `/admin/currents/${id}/status`)).body;
    await waitFor(async () => {
      const st = await status();
      return st.lag?.events === 0 && st.in_flight === 0 && st.state === 'active';
    }, 'the exporter to resume and catch up after the cuts', 60_000, 100);

    // Cut again while idle; events acknowledged right after it comes back must flow too.
    proxy.cut();
    await new Promise((r) => setTimeout(r, 1000));
    proxy.restore();
    let second = 0;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'readiness after the second cut', 20_000, 100);
    second = await track(1500, 'b');
    expect(second).toBeGreaterThanOrEqual(1500);
    const final = await waitFor(async () => {
      const st = await status();
      return st.lag?.events === 0 && st.in_flight === 0 && st.state === 'active' ? st : undefined;
    }, 'the exporter to deliver what arrived after the second cut', 60_000, 100);

    const log = (await allLogEvents(direct, workspaceId)).filter((e) => TYPES.includes(e.event_type));
    expect(log.length).toBe(first + second);
    const expected = expectedFor(log, TYPES, P.token);
    const view = mp.emulator.events(P.projectId).sort(byInsertId);
    const raw = mp.emulator.store.count(P.projectId, 'raw');
    console.log(`[pg restart during export] cut at ${cutAt.join(', ')} of ${first} delivered; ${view.length} dedup, ${raw} raw; sent ${final.sent}, retries ${final.retries}`);
    expect(view).toEqual(expected.events.sort(byInsertId));
    // Each event counted once, even when a cut fell between PostgreSQL applying a checkpoint's
    // COMMIT and its answer (test/faults/ambiguous-commit.db.test.ts makes that happen every time).
    expect(final.sent).toBe(expected.events.length);
    expect(final.read).toBe(final.sent + final.skipped_total + final.dead_lettered_total);
    expect(final.dead_lettered_total).toBe(0);
  });
});
