/**
 * Cohort-sync incidents reach the contact (docs/reference/cohort-import.md §8.3): a failed pull
 * connection and a stale dynamic sync each send one email over real SMTP to the mail sink when they
 * start — not one per check — and one when they end; failed pull connections are in /metrics.
 */
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const CONTACT = 'cohort-ops@example.com';
let s: TestServer;
let sink: RunningMailSink;

beforeAll(async () => {
  sink = await startMailSink();
  process.env.SMTP_URL = sink.smtpUrl;
  process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '100';
  s = await startTestServer({ RIVULET_COHORT_SYNC_CONTACT: CONTACT, RIVULET_COHORT_SYNC_CHECK_MS: '100' });
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
  delete process.env.SMTP_URL;
  delete process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS;
});

async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The contact's mails (parsed: the sink keeps subjects MIME-encoded) whose subject matches. */
async function mails(subject: RegExp) {
  const parsed = await Promise.all(sink.store.list({ to: CONTACT, limit: 1000 }).messages.map((m) => simpleParser(m.raw!)));
  return parsed.filter((m) => subject.test(m.subject ?? ''));
}

async function connection(name: string, state: string, mode: 'one_time' | 'dynamic', lastError: string | null): Promise<string> {
  const { rows } = await s.testDb.db.query<{ id: string }>(
    `INSERT INTO mixpanel_connections (id, workspace_id, name, project_id, region, credentials, credential_hint, cohort_ids, mode, interval_seconds, match_key, query_budget, state, last_error, created_at)
     VALUES (gen_random_uuid(), $1, $2, '1', 'US', '\\x00', 'abcd', ARRAY['1'], $3, 600, 'distinct_id', 10, $4, $5, now() - interval '30 minutes') RETURNING id::text AS id`,
    [s.workspaceId, name, mode, state, lastError],
  );
  return rows[0]!.id;
}

describe(`cohort sync incident notices on ${TEST_BACKEND}`, () => {
  it('a failed pull connection mails the contact once, a stale sync too, and each recovery once more', { timeout: 120_000 }, async () => {
    const failed = await connection('Nightly VIPs', 'failed', 'one_time', 'Mixpanel answered 401: Invalid credentials');
    const [first] = await until(async () => {
      const m = await mails(/pull connection "Nightly VIPs" is failing/);
      return m.length > 0 ? m : undefined;
    }, 'the failure notice');
    expect(first!.text).toContain('Invalid credentials');
    expect((await s.call('GET', '/metrics', undefined, { key: null })).body).toContain(`rivulet_cohort_pull_connection_failed{workspace="${s.workspaceId}",id="${failed}"} 1`);

    // A second incident opens later: by the time its notice arrives, the first has been checked many times.
    await connection('Hourly churn', 'active', 'dynamic', null);
    await until(async () => (await mails(/pull connection "Hourly churn" is stale/)).length === 1, 'the stale notice');
    expect(await mails(/"Nightly VIPs" is failing/)).toHaveLength(1);

    // It recovers: one more message, and a new failure later is a new incident.
    await s.testDb.db.query(`UPDATE mixpanel_connections SET state = 'done', last_error = NULL WHERE id = $1`, [failed]);
    await until(async () => (await mails(/"Nightly VIPs" is syncing again/)).length === 1, 'the recovery notice');
    await s.testDb.db.query(`UPDATE mixpanel_connections SET state = 'failed', last_error = 'network: connection refused' WHERE id = $1`, [failed]);
    await until(async () => (await mails(/"Nightly VIPs" is failing/)).length === 2, 'the second failure notice');
    expect(await mails(/"Hourly churn" is stale/)).toHaveLength(1);
    const { rows } = await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cohort_sync_incidents WHERE workspace_id = $1`, [s.workspaceId]);
    expect(rows[0]!.n).toBe(2);
  });
});
