/**
 * A Current's per-minute delivery history (docs/reference/currents.md §3, "History"): an outage (wrong
 * credentials) shows as failed requests and growing lag, the fix as sent events and request
 * latency, read through `GET /admin/currents/{id}/history`; it survives a restart (it is in the
 * database, not in the page); the Currents list shows delivered-in-24-h, lag and the last error;
 * the retention job rolls minutes older than 48 h into hours (sums added, maxima kept) and deletes
 * hours older than 30 days, and is safe to run twice.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_HISTORY_FLUSH_MS = '200';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { applyRetention, readHistory } from '../src/currents/history/store.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { connectorBody, projectCreds, startEmulator, waitFor } from './currents-support.js';

const P = projectCreds('4801');
let s: TestServer;
let mp: RunningMixpanelEmulator;

beforeAll(async () => {
  mp = await startEmulator([P]);
  s = await startTestServer();
}, 120_000);
afterAll(async () => {
  await s?.close();
  await mp?.close();
});

const track = (name: string) => s.call('POST', '/users/track', { events: [{ external_id: 'hist', name, time: new Date().toISOString() }] });
const history = async (id: string, query = '') => {
  const res = await s.call('GET', `/admin/currents/${id}/history${query}`);
  expect(res.status).toBe(200);
  return res.body as { resolution: string; points: Array<Record<string, any>> };
};
const sum = (points: Array<Record<string, any>>, field: string) => points.reduce((n, p) => n + (p[field] ?? 0), 0);

describe(`Currents history on ${TEST_BACKEND}`, () => {
  let id = '';

  it('an outage shows as failed requests and lag; the fix as sent events with their latency', { timeout: 120_000 }, async () => {
    const created = await s.call(
      'POST',
      '/admin/currents/mixpanel',
      connectorBody(mp.url, P, { name: 'History', credentials: { kind: 'service_account', username: P.username, secret: 'WRONG-SECRET-zz', project_id: P.projectId } }),
    );
    expect(created.status).toBe(201);
    id = created.body.id;
    expect((await track('during the outage')).status).toBe(201);
    expect((await track('also during the outage')).status).toBe(201);

    const outage = await waitFor(async () => {
      const h = await history(id);
      return sum(h.points, 'failed') > 0 && h.points.some((p) => (p.lag_events ?? 0) > 0) ? h : undefined;
    }, 'failed requests and lag in the history');
    expect(outage.resolution).toBe('minute');
    expect(sum(outage.points, 'sent')).toBe(0);

    // The list shows the failure and when.
    const listed = (await s.call('GET', '/admin/currents')).body.connectors.find((c: { id: string }) => c.id === id);
    expect(listed).toMatchObject({ state: 'failed', delivered_24h: 0 });
    expect(listed.last_error).toMatch(/401/);
    expect(Date.parse(listed.last_error_at)).toBeGreaterThan(Date.now() - 120_000);
    expect(listed.lag.events).toBeGreaterThan(0);

    const fixed = await s.call('PATCH', `/admin/currents/${id}`, { credentials: { kind: 'service_account', username: P.username, secret: P.secret, project_id: P.projectId } });
    expect(fixed.status).toBe(200);
    const recovered = await waitFor(async () => {
      const h = await history(id);
      return sum(h.points, 'sent') >= 2 ? h : undefined;
    }, 'sent events in the history');
    expect(recovered.points.some((p) => p.latency_ms_avg !== null && p.latency_ms_max !== null && p.requests > 0)).toBe(true);
    const listedAfter = await waitFor(async () => {
      const c = (await s.call('GET', '/admin/currents')).body.connectors.find((x: { id: string }) => x.id === id);
      return c.state === 'active' && c.delivered_24h >= 2 ? c : undefined;
    }, 'the list to show the delivered events');
    expect(listedAfter.lag.events).toBeGreaterThanOrEqual(0);
  });

  it('skips are kept by reason, in the database', { timeout: 120_000 }, async () => {
    // An event type the Current no longer exports is skipped with its reason.
    expect((await s.call('PATCH', `/admin/currents/${id}`, { event_types: ['users.behaviors.Purchase'] })).status).toBe(200);
    await waitFor(async () => {
      expect((await track('not selected any more')).status).toBe(201);
      const h = await history(id);
      return h.points.some((p) => (p.skipped['not_selected'] ?? 0) > 0 && p.skipped_total >= p.skipped['not_selected']) ? h : undefined;
    }, 'a skip in the history', 60_000, 500);
    const { rows } = await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM currents_history WHERE connector_id = $1 AND metric = 'skipped:not_selected'`, [id]);
    expect(rows[0]!.n).toBeGreaterThan(0);
  });

  it('rejects a bad range naming the field', async () => {
    const bad = await s.call('GET', `/admin/currents/${id}/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('from');
    const tooLong = await s.call('GET', `/admin/currents/${id}/history?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&resolution=minute`);
    expect(tooLong.status).toBe(400);
    expect((await s.call('GET', `/admin/currents/${id}/history?resolution=week`)).status).toBe(400);
    expect((await s.call('GET', `/admin/currents/00000000-0000-4000-8000-000000000000/history`)).status).toBe(404);
  });

  it('retention rolls minutes older than 48 h into hours and deletes hours older than 30 days', async () => {
    const db = s.testDb.db;
    const now = Date.now();
    const hour = Math.floor((now - 72 * 3_600_000) / 3_600_000) * 3_600_000;
    const rows: Array<[number, string, number]> = [
      [hour + 60_000, 'sent', 5],
      [hour + 120_000, 'sent', 7],
      [hour + 60_000, 'lag_seconds_max', 30],
      [hour + 120_000, 'lag_seconds_max', 12],
      [hour - 31 * 24 * 3_600_000 + 60_000, 'sent', 99],
    ];
    for (const [at, metric, value] of rows) {
      await db.query(`INSERT INTO currents_history (connector_id, resolution, bucket, metric, value) VALUES ($1, 'm', $2, $3, $4)`, [id, new Date(at), metric, value]);
    }
    // An hour row already there for that hour (an earlier roll-up) is added to.
    await db.query(`INSERT INTO currents_history (connector_id, resolution, bucket, metric, value) VALUES ($1, 'h', $2, 'sent', 1)`, [id, new Date(hour)]);

    await applyRetention(db, now);
    await applyRetention(db, now + 3_600_000 * 0.1); // a second run (another process) changes nothing more

    const { rows: left } = await db.query<{ resolution: string; bucket: Date; metric: string; value: number }>(
      `SELECT resolution, bucket, metric, value FROM currents_history WHERE connector_id = $1 AND bucket < $2 ORDER BY bucket, metric`,
      [id, new Date(now - 48 * 3_600_000)],
    );
    expect(left.map((r) => [r.resolution, new Date(r.bucket).getTime(), r.metric, Number(r.value)])).toEqual([
      ['h', hour, 'lag_seconds_max', 30],
      ['h', hour, 'sent', 13],
    ]);
    const hourly = await readHistory(db, id, new Date(hour), new Date(hour + 3_600_000), 'hour');
    expect(hourly).toEqual([
      { bucket: hour, metric: 'lag_seconds_max', value: 30 },
      { bucket: hour, metric: 'sent', value: 13 },
    ]);
    const api = await history(id, `?from=${new Date(hour - 3_600_000).toISOString()}&to=${new Date(now).toISOString()}`);
    expect(api.resolution).toBe('hour');
    expect(api.points[0]).toMatchObject({ at: new Date(hour).toISOString(), sent: 13, lag_seconds: 30 });
  });
});
