/**
 * Acceptance, scaled for the test suite (issue #5): events through `/users/track` and
 * `/currents/events` reach the emulated Mixpanel while it answers 10% 429s, 2% 503s and a 401
 * outage; its deduplicated view holds exactly the expected events, the skip counters match, and
 * the outage costs one failure and one recovery notice. Size and outage come from
 * CURRENTS_E2E_EVENTS and CURRENTS_E2E_OUTAGE_MS (defaults 20,000 and 3 s, with every retry delay
 * scaled by 0.002); `npx tsx bench/currents-e2e.ts` runs 200,000 events and a 30-second outage.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '100';
process.env.RIVULET_RATE_LIMIT_TRACK = '100000';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { runExportScenario } from './currents-scenario.js';
import { projectCreds, startEmulator } from './currents-support.js';

const EVENTS = Number(process.env.CURRENTS_E2E_EVENTS ?? 20_000);
const OUTAGE_MS = Number(process.env.CURRENTS_E2E_OUTAGE_MS ?? 3000);
const P = projectCreds('5101');
let s: TestServer;
let mp: RunningMixpanelEmulator;

beforeAll(async () => {
  mp = await startEmulator([P], { seed: 11 });
  s = await startTestServer({ RIVULET_RATE_LIMIT_TRACK: '100000', RIVULET_RATE_LIMIT_CURRENTS: '100000' });
});
afterAll(async () => {
  await s?.close();
  await mp?.close();
});

describe(`Currents export acceptance on ${TEST_BACKEND}`, () => {
  it(`delivers ${EVENTS} events exactly once (after dedup) through 429s, 503s and a ${OUTAGE_MS} ms 401 outage`, { timeout: 600_000 }, async () => {
    const r = await runExportScenario({ server: s, emulator: mp, project: P, events: EVENTS, outageMs: OUTAGE_MS, batchByteCap: 32 * 1024, timeoutMs: 300_000 });
    console.log(
      `[${TEST_BACKEND}] ${r.logEvents} logged, ${r.expectedSent} to send, ${r.delivered} in the dedup view (${r.raw} raw), ` +
        `statuses ${JSON.stringify(r.statuses)}, retries ${r.status.retries}, ingest ${r.timings.ingestMs} ms, total ${r.timings.totalMs} ms`,
    );
    // Nothing lost, nothing doubled: the dedup view is exactly the mapping of the log.
    expect(r.matches).toBe(true);
    expect(r.delivered).toBe(r.expectedSent);
    expect(r.raw).toBeGreaterThanOrEqual(r.delivered);
    // The faults really happened.
    expect(r.statuses['429']).toBeGreaterThan(0);
    expect(r.statuses['503']).toBeGreaterThan(0);
    expect(r.statuses['401']).toBeGreaterThan(0);
    expect(r.timings.outageStartedAtMs).not.toBeNull();
    // Counters: skips match the log and the generator; the accounting invariant holds.
    expect(r.skipped).toEqual(r.expectedSkipped);
    expect(r.skipped['before_2010']).toBe(r.generatedSkips.before_2010);
    expect(r.skipped['invalid_distinct_id']).toBe(r.generatedSkips.invalid_distinct_id);
    expect(r.skipped['no_external_user_id']).toBe(r.generatedSkips.no_external_user_id);
    expect(r.status.sent).toBe(r.expectedSent);
    expect(r.status.dead_lettered_total).toBe(0);
    expect(r.status.read).toBe(r.logEvents);
    expect(r.status.read).toBe(r.status.sent + r.status.skipped_total + r.status.dead_lettered_total + r.status.in_flight);
    expect(r.produced.duplicates).toBeGreaterThan(0);
    expect(r.status.retries).toBeGreaterThan(0);
    // One incident: one failure notice, one recovery notice.
    expect(r.notices).toEqual(['connector_failed', 'connector_recovered']);
  });
});
