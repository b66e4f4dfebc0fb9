/**
 * SMS end to end with real parts: users with phone numbers tracked over HTTP, the workspace's
 * provider pointed at the Twilio emulator on loopback, an SMS campaign launched; the emulator's
 * signed status callbacks must turn into exactly the expected events (each valid against the
 * Currents catalogue); unsigned or wrongly signed callbacks are refused with nothing stored; an
 * inbound STOP unsubscribes the user and a later send to them aborts; START subscribes again.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTwilio, startTwilioEmulator, type RunningTwilioEmulator } from '../../emulator/twilio/index.js';
import { validateCurrentsEvent } from '../../events/catalogue.js';
import { LOG_START, readEvents, type StoredEvent } from '../../events/log.js';
import { TEST_BACKEND } from '../../test-support/db.js';
import { freePort, jsonApi, untilWithin } from '../../test-support/net.js';
import { startTestServer, type TestServer } from '../../test-support/server.js';

const ACCOUNT = 'AC' + 'a1'.repeat(16);
const TOKEN = 'test-auth-token-0123456789';
const FROM = '+15550009999';
const phone = (i: number) => `+1555010000${i}`;

let s: TestServer;
let tw: RunningTwilioEmulator;

const until = untilWithin(60_000);

const emu = jsonApi(() => tw.url);

async function smsEvents(): Promise<StoredEvent[]> {
  return (await readEvents(s.testDb.db, LOG_START, 100_000, s.workspaceId)).filter((e) => e.event_type.startsWith('users.messages.sms.'));
}

/** Event types per user external id, each list sorted. */
async function byUser(ids: Map<string, string>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const e of await smsEvents()) {
    const ext = ids.get(String(e.user.user_id)) ?? 'none';
    (out[ext] ??= []).push(e.event_type.slice('users.messages.sms.'.length));
  }
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]!.sort()]));
}

function valid(e: StoredEvent) {
  const { seq: _s, txid: _t, workspace_id: _w, ...wire } = e as StoredEvent & { workspace_id?: string };
  return validateCurrentsEvent(wire, Math.floor(Date.now() / 1000) + 60);
}

let ids: Map<string, string>;
let settings: { status_callback_url: string; inbound_url: string };

beforeAll(async () => {
  tw = await startTwilioEmulator({ accounts: { [ACCOUNT]: TOKEN }, latencyMs: 10 });
  const port = await freePort();
  s = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, RIVULET_SEND_POLL_MS: '50' });
  const attributes = Array.from({ length: 5 }, (_, i) => ({ external_id: `s${i}`, first_name: `Name${i}`, sms_test: 'yes', ...(i < 4 ? { phone: phone(i) } : {}) }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
  const { rows } = await s.testDb.db.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM users WHERE workspace_id = $1`, [s.workspaceId]);
  ids = new Map(rows.map((r) => [r.id, r.external_id]));
});
afterAll(async () => {
  await s?.close();
  await tw?.close();
});

describe(`sms on ${TEST_BACKEND}`, () => {
  let campaignId: string;

  it('stores the provider settings with the token sealed, naming the field of a bad one', async () => {
    const bad = await s.call('PUT', '/admin/sms/settings', { account_sid: 'nope', auth_token: TOKEN, from_number: FROM });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ path: 'account_sid' });
    const neither = await s.call('PUT', '/admin/sms/settings', { account_sid: ACCOUNT, auth_token: TOKEN });
    expect(neither.status).toBe(400);
    expect(neither.body.errors[0]).toMatchObject({ path: 'from_number' });
    const extra = await s.call('PUT', '/admin/sms/settings', { account_sid: ACCOUNT, auth_token: TOKEN, from_number: FROM, region: 'x' });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body)).toContain('region');
    expect((await s.call('GET', '/admin/sms/settings')).status).toBe(404);
    const ok = await s.call('PUT', '/admin/sms/settings', { account_sid: ACCOUNT, auth_token: TOKEN, from_number: FROM, base_url: tw.url });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ account_sid: ACCOUNT, auth_token_set: true, from_number: FROM, base_url: tw.url });
    expect(JSON.stringify(ok.body)).not.toContain(TOKEN);
    settings = (await s.call('GET', '/admin/sms/settings')).body;
    expect(JSON.stringify(settings)).not.toContain(TOKEN);
    const { rows } = await s.testDb.db.query<{ auth_token_sealed: Buffer }>(`SELECT auth_token_sealed FROM sms_settings`);
    expect(rows[0]!.auth_token_sealed.toString('latin1')).not.toContain(TOKEN);
  });

  it('sends an SMS campaign through the provider; signed status callbacks become the expected events', async () => {
    const segmentId = (await s.call('POST', '/admin/segments', { name: 'SMS', filter: { filter: 'custom_attribute', attribute: 'sms_test', op: 'equals', value: 'yes' } })).body.id;
    const badBody = await s.call('POST', '/admin/campaigns', { name: 'x', channel: 'sms', audience: { segment_id: segmentId }, variants: [{ id: 'a', percent: 100, sms: { body: 'Hi {% if x %}' } }] });
    expect(badBody.status).toBe(400);
    expect(badBody.body.errors[0]).toMatchObject({ path: 'variants[0].sms.body' });
    const created = await s.call('POST', '/admin/campaigns', { name: 'Texts', channel: 'sms', audience: { segment_id: segmentId }, variants: [{ id: 'a', name: 'A', percent: 100, sms: { body: 'Hi {{${first_name}}}, sale today' } }] });
    expect(created.status).toBe(201);
    campaignId = created.body.id;
    await emu('PUT', '/emulator/faults', {
      rules: [
        { to: phone(1), outcome: 'undelivered', error_code: 30003 },
        { to: phone(2), outcome: 'failed', error_code: 30008 },
        { to: phone(3), outcome: 'reject', error_code: 21610 },
      ],
    });
    expect((await s.call('POST', `/admin/campaigns/${campaignId}/launch`)).status).toBe(201);

    const expected = { s0: ['CarrierSend', 'Delivery', 'Send'], s1: ['CarrierSend', 'DeliveryFailure', 'Send'], s2: ['Rejection', 'Send'], s3: ['Rejection'] };
    let last: unknown;
    const seen = await until(async () => {
      const b = await byUser(ids);
      last = b;
      return JSON.stringify(b) === JSON.stringify(expected) ? b : undefined;
    }, 'the status callbacks to become events').catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
    });
    expect(seen).toEqual(expected);
    const events = await smsEvents();
    for (const e of events) expect(valid(e), e.event_type).toMatchObject({ ok: true });
    const failure = events.find((e) => e.event_type.endsWith('.DeliveryFailure'))!;
    expect(failure.properties).toMatchObject({ provider_error_code: '30003', to_phone_number: phone(1), campaign_id: campaignId, message_variation_id: 'a' });
    const rejected = events.filter((e) => e.event_type.endsWith('.Rejection')).map((e) => e.properties.provider_error_code).sort();
    expect(rejected).toEqual(['21610', '30008']);

    // What a message keeps for its callbacks names the user, and holds no profile data.
    const { rows: contexts } = await s.testDb.db.query<{ context: { user: Record<string, unknown> } }>(`SELECT context FROM sms_messages`);
    expect(contexts).toHaveLength(4);
    for (const c of contexts) expect(Object.keys(c.context.user).sort()).toEqual(['external_id', 'id', 'time_zone']);
    const sent = (await emu('GET', '/emulator/messages')).messages;
    expect(sent.map((m: any) => m.to).sort()).toEqual([phone(0), phone(1), phone(2)]);
    expect(sent.find((m: any) => m.to === phone(0))).toMatchObject({ body: 'Hi Name0, sale today', from: FROM, status: 'delivered', statuses: ['queued', 'sent', 'delivered'] });
    // Every callback was accepted: its signature verified.
    const callbacks = (await emu('GET', '/emulator/callbacks')).callbacks;
    expect(callbacks).toHaveLength(5);
    expect(callbacks.every((c: any) => c.http_status === 204)).toBe(true);
  }, 120_000);

  it('refuses unsigned and wrongly signed callbacks with 403 and stores nothing', async () => {
    const before = (await smsEvents()).length;
    const delivered = (await emu('GET', `/emulator/messages?to=${encodeURIComponent(phone(0))}`)).messages[0];
    const params = { AccountSid: ACCOUNT, MessageSid: delivered.sid, MessageStatus: 'undelivered', ErrorCode: '30005', To: phone(0), From: FROM };
    const url = settings.status_callback_url;
    const post = (headers: Record<string, string>, p: Record<string, string> = params) =>
      request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(p).toString() });
    const unsigned = await post({});
    expect(unsigned.statusCode).toBe(403);
    expect(((await unsigned.body.json()) as any).errors[0]).toMatchObject({ path: 'X-Twilio-Signature' });
    expect((await post({ 'x-twilio-signature': signTwilio('the-wrong-token-000000', url, params) })).statusCode).toBe(403);
    // Signed for other parameters than those sent (tampered body).
    expect((await post({ 'x-twilio-signature': signTwilio(TOKEN, url, { ...params, MessageStatus: 'delivered' }) })).statusCode).toBe(403);
    const inbound = await request(settings.inbound_url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ AccountSid: ACCOUNT, From: phone(0), To: FROM, Body: 'STOP' }).toString() });
    expect(inbound.statusCode).toBe(403);
    await inbound.body.dump();
    // A correctly signed one is accepted (so the refusals above were about the signature).
    const good = await post({ 'x-twilio-signature': signTwilio(TOKEN, url, { ...params, MessageStatus: 'sent' }) }, { ...params, MessageStatus: 'sent' });
    expect(good.statusCode).toBe(204);
    const { rows } = await s.testDb.db.query<{ status: string }>(`SELECT status FROM sms_messages WHERE message_sid = $1`, [delivered.sid]);
    expect(rows[0]!.status).toBe('sent');
    const { rows: subs } = await s.testDb.db.query(`SELECT * FROM sms_subscriptions`);
    expect(subs).toEqual([]);
    // Nothing new (the 204 came after the commit): the accepted 'sent' repeats CarrierSend, reported once.
    expect((await smsEvents()).filter((e) => e.event_type.endsWith('.DeliveryFailure'))).toHaveLength(1);
    expect((await smsEvents()).length).toBe(before);

    // A callback that overtakes the API answer (no SID recorded yet) finds its send by the signed
    // `send` parameter of its URL: here the rejected s3's message, which never got a SID.
    const { rows: pending } = await s.testDb.db.query<{ send_key: string }>(`SELECT send_key FROM sms_messages WHERE message_sid IS NULL`);
    expect(pending).toHaveLength(1);
    const early = `${url}?send=${pending[0]!.send_key}`;
    const earlyParams = { ...params, MessageSid: 'SM' + 'f'.repeat(32), MessageStatus: 'sent', To: phone(3) };
    const signed = await request(early, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signTwilio(TOKEN, early, earlyParams) }, body: new URLSearchParams(earlyParams).toString() });
    expect(signed.statusCode).toBe(204);
    // The log shows a commit once every older transaction on the cluster has ended: wait for it.
    const carrier = await until(async () => {
      const found = (await smsEvents()).filter((e) => e.event_type.endsWith('.CarrierSend') && ids.get(String(e.user.user_id)) === 's3');
      return found.length ? found : undefined;
    }, 'the early callback to be logged');
    expect(carrier).toHaveLength(1);
    // The signature covers the query: the same callback pointed at another send is refused.
    const forged = await request(`${url}?send=${pending[0]!.send_key.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signTwilio(TOKEN, early, earlyParams) }, body: new URLSearchParams(earlyParams).toString() });
    expect(forged.statusCode).toBe(403);
  });

  it('an inbound STOP unsubscribes the user; a later send to them aborts; START subscribes again', async () => {
    const stop = await emu('POST', '/emulator/inbound', { account_sid: ACCOUNT, from: phone(0), to: FROM, body: ' stop ', url: settings.inbound_url });
    expect(stop.http_status).toBe(200);
    const inbound = await until(async () => (await smsEvents()).find((e) => e.event_type === 'users.messages.sms.InboundReceive'), 'the InboundReceive event');
    expect(ids.get(String(inbound.user.user_id))).toBe('s0');
    expect(inbound.properties).toMatchObject({ action: 'Unsubscribed', user_phone_number: phone(0), inbound_phone_number: FROM, message_body: ' stop ' });
    expect(valid(inbound)).toMatchObject({ ok: true });

    await emu('PUT', '/emulator/faults', { rules: [] });
    const sentBefore = (await emu('GET', '/emulator/messages')).messages.length;
    expect((await s.call('POST', `/admin/campaigns/${campaignId}/launch`)).status).toBe(201);
    const abort = await until(async () => (await smsEvents()).find((e) => e.event_type === 'users.messages.sms.Abort'), 'the Abort event');
    expect(ids.get(String(abort.user.user_id))).toBe('s0');
    expect(abort.properties).toMatchObject({ abort_type: 'unsubscribed', campaign_id: campaignId });
    expect(valid(abort)).toMatchObject({ ok: true });
    // The others were sent again (s1, s2, s3); s0 was not.
    const again = await until(async () => {
      const m = (await emu('GET', '/emulator/messages')).messages;
      return m.length === sentBefore + 3 ? m : undefined;
    }, 'the second dispatch to be sent');
    expect(again.filter((m: any) => m.to === phone(0))).toHaveLength(1);

    const start = await emu('POST', '/emulator/inbound', { account_sid: ACCOUNT, from: phone(0), to: FROM, body: 'START', url: settings.inbound_url });
    expect(start.http_status).toBe(200);
    const { rows } = await s.testDb.db.query<{ state: string }>(`SELECT state FROM sms_subscriptions`);
    expect(rows).toEqual([{ state: 'subscribed' }]);
  }, 120_000);
});
