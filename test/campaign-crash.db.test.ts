/**
 * `kill -9` of the sending process during an email campaign, then a restart on the same store
 * (docs/reference/campaigns.md, "Crash test"): every recipient gets exactly one email, counted at
 * the mail sink by the message's idempotency header (X-Rivulet-Send-Id, the send row's UUIDv5 key):
 * nobody gets two different messages, nobody gets none, and no message the sink holds belongs to
 * anyone outside the audience. A message whose SMTP transaction ended in the instant between the
 * sink's 250 and the process recording it is sent again after the restart with the same header;
 * those repeats are bounded by the sends in flight at the kill and reported.
 *
 * Size: RIVULET_CAMPAIGN_CRASH_USERS (default 2,000, which runs in well under 2 minutes on a busy
 * 2-core machine); the acceptance run is RIVULET_CAMPAIGN_CRASH_USERS=100000 under the heavy lock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../src/emulator/mail-sink/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { runCli, serve, withMigratedStore, type ServeProcess } from './cli-process.js';
import { jsonCall, waitFor } from './currents-support.js';

const USERS = Number(process.env.RIVULET_CAMPAIGN_CRASH_USERS ?? 2_000);
const CONCURRENCY = 16;
/** A generous budget on a busy machine: about 100 sends/s there at worst, plus the users' creation. */
const BUDGET_MS = Math.max(600_000, USERS * 20);
const KEY = 'campaign-crash-seeded-key-0123456789abcdef';
let sink: RunningMailSink;
let env: Record<string, string>;
let dataDir: string;
let dropDb: () => Promise<void> = async () => {};

beforeAll(async () => {
  // The raw text of no message is needed: the sink indexes the headers of every one.
  sink = await startMailSink({ rawLimit: 10 });
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-campaign-crash-'));
  env = {
    RIVULET_DATA_DIR: dataDir,
    RIVULET_API_KEY: KEY,
    LOG_LEVEL: 'warn',
    RIVULET_RATE_LIMIT_TRACK: '1000000',
    SMTP_URL: sink.smtpUrl,
    RIVULET_SEND_POLL_MS: '100',
    RIVULET_SEND_CONCURRENCY: String(CONCURRENCY),
    // A send claimed by the killed process is taken over once its lease ends.
    RIVULET_SEND_LEASE_MS: '3000',
    DATABASE_URL: '',
  };
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    env.DATABASE_URL = created.url;
    dropDb = created.drop;
  } else await withMigratedStore(dataDir);
}, 120_000);
afterAll(async () => {
  await sink?.close();
  await dropDb();
  await rm(dataDir, { recursive: true, force: true });
});

const call = (server: ServeProcess, method: string, path: string, body?: unknown) => jsonCall(server.url, KEY, method, path, body);

describe(`kill -9 during a ${USERS}-recipient email campaign on ${TEST_BACKEND}`, () => {
  it('restarts and every recipient has exactly one email by idempotency header: none two, none zero', { timeout: BUDGET_MS * 2 + 300_000 }, async () => {
    const first = await serve(env);
    let second: ServeProcess | undefined;
    try {
      for (let i = 0; i < USERS; i += 75) {
        const attributes = Array.from({ length: Math.min(75, USERS - i) }, (_, j) => ({ external_id: `c${i + j}`, first_name: `N${i + j}`, email: `c${i + j}@crash.test`, cohort: 'crash' }));
        const r = await call(first, 'POST', '/users/track', { attributes });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      // One outsider, who must get nothing.
      expect((await call(first, 'POST', '/users/track', { attributes: [{ external_id: 'outsider', email: 'outsider@crash.test', cohort: 'other' }] })).status).toBe(201);
      const segment = await call(first, 'POST', '/admin/segments', { name: 'Crash', filter: { filter: 'custom_attribute', attribute: 'cohort', op: 'equals', value: 'crash' } });
      expect(segment.status).toBe(201);
      const campaign = await call(first, 'POST', '/admin/campaigns', {
        name: 'Crash',
        channel: 'email',
        audience: { segment_id: segment.body.id },
        from: { address: 'news@rivulet.test' },
        variants: [{ id: 'a', percent: 100, email: { subject: 'Hi {{${first_name}}}', html: '<p>Hello {{${first_name}}}</p>' } }],
      });
      expect(campaign.status).toBe(201);
      const launched = await call(first, 'POST', `/admin/campaigns/${campaign.body.id}/launch`);
      expect(launched.status).toBe(201);
      expect(launched.body.audience_size).toBe(USERS);

      // Kill once a fifth has arrived: mid-send.
      await waitFor(async () => sink.store.stats().distinct_send_ids >= USERS / 5, 'a fifth of the emails', BUDGET_MS, 5);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = sink.store.stats().distinct_send_ids;
      expect(atKill).toBeLessThan(USERS);

      second = await serve(env);
      await waitFor(async () => sink.store.stats().distinct_send_ids >= USERS, 'every recipient to get an email after the restart', BUDGET_MS, 100);
      // The CLI's progress bar agrees: the dispatch has ended with every send delivered.
      const progress = await waitFor(async () => {
        const r = await runCli(['campaigns', 'progress', campaign.body.id, '--json'], env);
        if (r.code !== 0) throw new Error(r.stderr);
        const p = JSON.parse(r.stdout) as { dispatches: Array<{ state: string; queued: number; sent: number; total: number }> };
        return p.dispatches[0]?.state === 'resolved' && p.dispatches[0].queued === 0 ? p.dispatches[0] : undefined;
      }, 'the dispatch to end', 120_000, 500);
      expect(progress).toMatchObject({ total: USERS, sent: USERS });

      // Every message by recipient: exactly one idempotency header each, and every header is the recipient's own.
      const all = sink.store.list({ limit: USERS * 2 + 100, offset: 0 }).messages;
      const byRecipient = new Map<string, Set<string>>();
      for (const m of all) {
        const to = m.to.join(',').toLowerCase();
        let ids = byRecipient.get(to);
        if (!ids) byRecipient.set(to, (ids = new Set()));
        ids.add(m.sendId ?? 'none');
      }
      expect(byRecipient.has('outsider@crash.test')).toBe(false);
      expect(byRecipient.size).toBe(USERS);
      const twoOrMore = [...byRecipient].filter(([, ids]) => ids.size !== 1);
      expect(twoOrMore).toEqual([]);
      const summary = sink.store.stats();
      expect(summary.distinct_send_ids).toBe(USERS);
      const repeats = all.length - USERS;
      console.log(`[${TEST_BACKEND}] ${USERS} recipients; killed at ${atKill}; ${all.length} SMTP deliveries, ${repeats} repeated with the same idempotency header`);
      // Only a send in flight at the kill can be repeated.
      expect(repeats).toBeLessThanOrEqual(CONCURRENCY);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      if (second && second.child.exitCode === null) second.child.kill('SIGKILL');
    }
  });
});
