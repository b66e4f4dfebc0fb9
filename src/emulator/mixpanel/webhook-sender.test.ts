/**
 * The custom-webhook cohort sender against a recording receiver on 127.0.0.1: full and diff runs,
 * paging, member fields, snapshot expiry, `first_sync`, transient retries (with scaled-down delays),
 * timeouts and connection errors, non-transient pauses, fault injection, replay and scheduling.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from './serve.js';

const NOW_MS = Date.UTC(2025, 0, 15, 12);
let clock = NOW_MS;
let mp: RunningMixpanelEmulator;
let receiver: FastifyInstance;
let target: string;
let received: Array<{ auth: string | undefined; body: any }>;
let script: Array<{ status: number; body?: unknown; delayMs?: number }>;

async function control(method: 'GET' | 'POST' | 'PUT', path: string, json?: unknown) {
  const res = await request(mp.url + path, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

beforeEach(async () => {
  clock = NOW_MS;
  received = [];
  script = [];
  receiver = Fastify({ bodyLimit: 8 * 1024 * 1024 });
  receiver.post('/hook', async (req, reply) => {
    received.push({ auth: req.headers.authorization, body: req.body });
    const next = script.shift();
    if (next?.delayMs) await new Promise((r) => setTimeout(r, next.delayMs));
    const action = (req.body as { action: string }).action;
    return reply.code(next?.status ?? 200).send(next?.body ?? { action, status: 'success' });
  });
  await receiver.listen({ port: 0, host: '127.0.0.1' });
  target = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}/hook`;
  mp = await startMixpanelEmulator({ now: () => clock, projects: [{ id: '101' }] });
  const members = Array.from({ length: 2500 }, (_, i) =>
    i % 2 === 0 ? { distinct_id: `u${i}`, properties: { $email: `u${i}@x.com`, $first_name: 'F', $braze_external_id: `b${i}` } } : `u${i}`,
  );
  await control('POST', '/_emulator/cohorts', { project_id: '101', id: 7, name: 'Power users', description: 'desc', members });
});
afterEach(async () => {
  await mp.close();
  await receiver.close();
});

const createSync = async (extra: Record<string, unknown> = {}) =>
  (
    await control('POST', '/_emulator/webhook-syncs', {
      project_id: '101',
      url: target,
      username: 'any',
      password: 'dik_secret',
      cohort_ids: [7],
      properties: ['$braze_external_id'],
      start: false,
      retry_delays_ms: [10, 20, 40, 80, 160],
      ...extra,
    })
  ).body.id as string;
const run = async (id: string) => (await control('POST', `/_emulator/webhook-syncs/${id}/run`)).body;
const state = async (id: string) => (await control('GET', `/_emulator/webhook-syncs/${id}`)).body;
const pagesOf = (from = 0) => received.slice(from).map((r) => `${r.body.action}:${r.body.parameters.page_info.page_count}/${r.body.parameters.page_info.total_pages}`);

describe('webhook sender', () => {
  it('sends the whole cohort as members pages of 1,000 sharing a fresh session, then empty diffs', async () => {
    const id = await createSync();
    const first = await run(id);
    expect(first).toMatchObject({ status: 'succeeded', cohorts: [{ cohort_id: '7', full: true, actions: [{ action: 'members', pages: 3, members: 2500 }] }] });
    expect(pagesOf()).toEqual(['members:1/3', 'members:2/3', 'members:3/3']);
    expect(new Set(received.map((r) => r.body.parameters.mixpanel_session_id)).size).toBe(1);
    expect(received[0]!.auth).toBe(`Basic ${Buffer.from('any:dik_secret').toString('base64')}`);
    const p = received[0]!.body.parameters;
    expect(p).toMatchObject({ mixpanel_project_id: '101', mixpanel_cohort_id: '7', mixpanel_cohort_name: 'Power users', mixpanel_cohort_description: 'desc' });
    expect(p.members[0]).toEqual({ email: 'u0@x.com', mixpanel_distinct_id: 'u0', first_name: 'F', last_name: null, $braze_external_id: 'b0' });
    expect(p.members[1]).toEqual({ email: null, mixpanel_distinct_id: 'u1', first_name: null, last_name: null, $braze_external_id: null });

    const unchanged = await run(id);
    expect(pagesOf(3)).toEqual(['add_members:1/1', 'remove_members:1/1']);
    expect(received.slice(3).map((r) => r.body.parameters.members)).toEqual([[], []]);
    expect(unchanged.cohorts[0].actions[0].session_id).not.toBe(unchanged.cohorts[0].actions[1].session_id);

    await control('POST', '/_emulator/cohorts/7/members', { project_id: '101', members: ['new1', 'new2'] });
    await control('POST', '/_emulator/cohorts/7/members/remove', { project_id: '101', distinct_ids: ['u0'] });
    await run(id);
    const [add, remove] = received.slice(5).map((r) => r.body);
    expect(add.parameters.members.map((m: any) => m.mixpanel_distinct_id)).toEqual(['new1', 'new2']);
    expect(remove.parameters.members).toEqual([{ email: 'u0@x.com', mixpanel_distinct_id: 'u0', first_name: 'F', last_name: null, $braze_external_id: 'b0' }]);
    expect((await state(id)).snapshots).toEqual([{ cohort_id: '7', members: 2501, taken_at: expect.any(String) }]);
  });

  it('sends the whole cohort again once the snapshot is older than 3 days; first_sync can be add_members', async () => {
    const id = await createSync({ first_sync: 'add_members', page_size: 2000 });
    await run(id);
    expect(pagesOf()).toEqual(['add_members:1/2', 'add_members:2/2']);
    clock += 3 * 86_400_000 - 1000;
    await run(id);
    expect(pagesOf(2)).toEqual(['add_members:1/1', 'remove_members:1/1']);
    clock += 3 * 86_400_000 + 1;
    await run(id);
    expect(pagesOf(4)).toEqual(['add_members:1/2', 'add_members:2/2']);
    await control('PUT', '/_emulator/cohorts/7/members', { project_id: '101', members: [] });
    const members = await createSync();
    await run(members);
    expect(received.at(-1)!.body).toMatchObject({ action: 'members', parameters: { page_info: { total_pages: 1, page_count: 1 }, members: [] } });
  });

  it('retries transient failures with backoff and fails the run after five retries, keeping the snapshot', async () => {
    const id = await createSync();
    script = [{ status: 503 }, { status: 429 }, { status: 200, body: { action: 'members', status: 'failure', error: { message: 'busy', code: 503 } } }];
    const ok = await run(id);
    expect(ok.status).toBe('succeeded');
    expect(ok.deliveries[0]).toMatchObject({ page_count: 1, attempts: 4, outcome: 'success' });

    await control('POST', '/_emulator/cohorts/7/members', { project_id: '101', members: ['late'] });
    script = Array.from({ length: 6 }, () => ({ status: 500 }));
    const failed = await run(id);
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringContaining('gave up after 6 attempts') });
    expect((await state(id)).state).toBe('failed'); // a one-time sync; a scheduled one stays active
    const before = received.length;
    await run(id); // the next run diffs from the same snapshot: 'late' is still new
    expect(received[before]!.body.parameters.members.map((m: any) => m.mixpanel_distinct_id)).toEqual(['late']);
  });

  it('treats a slow reply and a refused connection as transient', async () => {
    const slow = await createSync({ timeout_ms: 150, retry_delays_ms: [10] });
    script = [{ status: 200, delayMs: 400 }, { status: 200, delayMs: 400 }];
    const r = await run(slow);
    expect(r).toMatchObject({ status: 'failed', deliveries: [{ attempts: 2, outcome: 'transient', error: 'no reply within 150 ms' }] });
    const closed = await createSync({ url: 'http://127.0.0.1:1/hook', retry_delays_ms: [] });
    expect((await run(closed)).deliveries[0].error).toMatch(/^connection error/);
  });

  it('pauses on a non-transient reply, records the error and a notification, and resumes on request', async () => {
    const id = await createSync({ schedule: { every_seconds: 3600 } });
    script = [{ status: 401, body: { action: 'members', status: 'failure', error: { message: 'missing or invalid credentials', code: 401 } } }];
    const r = await run(id);
    expect(r).toMatchObject({ status: 'paused', deliveries: [{ attempts: 1, status: 401, outcome: 'non_transient' }] });
    const s = await state(id);
    expect(s).toMatchObject({ state: 'paused', last_error: '401 missing or invalid credentials', snapshots: [], next_run_at: null });
    expect(s.notifications).toEqual([{ at: expect.any(String), message: `Sync ${id} paused: 401 missing or invalid credentials` }]);
    script = [{ status: 200, body: { action: 'members', status: 'failure', error: { message: 'gone', code: 404 } } }];
    expect((await run(id)).status).toBe('paused');
    expect((await control('POST', `/_emulator/webhook-syncs/${id}/resume`)).body).toMatchObject({ state: 'active', last_error: null, next_run_at: expect.any(String) });
  });

  it('injects faults: a page twice, pages reordered, a stop after page k (snapshot untouched); replays the last run', async () => {
    const id = await createSync({ faults: { send_page_twice: 2 } });
    await run(id);
    expect(pagesOf()).toEqual(['members:1/3', 'members:2/3', 'members:2/3', 'members:3/3']);
    await control('POST', `/_emulator/webhook-syncs/${id}/forget-snapshots`);
    await control('POST', `/_emulator/webhook-syncs/${id}/faults`, { reorder_pages: true });
    await run(id);
    expect(pagesOf(4)).toEqual(['members:3/3', 'members:2/3', 'members:1/3']);
    await control('POST', `/_emulator/webhook-syncs/${id}/forget-snapshots`);
    await control('POST', `/_emulator/webhook-syncs/${id}/faults`, { stop_after_page: 2 });
    const stopped = await run(id);
    expect(stopped).toMatchObject({ status: 'stopped', error: 'stopped after page 2 (fault injection)' });
    expect(pagesOf(7)).toEqual(['members:1/3', 'members:2/3']);
    expect((await state(id)).snapshots).toEqual([]);
    await control('POST', `/_emulator/webhook-syncs/${id}/faults`, {});
    await run(id);
    const replay = await control('POST', `/_emulator/webhook-syncs/${id}/replay`);
    expect(replay.body).toMatchObject({ trigger: 'replay', status: 'succeeded' });
    const last = received.slice(9);
    expect(last.map((r) => r.body)).toEqual(received.slice(9, 12).concat(received.slice(9, 12)).map((r) => r.body));
  });

  it('runs on its schedule: at once, then every N seconds', async () => {
    const res = await control('POST', '/_emulator/webhook-syncs', { project_id: '101', url: target, cohort_ids: [7], schedule: { every_seconds: 1 } });
    expect(res.status).toBe(201);
    const deadline = Date.now() + 5000;
    // A run is listed from its start ('running'); wait for two to have ended.
    const ended = async () => (await state(res.body.id)).runs.filter((r: any) => r.status !== 'running').length;
    while ((await ended()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const s = await state(res.body.id);
    expect(s.runs.map((r: any) => [r.trigger, r.status]).slice(0, 2)).toEqual([
      ['schedule', 'succeeded'],
      ['schedule', 'succeeded'],
    ]);
    expect((await control('POST', '/_emulator/webhook-syncs', { project_id: '101', url: 'ftp://x', cohort_ids: [7] })).body).toEqual({
      error: 'url must be an absolute http(s) URL',
    });
  });
});
