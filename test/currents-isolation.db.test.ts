/**
 * Isolation (docs/reference/currents.md §3): a connector stuck on 401 — with slow answers on top — does not delay a
 * healthy connector's delivery. While stuck it holds its cursor, buffers, sends one probe per retry
 * interval and notifies its contact once; when Mixpanel takes its credentials again it catches up
 * and sends a recovery notice.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '100';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { connectorBody, projectCreds, startEmulator, waitFor } from './currents-support.js';

const HEALTHY = projectCreds('6101');
const STUCK = projectCreds('6102');
let s: TestServer;
let mp: RunningMixpanelEmulator;

beforeAll(async () => {
  mp = await startEmulator([HEALTHY, STUCK]);
  s = await startTestServer({ RIVULET_RATE_LIMIT_TRACK: '100000' });
  const attributes = Array.from({ length: 50 }, (_, i) => ({ external_id: `iso-${i}` }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await mp?.close();
});

async function produce(count: number, tag: string): Promise<void> {
  const time = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < count; i += 75) {
    const events = Array.from({ length: Math.min(75, count - i) }, (_, j) => ({ external_id: `iso-${(i + j) % 50}`, name: tag, time, properties: { n: i + j } }));
    expect((await s.call('POST', '/users/track', { events })).status).toBe(201);
  }
}

const landed = (p: typeof HEALTHY, tag: string) => mp.emulator.events(p.projectId).filter((e) => e.event === `[Braze Custom Event] ${tag}`).length;

/**
 * From the moment the events are readable by exporters (below the log's horizon, which on a shared
 * PostgreSQL server any long transaction elsewhere can hold back) to the moment all have landed.
 */
async function timeToDeliver(count: number, tag: string): Promise<number> {
  await produce(count, tag);
  await waitFor(async () => {
    const { rows } = await s.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM event_log WHERE body->'properties'->>'name' = $1 AND txid < pg_snapshot_xmin(pg_current_snapshot())`,
      [tag],
    );
    return rows[0]!.n === count;
  }, `${tag} to be readable`, 120_000, 10);
  const readable = Date.now();
  await waitFor(async () => landed(HEALTHY, tag) === count, `${tag} to reach the healthy project`, 60_000, 10);
  return Date.now() - readable;
}

describe(`connector isolation on ${TEST_BACKEND}`, () => {
  it('a connector stuck on slow 401s does not delay a healthy one', { timeout: 120_000 }, async () => {
    const healthy = (await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, HEALTHY, { name: 'Healthy', batch_byte_cap: 16 * 1024 }))).body.id;
    const stuck = (await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, STUCK, { name: 'Stuck', batch_byte_cap: 16 * 1024 }))).body.id;
    expect((await s.call('POST', `/admin/currents/${stuck}/pause`)).status).toBe(200);

    const alone = await timeToDeliver(3000, 'alone');

    // Every answer to the stuck connector's project is a 401, after 2 s.
    mp.emulator.setFaults({ rate401: 1, latencyMs: 2000 }, STUCK.projectId);
    const resumedAt = Date.now();
    expect((await s.call('POST', `/admin/currents/${stuck}/resume`)).status).toBe(200);
    await waitFor(async () => (await s.call('GET', `/admin/currents/${stuck}/status`)).body.state === 'failed', 'the stuck connector to fail', 30_000);
    const beside = await timeToDeliver(3000, 'beside');
    console.log(`[${TEST_BACKEND}] healthy delivery: ${alone} ms alone, ${beside} ms beside a connector stuck on slow 401s`);
    // Blocked behind the stuck connector's 2 s answers, the ~40 batches would take over a minute;
    // the slack absorbs a busy machine's jitter between the two measurements, not such a delay.
    expect(beside).toBeLessThan(alone * 2 + 5000);

    const stuckStatus = (await s.call('GET', `/admin/currents/${stuck}/status`)).body;
    expect(stuckStatus.state).toBe('failed');
    expect(stuckStatus.sent).toBe(0);
    expect(stuckStatus.lag.events).toBeGreaterThanOrEqual(6000);
    expect(stuckStatus.last_error).toContain('401');
    expect(landed(STUCK, 'alone') + landed(STUCK, 'beside')).toBe(0);
    // While failed, one probe at a time: the first batches in flight, then about one per 2 s answer,
    // over the whole time it has been stuck (not only `beside`: producing the events and waiting for
    // them to become readable, which a long transaction elsewhere on a shared server can stretch,
    // are probe time too).
    const stuckMs = Date.now() - resumedAt;
    const requests = mp.emulator.stats().projects[STUCK.projectId] as { requests: { total: number } };
    console.log(`[${TEST_BACKEND}] the stuck connector sent ${requests.requests.total} requests in ${stuckMs} ms stuck`);
    expect(requests.requests.total).toBeLessThan(4 + Math.ceil(stuckMs / 2000) + 4);

    // Mixpanel takes the credentials again: the stuck connector catches up from its cursor.
    mp.emulator.setFaults({}, STUCK.projectId);
    await waitFor(async () => landed(STUCK, 'alone') === 3000 && landed(STUCK, 'beside') === 3000, 'the stuck connector to catch up', 60_000);
    await waitFor(async () => (await s.call('GET', `/admin/currents/${stuck}/status`)).body.state === 'active', 'the stuck connector to recover');
    const notices = await waitFor(async () => {
      const n = (await s.call('GET', `/admin/currents/${stuck}/notifications`)).body.notifications as Array<{ kind: string; sent_at: string | null; delivered_via: string }>;
      return n.length === 2 && n.every((x) => x.sent_at) ? n : undefined;
    }, 'two notices');
    expect(notices.map((n) => n.kind).reverse()).toEqual(['connector_failed', 'connector_recovered']);
    expect(notices.every((n) => n.delivered_via === 'log')).toBe(true);
    expect((await s.call('GET', `/admin/currents/${healthy}/notifications`)).body.notifications).toEqual([]);
  });
});
