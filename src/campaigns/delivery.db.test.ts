/**
 * Campaign delivery rules with real parts (server over HTTP, SMTP to the mail sink, the event log):
 * conversions read from the log by the leased conversion reader, exactly once per receipt ×
 * behavior, for sent users and the control group; and a campaign's rate limit, which no 60 s
 * window at the sink may exceed.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { validateCurrentsEvent } from '../events/catalogue.js';
import type { StoredEvent } from '../events/log.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { freePort, jsonApi, untilWithin } from '../test-support/net.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;

const until = untilWithin(90_000);

const sinkApi = jsonApi(() => sink.url);
/**
 * Every committed event of the workspace, read directly: not through `readEvents`, whose horizon is
 * cluster-wide on PostgreSQL and lags while any transaction anywhere runs. A reader's cursor that
 * passed the last of these has seen them all.
 */
async function events(): Promise<StoredEvent[]> {
  const { rows } = await s.testDb.db.query<{ seq: number; txid: string; workspace_id: string; body: StoredEvent }>(
    // ORDER BY names the xid8 column: the text alias would sort '10000' before '9999'.
    'SELECT seq, txid::text AS txid, workspace_id, body FROM event_log WHERE workspace_id = $1 ORDER BY event_log.txid, event_log.seq',
    [s.workspaceId],
  );
  return rows.map((r) => ({ ...r.body, seq: Number(r.seq), txid: r.txid, workspace_id: r.workspace_id }));
}

beforeAll(async () => {
  sink = await startMailSink();
  const port = await freePort();
  s = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '50' });
  const attributes = [
    ...Array.from({ length: 6 }, (_, i) => ({ external_id: `c${i}`, first_name: `Conv${i}`, email: `c${i}@example.com`, plan: 'conv' })),
    ...Array.from({ length: 2 }, (_, i) => ({ external_id: `f${i}`, first_name: `Freq${i}`, email: `f${i}@example.com`, plan: 'freq' })),
    ...Array.from({ length: 2 }, (_, i) => ({ external_id: `q${i}`, first_name: `Quiet${i}`, email: `q${i}@example.com`, plan: 'quiet' })),
    ...Array.from({ length: 3 }, (_, i) => ({ external_id: `a${i}`, first_name: `Act${i}`, email: `a${i}@example.com`, plan: 'act' })),
    ...Array.from({ length: 4 }, (_, i) => ({ external_id: `p${i}`, first_name: `Prov${i}`, email: `p${i}@example.com`, plan: 'prov' })),
    ...Array.from({ length: 25 }, (_, i) => ({ external_id: `r${i}`, first_name: `Rate${i}`, email: `r${i}@example.com`, plan: 'rate' })),
  ];
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
});

const segments = new Map<string, string>();
async function campaignFor(plan: string, over: Record<string, unknown>): Promise<string> {
  if (!segments.has(plan)) segments.set(plan, (await s.call('POST', '/admin/segments', { name: plan, filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: plan } })).body.id);
  const segment = { body: { id: segments.get(plan) } };
  const created = await s.call('POST', '/admin/campaigns', {
    name: `Campaign ${plan}`,
    channel: 'email',
    audience: { segment_id: segment.body.id },
    from: { address: 'news@rivulet.test' },
    variants: [{ id: 'a', name: 'A', percent: 100, email: { subject: `${plan} {{\${first_name}}}`, html: '<p>Hi</p>' } }],
    ...over,
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

async function sendsOf(campaignId: string): Promise<Array<{ send_key: string; user_id: string; variant_id: string; state: string; dispatch_id: string; waiting: boolean }>> {
  const { rows } = await s.testDb.db.query<any>(
    `SELECT send_key, user_id, variant_id, state, dispatch_id, next_attempt_at > now() + interval '20 seconds' AS waiting FROM campaign_sends WHERE campaign_id = $1 ORDER BY send_key`,
    [campaignId],
  );
  return rows;
}

describe(`campaign delivery rules on ${TEST_BACKEND}`, () => {
  it('refuses bad conversion behaviors and rate limits, naming the field', async () => {
    const segment = await s.call('POST', '/admin/segments', { name: 'any', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'none' } });
    const base = { name: 'x', channel: 'email', audience: { segment_id: segment.body.id }, from: { address: 'a@rivulet.test' }, variants: [{ id: 'a', percent: 100, email: { subject: 's', html: 'h' } }] };
    const badWindow = await s.call('POST', '/admin/campaigns', { ...base, conversion_behaviors: [{ type: 'performs_custom_event', custom_event_name: 'x', window: 10 }] });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.errors).toEqual([{ path: 'conversion_behaviors[0].window', type: expect.stringContaining('300') }]);
    const noName = await s.call('POST', '/admin/campaigns', { ...base, conversion_behaviors: [{ type: 'performs_custom_event' }] });
    expect(noName.body.errors).toEqual([{ path: 'conversion_behaviors[0].custom_event_name', type: expect.any(String) }]);
    const rate = await s.call('POST', '/admin/campaigns', { ...base, rate_limit_per_minute: 5 });
    expect(rate.body.errors).toEqual([{ path: 'rate_limit_per_minute', type: expect.stringContaining('10') }]);
  });

  it('appends one Conversion per receipt and behavior, for sends and the control group, read from the log', async () => {
    const behaviors = [
      { type: 'performs_custom_event', custom_event_name: 'bought', window: 3600 },
      { type: 'makes_purchase', product: 'shoe', window: 3600 },
    ];
    const id = await campaignFor('conv', { control_percent: 50, variants: [{ id: 'a', name: 'A', percent: 50, email: { subject: 'conv {{${first_name}}}', html: '<p>Hi</p>' } }], conversion_behaviors: behaviors });
    expect((await s.call('GET', `/admin/campaigns/${id}`)).body.conversion_behaviors).toEqual(behaviors);
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
    const sends = await until(async () => {
      const rows = await sendsOf(id);
      return rows.length === 6 && rows.every((r) => r.state !== 'queued') ? rows : undefined;
    }, 'every send to end');
    expect(sends.every((r) => r.state === 'delivered' || r.state === 'control')).toBe(true);
    const { rows: users } = await s.testDb.db.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM users WHERE workspace_id = $1`, [s.workspaceId]);
    const ext = new Map(users.map((u) => [u.id, u.external_id]));

    // Everyone converts on the custom event, twice (one conversion each); c0 also buys the wrong
    // product (none), r0 (never sent this campaign) performs the event too (none).
    const time = new Date().toISOString();
    const tracked = [...sends.map((r) => ({ external_id: ext.get(r.user_id)!, name: 'bought', time })), { external_id: 'r0', name: 'bought', time }];
    expect((await s.call('POST', '/users/track', { events: tracked, purchases: [{ external_id: 'c0', product_id: 'hat', price: 1, currency: 'USD', time }] })).status).toBe(201);
    expect((await s.call('POST', '/users/track', { events: tracked })).status).toBe(201);

    // Wait until the reader's cursor passed every event tracked above.
    const last = (await events()).at(-1)!;
    await until(async () => {
      const { rows } = await s.testDb.db.query<{ passed: boolean }>(`SELECT (cursor_txid::xid8, cursor_seq) >= ($1::xid8, $2::bigint) AS passed FROM campaign_log_readers WHERE name = 'conversions'`, [last.txid, last.seq]);
      return rows[0]?.passed ? true : undefined;
    }, 'the conversion reader to pass the tracked events');

    const conversions = (await events()).filter((e) => e.event_type === 'users.campaigns.Conversion');
    expect(conversions).toHaveLength(6);
    for (const { seq: _s, txid: _t, workspace_id: _w, ...c } of conversions) expect(validateCurrentsEvent(c, Math.floor(Date.now() / 1000) + 60)).toMatchObject({ ok: true });
    const bySend = new Map(sends.map((r) => [r.send_key, r]));
    for (const c of conversions) {
      const send = bySend.get(c.properties.send_id as string)!;
      expect(send).toBeDefined();
      expect(c.user.user_id).toBe(send.user_id);
      expect(c.properties).toMatchObject({
        campaign_id: id,
        message_variation_id: send.variant_id,
        dispatch_id: send.dispatch_id,
        conversion_behavior_index: 0,
      });
      expect(JSON.parse(c.properties.conversion_behavior as string)).toEqual(behaviors[0]);
    }
    expect(new Set(conversions.map((c) => c.properties.send_id)).size).toBe(6);
    expect(conversions.some((c) => c.properties.message_variation_id === 'control')).toBe(sends.some((r) => r.state === 'control'));

    // The right product converts behavior B (index 1) once.
    expect((await s.call('POST', '/users/track', { purchases: [{ external_id: 'c1', product_id: 'shoe', price: 9, currency: 'USD', time: new Date().toISOString() }] })).status).toBe(201);
    const purchase = await until(async () => (await events()).find((e) => e.event_type === 'users.campaigns.Conversion' && e.properties.conversion_behavior_index === 1), 'the purchase conversion');
    expect(ext.get(purchase.user.user_id!)).toBe('c1');
  }, 180_000);

  it('holds a campaign to its rate limit: no 60 s window at the sink holds more', async () => {
    await sinkApi('DELETE', '/messages');
    const id = await campaignFor('rate', { rate_limit_per_minute: 10 });
    const launchedAt = Date.now();
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
    // The first 10 go at once; the other 15 wait for the window to move.
    await until(async () => {
      const rows = await sendsOf(id);
      const waiting = rows.filter((r) => r.state === 'queued' && r.waiting).length;
      return rows.length === 25 && rows.filter((r) => r.state === 'delivered').length + waiting === 25 && waiting > 0 ? true : undefined;
    }, 'the sends over the limit to wait');
    const stats = await sinkApi('GET', '/stats?window_ms=60000');
    expect(stats.max_in_window).toBeLessThanOrEqual(10);
    // Unless this machine took over a minute, exactly the first 10 arrived.
    if (Date.now() - launchedAt < 55_000) expect(stats.messages).toBe(10);
    expect(stats.duplicate_send_ids).toBe(0);
    await s.call('POST', `/admin/campaigns/${id}/stop`);
  }, 180_000);

  it("takes SendGrid's signed Event Webhook: bounces, drops, spam reports and unsubscribes reach the user's state and the log once", async () => {
    const id = await campaignFor('prov', {});
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
    const sends = await until(async () => {
      const rows = await sendsOf(id);
      return rows.length === 4 && rows.every((r) => r.state === 'delivered') ? rows : undefined;
    }, 'every send to be delivered');
    const { rows: users } = await s.testDb.db.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM users WHERE workspace_id = $1`, [s.workspaceId]);
    const sendOf = (ext: string) => sends.find((r) => r.user_id === users.find((u) => u.external_id === ext)!.id)!.send_key;

    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const verificationKey = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const badKey = await s.call('PUT', '/admin/email/providers/sendgrid', { public_key: 'bm90IGEga2V5' });
    expect(badKey.status).toBe(400);
    expect(badKey.body.errors[0].path).toBe('public_key');
    expect((await s.call('PUT', '/admin/email/providers/sendgrid', { public_key: verificationKey })).status).toBe(200);

    const t = Math.floor(Date.now() / 1000);
    const body = JSON.stringify([
      { email: 'p0@example.com', timestamp: t, event: 'bounce', type: 'bounce', reason: '550 5.1.1 unknown user', sg_event_id: 'e0', rivulet_send_id: sendOf('p0') },
      { email: 'p1@example.com', timestamp: t, event: 'spamreport', sg_event_id: 'e1', rivulet_send_id: sendOf('p1') },
      { email: 'p2@example.com', timestamp: t, event: 'unsubscribe', sg_event_id: 'e2', rivulet_send_id: sendOf('p2') },
      { email: 'p3@example.com', timestamp: t, event: 'dropped', reason: 'Bounced Address', sg_event_id: 'e3' },
      { email: 'p3@example.com', timestamp: t, event: 'open', sg_event_id: 'e4' },
    ]);
    const signed = (ts: string, raw: string) => sign('sha256', Buffer.from(ts + raw), privateKey).toString('base64');
    const post = (raw: string, headers: Record<string, string>) =>
      s.call('POST', `/email/events/sendgrid?workspace=${s.workspaceId}`, undefined, { key: null, raw, headers: { 'content-type': 'application/json', ...headers } });
    const ts = String(t);
    const forged = await post(body, { 'x-twilio-email-event-webhook-timestamp': ts, 'x-twilio-email-event-webhook-signature': signed(ts, body.replace('p0@', 'p9@')) });
    expect(forged.status).toBe(401);
    const stale = String(t - 3600);
    expect((await post(body, { 'x-twilio-email-event-webhook-timestamp': stale, 'x-twilio-email-event-webhook-signature': signed(stale, body) })).status).toBe(401);
    expect((await post(body, {})).status).toBe(401);
    const badEvent = JSON.stringify([{ email: 'p0@example.com', event: 'bounce' }]);
    const refused = await post(badEvent, { 'x-twilio-email-event-webhook-timestamp': ts, 'x-twilio-email-event-webhook-signature': signed(ts, badEvent) });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].path).toBe('[0].timestamp');

    const good = { 'x-twilio-email-event-webhook-timestamp': ts, 'x-twilio-email-event-webhook-signature': signed(ts, body) };
    const first = await post(body, good);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ accepted: 4, matched: 3, ignored: 1 });
    // SendGrid retries a batch it did not see acknowledged: nothing is appended twice.
    expect((await post(body, good)).body).toEqual({ accepted: 4, matched: 3, ignored: 1 });

    const ours = new Set(sends.map((r) => r.send_key));
    const logged = (await events()).filter((e) => ours.has(e.properties.send_id as string) && !/\.(Send|Delivery)$/.test(e.event_type));
    const types = logged.map((e) => `${e.event_type}:${e.properties.send_id}`).sort();
    expect(types).toEqual(
      [
        `users.messages.email.Bounce:${sendOf('p0')}`,
        `users.messages.email.MarkAsSpam:${sendOf('p1')}`,
        `users.messages.email.Unsubscribe:${sendOf('p2')}`,
        `users.behaviors.subscription.GlobalStateChange:${sendOf('p2')}`,
      ].sort(),
    );
    for (const { seq: _s, txid: _t, workspace_id: _w, ...wire } of logged) expect(validateCurrentsEvent(wire, Math.floor(Date.now() / 1000) + 60)).toMatchObject({ ok: true });
    expect(logged.find((e) => e.event_type.endsWith('Bounce'))!.properties).toMatchObject({ campaign_id: id, esp: 'sendgrid', bounce_reason: '550 5.1.1 unknown user', is_drop: false });
    const { rows: flags } = await s.testDb.db.query<{ email: string; hard: boolean; spam: boolean }>(
      `SELECT email, hard_bounced_at IS NOT NULL AS hard, spam_reported_at IS NOT NULL AS spam FROM email_address_flags WHERE workspace_id = $1 AND email LIKE 'p%' ORDER BY email`,
      [s.workspaceId],
    );
    expect(flags).toEqual([
      { email: 'p0@example.com', hard: true, spam: false },
      { email: 'p1@example.com', hard: false, spam: true },
      { email: 'p3@example.com', hard: true, spam: false },
    ]);
    const { rows: p2 } = await s.testDb.db.query<{ email_subscribe: string }>(`SELECT email_subscribe FROM users WHERE workspace_id = $1 AND external_id = 'p2'`, [s.workspaceId]);
    expect(p2[0]!.email_subscribe).toBe('unsubscribed');
  }, 180_000);

  it('sends an action-based campaign once per user and triggering event, read from the log, with property filters and re-eligibility', async () => {
    const id = await campaignFor('act', {
      delivery: 'action_based',
      trigger: { type: 'custom_event', custom_event_name: 'signed_up', property_filters: [{ property: 'tier', op: 'equals', value: 'gold' }], delay_seconds: 0 },
      variants: [{ id: 'a', name: 'A', percent: 100, email: { subject: 'Welcome {{${first_name}}} ({{event_properties.${tier}}})', html: '<p>Hi</p>' } }],
    });
    const badTrigger = await s.call('POST', '/admin/campaigns', { name: 'x', channel: 'email', delivery: 'action_based', audience: { segment_id: '00000000-0000-4000-8000-000000000000' }, from: { address: 'a@rivulet.test' }, variants: [{ id: 'a', percent: 100, email: { subject: 's', html: 'h' } }], trigger: { type: 'custom_event', delay_seconds: -1 } });
    expect(badTrigger.status).toBe(400);
    expect(badTrigger.body.errors.map((e: any) => e.path)).toEqual(['trigger.custom_event_name', 'trigger.delay_seconds']);
    const launched = await s.call('POST', `/admin/campaigns/${id}/launch`);
    expect(launched.body).toMatchObject({ dispatch_id: null, state: 'active' });
    await sinkApi('DELETE', '/messages');

    const time = new Date().toISOString();
    const ev = (ext: string, tier: string) => ({ external_id: ext, name: 'signed_up', time, properties: { tier } });
    // a0 and a1 match (a0 twice: received once, not re-eligible); a2's tier fails the filter;
    // r1 matches but is outside the audience.
    expect((await s.call('POST', '/users/track', { events: [ev('a0', 'gold'), ev('a1', 'gold'), ev('a2', 'silver'), ev('r1', 'gold')] })).status).toBe(201);
    await until(async () => ((await sinkApi('GET', '/messages')).total >= 2 ? true : undefined), 'the triggered emails');
    expect((await s.call('POST', '/users/track', { events: [ev('a0', 'gold')] })).status).toBe(201);
    const last = (await events()).at(-1)!;
    await until(async () => {
      const { rows } = await s.testDb.db.query<{ passed: boolean }>(`SELECT (cursor_txid::xid8, cursor_seq) >= ($1::xid8, $2::bigint) AS passed FROM campaign_log_readers WHERE name = 'triggers'`, [last.txid, last.seq]);
      const { rows: pending } = await s.testDb.db.query(`SELECT 1 FROM campaign_trigger_occurrences WHERE campaign_id = $1 AND state = 'pending'`, [id]);
      const { rows: queued } = await s.testDb.db.query(`SELECT 1 FROM campaign_dispatches WHERE campaign_id = $1 AND state = 'queued'`, [id]);
      return rows[0]?.passed && !pending.length && !queued.length ? true : undefined;
    }, 'the trigger reader to pass the events');
    const { rows: occ } = await s.testDb.db.query<{ external_id: string; state: string }>(
      `SELECT u.external_id, o.state FROM campaign_trigger_occurrences o JOIN users u ON u.id = o.user_id WHERE o.campaign_id = $1 ORDER BY u.external_id, o.state`,
      [id],
    );
    expect(occ).toEqual([
      { external_id: 'a0', state: 'dispatched' },
      { external_id: 'a0', state: 'ineligible' },
      { external_id: 'a1', state: 'dispatched' },
      { external_id: 'r1', state: 'dispatched' },
    ]);
    await until(async () => ((await sendsOf(id)).every((r) => r.state !== 'queued') ? true : undefined), 'the sends to end');
    const messages = (await sinkApi('GET', '/messages')).messages as Array<{ to: string[]; subject: string }>;
    expect(messages.map((m) => `${m.to[0]} ${m.subject}`).sort()).toEqual(['a0@example.com Welcome Act0 (gold)', 'a1@example.com Welcome Act1 (gold)']);
    const states = (await sendsOf(id)).map((r) => r.state).sort();
    expect(states).toEqual(['delivered', 'delivered', 'skipped']);
    await s.call('POST', `/admin/campaigns/${id}/stop`);
  }, 180_000);

  it('keeps quiet hours in the user\'s zone: postponed to their end, or aborted', async () => {
    const h = new Date().getUTCHours();
    const quiet = (fallback: string) => ({ start_hour: h, end_hour: (h + 2) % 24, fallback });
    const bad = await s.call('POST', '/admin/campaigns', { name: 'x', channel: 'email', audience: { segment_id: '00000000-0000-4000-8000-000000000000' }, from: { address: 'a@rivulet.test' }, variants: [{ id: 'a', percent: 100, email: { subject: 's', html: 'h' } }], quiet_hours: { start_hour: 25, end_hour: 3 } });
    expect(bad.body.errors).toEqual([{ path: 'quiet_hours.start_hour', type: expect.any(String) }]);
    const later = await campaignFor('quiet', { quiet_hours: quiet('send_later') });
    expect((await s.call('POST', `/admin/campaigns/${later}/launch`)).status).toBe(201);
    const waiting = await until(async () => {
      const rows = await sendsOf(later);
      return rows.length === 2 && rows.every((r) => r.state === 'queued' && r.waiting) ? rows : undefined;
    }, 'the sends to wait for the quiet hours to end');
    const { rows: due } = await s.testDb.db.query<{ at: Date }>(`SELECT next_attempt_at AS at FROM campaign_sends WHERE campaign_id = $1`, [later]);
    for (const d of due) expect(new Date(d.at).getUTCHours()).toBe((h + 2) % 24);
    expect(waiting).toHaveLength(2);
    await s.call('POST', `/admin/campaigns/${later}/stop`);

    const dropped = await campaignFor('quiet', { quiet_hours: quiet('abort') });
    expect((await s.call('POST', `/admin/campaigns/${dropped}/launch`)).status).toBe(201);
    await until(async () => ((await sendsOf(dropped)).filter((r) => r.state === 'aborted').length === 2 ? true : undefined), 'the sends to be aborted');
    const aborts = await until(async () => {
      const found = (await events()).filter((e) => e.event_type === 'users.messages.email.Abort' && e.properties.campaign_id === dropped);
      return found.length === 2 ? found : undefined;
    }, 'the Abort events');
    expect(aborts.map((e) => e.properties.abort_type)).toEqual(['quiet_hours', 'quiet_hours']);
  }, 180_000);

  it('holds the global frequency cap across campaigns, unless a campaign opts out', async () => {
    const bad = await s.call('PUT', '/admin/campaigns-settings/frequency-capping', { rules: [{ channel: 'sms', count: 1, window_seconds: 3600 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('rules[0].channel');
    const rules = [{ channel: 'email', count: 1, window_seconds: 3600 }];
    expect((await s.call('PUT', '/admin/campaigns-settings/frequency-capping', { rules })).body).toEqual({ rules });
    expect((await s.call('GET', '/admin/campaigns-settings/frequency-capping')).body).toEqual({ rules });
    const settle = async (id: string, state: string) => {
      expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
      await until(async () => {
        const rows = await sendsOf(id);
        return rows.length === 2 && rows.every((r) => r.state === state) ? true : undefined;
      }, `the sends to be ${state}`);
    };
    await settle(await campaignFor('freq', {}), 'delivered');
    const capped = await campaignFor('freq', {});
    await settle(capped, 'aborted');
    const aborts = await until(async () => {
      const found = (await events()).filter((e) => e.event_type === 'users.messages.email.Abort' && e.properties.campaign_id === capped);
      return found.length === 2 ? found : undefined;
    }, 'the Abort events');
    expect(aborts.map((e) => e.properties.abort_type)).toEqual(['frequency_capped', 'frequency_capped']);
    for (const { seq: _s, txid: _t, workspace_id: _w, ...wire } of aborts) expect(validateCurrentsEvent(wire, Math.floor(Date.now() / 1000) + 60)).toMatchObject({ ok: true });
    await settle(await campaignFor('freq', { ignore_frequency_capping: true }), 'delivered');
    await s.call('PUT', '/admin/campaigns-settings/frequency-capping', { rules: [] });
  }, 180_000);
});
