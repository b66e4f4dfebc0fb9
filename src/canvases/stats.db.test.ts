/**
 * Per-step statistics, the users at a step and a user's Canvases (dashboard-routes.ts) on a journey
 * run on the test clock: entry → a Decision Split (passed in the same commit as the next step) →
 * an email over SMTP → a one-day Delay → Action Paths (one user acts, one buys and exits, one waits
 * out the window). The counters of migration 155 must give each step its entered, advanced, exited
 * and in-step figures, the split's included. Also the launch check naming the step at fault.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;
let clock = Date.now();
let pro: string;
const DAY = 86_400_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 120_000, show?: () => Promise<unknown>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${show ? `: ${JSON.stringify(await show())}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  sink = await startMailSink();
  const port = await freePort();
  s = await startTestServer(
    { PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '50' },
    { canvases: { now: () => clock, timing: { pollMs: 50 } } },
  );
  const attributes = ['a', 'b', 'c', 'd'].map((n) => ({ external_id: `s-${n}`, first_name: n.toUpperCase(), email: `${n}@example.com`, plan: n === 'd' ? 'free' : 'pro' }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
  pro = (await s.call('POST', '/admin/segments', { name: 'Pro', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' } })).body.id;
}, 180_000);
afterAll(async () => {
  await s?.close();
  await sink?.close();
});

describe(`canvas step statistics on ${TEST_BACKEND}`, () => {
  const journey = () => ({
    name: 'Stats journey',
    entry: { type: 'api' },
    exit: { events: [{ kind: 'purchase' }] },
    from: { address: 'hello@rivulet.test' },
    steps: [
      { id: 'split', name: 'Pro?', type: 'decision_split', segment_id: pro, yes: 'welcome', no: null },
      { id: 'welcome', name: 'Welcome', type: 'message', email: { subject: 'Welcome {{${first_name}}}', html: '<p>Hi</p>' }, next: 'wait' },
      { id: 'wait', name: 'One day', type: 'delay', delay: { seconds: 86_400 }, next: 'act' },
      { id: 'act', name: 'Browsed?', type: 'action_paths', window_seconds: 86_400, paths: [{ name: 'Browsed', event: { kind: 'custom_event', name: 'browse' }, next: 'promo' }], everyone_else: null },
      { id: 'promo', name: 'Promo', type: 'message', email: { subject: 'Promo', html: '<p>10% off</p>' }, next: null },
    ],
  });
  const stats = async (id: string) => {
    const r = await s.call('GET', `/admin/canvases/${id}/step-stats`);
    expect(r.status).toBe(200);
    return { totals: r.body.totals, ...Object.fromEntries((r.body.steps as Array<{ step_id: string }>).map((x) => [x.step_id, x])) } as Record<string, Record<string, number>>;
  };

  it('checks a Canvas before launch, naming each step at fault and the audience', async () => {
    const good = await s.call('POST', '/admin/canvases/validate', { ...journey(), entry: { type: 'scheduled', segment_id: pro } });
    expect(good.body).toEqual({ ok: true, problems: [], audience_size: 3, entry_type: 'scheduled' });
    const steps = journey().steps as Array<Record<string, unknown>>;
    const bad = await s.call('POST', '/admin/canvases/validate', {
      ...journey(),
      steps: [{ ...steps[0] }, { ...steps[1], email: { subject: '', html: '<p>x</p>' } }, { ...steps[2], next: undefined }, { id: 'lost', type: 'delay', delay: { seconds: 60 }, next: null }],
    });
    expect(bad.status).toBe(200);
    expect(bad.body.ok).toBe(false);
    const byStep = (id: string) => (bad.body.problems as Array<{ step_id: string | null; message: string }>).filter((p) => p.step_id === id).map((p) => p.message);
    expect(byStep('welcome').join()).toContain('missing content');
    expect(byStep('wait').join()).toContain('no end');
    expect(byStep('lost').join()).toContain('unreachable');
    const cycle = await s.call('POST', '/admin/canvases/validate', { ...journey(), steps: [{ ...steps[0], yes: 'back', no: null }, { id: 'back', type: 'user_update', attributes: { x: 1 }, next: 'split' }] });
    expect(cycle.body.problems[0].message).toContain('cycle without a delay');
  });

  it('counts entered, advanced, exited and in-step per step, and lists who is where', async () => {
    const id = (await s.call('POST', '/admin/canvases', journey())).body.id as string;
    expect((await s.call('POST', `/admin/canvases/${id}/launch`)).status).toBe(200);
    const sent = await s.call('POST', '/canvas/trigger/send', { canvas_id: id, recipients: ['a', 'b', 'c', 'd'].map((n) => ({ external_user_id: `s-${n}` })) });
    expect(sent.status).toBe(201);
    // d is not Pro: the split ends its journey. The others get the email and wait a day.
    const seen = async () => ({ stats: await stats(id), entries: (await s.testDb.db.query(`SELECT step_id, phase, state, end_reason FROM canvas_entries WHERE canvas_id = $1`, [id])).rows });
    await until(async () => (await stats(id)).wait!.in_step === 3, 'three users in the delay', 60_000, seen);
    let st = await stats(id);
    expect(st.totals).toMatchObject({ entries: 4, control: 0, in_canvas: 3, completed: 1, exited: 0 });
    expect(st.split).toMatchObject({ entered: 4, advanced: 4, in_step: 0 });
    expect(st.welcome).toMatchObject({ entered: 3, advanced: 3, in_step: 0 });
    expect(st.wait).toMatchObject({ entered: 3, advanced: 0, in_step: 3 });

    const atWait = await s.call('GET', `/admin/canvases/${id}/steps/wait/users?limit=50`);
    expect((await s.call('GET', `/admin/canvases/${id}/steps/wait/users?limit=0`)).status).toBe(400);
    expect(atWait.status).toBe(200);
    expect((atWait.body.users as Array<{ external_id: string; phase: string }>).map((u) => `${u.external_id}:${u.phase}`).sort()).toEqual(['s-a:wait', 's-b:wait', 's-c:wait']);

    clock += DAY + 1000;
    await until(async () => (await stats(id)).act!.in_step === 3, 'three users at the action paths');
    const now = new Date().toISOString();
    expect((await s.call('POST', '/users/track', { events: [{ external_id: 's-a', name: 'browse', time: now }] })).status).toBe(201);
    expect((await s.call('POST', '/users/track', { purchases: [{ external_id: 's-b', product_id: 'boots', currency: 'USD', price: 10, time: now }] })).status).toBe(201);
    await until(async () => {
      const x = await stats(id);
      return x.promo!.advanced === 1 && x.act!.exited === 1 && x;
    }, 'a through the promo, b exited');
    st = await stats(id);
    expect(st.act).toMatchObject({ entered: 3, advanced: 1, exited: 1, in_step: 1 });
    expect(st.promo).toMatchObject({ entered: 1, advanced: 1, in_step: 0 });
    expect(st.totals).toMatchObject({ entries: 4, in_canvas: 1, completed: 2, exited: 1 });

    // A user's page: where c is now; where b left.
    const users = (await s.call('POST', '/users/export/ids', { external_ids: ['s-b', 's-c'] })).body.users as Array<{ external_id: string; braze_id: string }>;
    const c = await s.call('GET', `/admin/canvases/users/${users.find((u) => u.external_id === 's-c')!.braze_id}`);
    expect(c.body.canvases).toEqual([expect.objectContaining({ canvas_id: id, canvas_name: 'Stats journey', state: 'active', step_id: 'act', step_name: 'Browsed?', phase: 'listen' })]);
    const b = await s.call('GET', `/admin/canvases/users/${users.find((u) => u.external_id === 's-b')!.braze_id}`);
    expect(b.body.canvases[0]).toMatchObject({ state: 'exited', step_id: 'act', end_reason: 'performed_event' });

    // The window ends for c: Everyone Else is an end.
    clock += DAY + 1000;
    await until(async () => (await stats(id)).totals!.in_canvas === 0, 'every entry ended');
    expect((await stats(id)).act).toMatchObject({ entered: 3, advanced: 2, exited: 1, in_step: 0 });

    const list = await s.call('GET', '/admin/canvases');
    expect(list.body.canvases.find((x: { id: string }) => x.id === id)).toMatchObject({ name: 'Stats journey', state: 'active', entries: 4, in_canvas: 0, steps: 5, entry_type: 'api' });
    expect((await s.call('GET', `/admin/canvases/${id}/steps/act/users`)).body.users).toEqual([]);
  }, 240_000);
});
