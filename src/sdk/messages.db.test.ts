/**
 * Content cards and in-app messages through the SDK routes: a campaign of each channel renders a
 * card / message per user; the device's user reads them with the SDK key from an allowed origin;
 * impressions, clicks and dismissals uploaded through the batch become Currents events once;
 * dismissed and expired cards leave the feed; an expired unshown in-app message is aborted once;
 * nobody reads or reports another user's messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { TEST_BACKEND } from '../test-support/db.js';

let s: TestServer;
let sdkKey: string;
let appId: string;
let segmentId: string;
const ORIGIN = 'https://shop.example.com';

const sdk = (method: 'GET' | 'POST', path: string, body?: unknown, origin = ORIGIN) =>
  s.call(method, path, body, { key: null, headers: { 'x-rivulet-sdk-key': sdkKey, origin } });
let n = 0;
const evt = (type: string, fields: Record<string, unknown> = {}) => ({ id: `evt-msg-${++n}-${Date.now()}`, type, time: new Date().toISOString(), ...fields });
const until = async <T>(f: () => Promise<T | undefined | false>, ms = 120_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
};
const logOf = async (types: string) =>
  (await s.testDb.db.query<{ body: any }>(`SELECT body FROM event_log WHERE workspace_id = $1 AND body->>'event_type' LIKE $2 ORDER BY seq`, [s.workspaceId, types])).rows.map((r) => r.body);

async function launch(body: Record<string, unknown>, sends = 2): Promise<string> {
  const created = await s.call('POST', '/admin/campaigns', { audience: { segment_id: segmentId }, ...body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect((await s.call('POST', `/admin/campaigns/${created.body.id}/launch`)).status).toBe(201);
  await until(async () => {
    const { rows } = await s.testDb.db.query<{ state: string }>('SELECT state FROM campaign_sends WHERE campaign_id = $1', [created.body.id]);
    return rows.length === sends && rows.every((r) => r.state !== 'queued');
  });
  return created.body.id;
}

beforeAll(async () => {
  s = await startTestServer({ RIVULET_SEND_POLL_MS: '50' });
  const r = await s.call('POST', '/sdk/apps', { name: 'web shop', allowed_origins: [ORIGIN] });
  sdkKey = r.body.api_key;
  appId = r.body.id;
  for (const [device, user, name] of [['dev-m1', 'cu1', 'Ada'], ['dev-m2', 'cu2', 'Bob']] as const) {
    const up = await sdk('POST', '/sdk/v1/batch', {
      device_id: device,
      events: [evt('session_start', { session_id: `s-${device}` }), evt('change_user', { external_id: user }), evt('attributes', { attributes: { first_name: name, plan: 'vip' } })],
    });
    expect(up.body).toMatchObject({ accepted: 3, errors: [] });
  }
  segmentId = (await s.call('POST', '/admin/segments', { name: 'VIP', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'vip' } })).body.id;
}, 120_000);
afterAll(() => s?.close());

describe(`content cards and in-app messages on ${TEST_BACKEND}`, () => {
  it('refuses a content card or in-app message variant that is incomplete, naming the field', async () => {
    const card = await s.call('POST', '/admin/campaigns', { name: 'c', channel: 'content_card', audience: { segment_id: segmentId }, variants: [{ percent: 100, content_card: { description: 'd', expires_after_seconds: 5 } }] });
    expect(card.status).toBe(400);
    expect(card.body.errors.map((e: any) => e.path).sort()).toEqual(['variants[0].content_card.expires_after_seconds', 'variants[0].content_card.title']);
    const iam = await s.call('POST', '/admin/campaigns', { name: 'i', channel: 'in_app_message', audience: { segment_id: segmentId }, variants: [{ percent: 100, in_app_message: { layout: 'popup', body: 'x {% if %}', trigger_events: [] } }] });
    expect(iam.status).toBe(400);
    expect(iam.body.errors.map((e: any) => e.path).sort()).toEqual(['variants[0].in_app_message.body', 'variants[0].in_app_message.layout', 'variants[0].in_app_message.trigger_events']);
  });

  it("previews a card and an in-app message for a chosen user (the dashboard composer's preview)", async () => {
    const card = await s.call('POST', '/admin/campaigns/preview', { channel: 'content_card', external_id: 'cu1', variant: { content_card: { title: 'Hi {{${first_name}}}', description: 'Sale', pinned: true } } });
    expect(card.status).toBe(200);
    expect(card.body).toMatchObject({ ok: true, content_card: { title: 'Hi Ada', description: 'Sale', image_url: '', url: '', pinned: true } });
    const iam = await s.call('POST', '/admin/campaigns/preview', {
      channel: 'in_app_message',
      external_id: 'cu2',
      variant: { in_app_message: { layout: 'slideup', body: 'Hello {{${first_name}}}', buttons: [{ id: 'go', text: 'Go {{${first_name}}}', url: 'https://x.example/{{${first_name}}}' }], trigger_events: ['opened_cart'] } },
    });
    expect(iam.body).toMatchObject({ ok: true, in_app_message: { layout: 'slideup', header: '', body: 'Hello Bob', buttons: [{ id: 'go', text: 'Go Bob', url: 'https://x.example/Bob' }], trigger_events: ['opened_cart'] } });
    const bad = await s.call('POST', '/admin/campaigns/preview', { channel: 'in_app_message', variant: { in_app_message: { layout: 'modal', body: 'x', buttons: [], trigger_events: [] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('variant.in_app_message.trigger_events');
  });

  it('renders a card per user; the feed shows it to its user only; impression, click and dismiss are logged once', async () => {
    const campaignId = await launch({
      name: 'Spring cards',
      channel: 'content_card',
      variants: [{ id: 'card', name: 'Card', percent: 100, content_card: { title: 'Hi {{${first_name}}}', description: 'Spring sale', image_url: 'https://cdn.example/s.png', url: 'https://shop.example.com/spring', pinned: true } }],
    });
    const feed = await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m1');
    expect(feed.status).toBe(200);
    expect(feed.body.cards).toHaveLength(1);
    const card = feed.body.cards[0];
    expect(card).toMatchObject({ title: 'Hi Ada', description: 'Spring sale', url: 'https://shop.example.com/spring', pinned: true, viewed: false });
    const other = (await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m2')).body.cards;
    expect(other.map((c: any) => c.title)).toEqual(['Hi Bob']);

    // Another origin reads nothing; an unknown device is a 404.
    const refused = await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m1', undefined, 'https://evil.example.net');
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('Origin https://evil.example.net is not allowed for this SDK key');
    expect((await sdk('GET', '/sdk/v1/content_cards?device_id=nobody')).status).toBe(404);
    expect((await sdk('GET', '/sdk/v1/content_cards')).status).toBe(400);

    const events = [evt('content_card_impression', { card_id: card.id }), evt('content_card_click', { card_id: card.id }), evt('content_card_dismiss', { card_id: card.id })];
    const up = await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m1', events });
    expect(up.body).toMatchObject({ accepted: 3, duplicates: 0, errors: [] });
    expect((await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m1', events })).body).toMatchObject({ accepted: 0, duplicates: 3 });
    // dev-m2 cannot report dev-m1's card.
    const foreign = await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m2', events: [evt('content_card_click', { card_id: card.id })] });
    expect(foreign.body.errors).toMatchObject([{ status: 404 }]);
    // Dismissed cards do not come back.
    expect((await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m1')).body.cards).toEqual([]);

    const log = await logOf('users.messages.contentcard.%');
    expect(log.map((e) => `${e.event_type.split('.').pop()} ${e.user.external_user_id}`).sort()).toEqual(['Click cu1', 'Dismiss cu1', 'Impression cu1', 'Send cu1', 'Send cu2']);
    for (const e of log) expect(e.properties).toMatchObject({ campaign_id: campaignId, message_variation_id: 'card', campaign_name: 'Spring cards' });
    const click = log.find((e) => e.event_type.endsWith('.Click'));
    expect(click.properties).toMatchObject({ content_card_id: card.id, app_id: appId, platform: 'web' });
    expect(click.user.device_id).toBe('dev-m1');

    // An expired card drops from the feed.
    await s.testDb.db.query(`UPDATE content_cards SET expires_at = now() - interval '1 second' WHERE title = 'Hi Bob'`);
    expect((await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m2')).body.cards).toEqual([]);
  });

  it("moves an anonymous profile's card to the user it is identified as; its events name that user", async () => {
    const up = await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m3', events: [evt('session_start', { session_id: 's-dev-m3' }), evt('attributes', { attributes: { plan: 'guest' } })] });
    expect(up.body).toMatchObject({ accepted: 2, errors: [] });
    const guests = (await s.call('POST', '/admin/segments', { name: 'Guests', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'guest' } })).body.id;
    await launch({ name: 'Welcome', channel: 'content_card', audience: { segment_id: guests }, variants: [{ percent: 100, content_card: { title: 'Welcome', description: 'Sign up for 10% off' } }] }, 1);
    const [card] = (await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m3')).body.cards;
    expect(card.title).toBe('Welcome');
    // The guest signs in as cu1: the anonymous profile merges into cu1, and the card goes with it.
    expect((await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m3', events: [evt('change_user', { external_id: 'cu1' })] })).body).toMatchObject({ accepted: 1, errors: [] });
    expect((await sdk('GET', '/sdk/v1/content_cards?device_id=dev-m3')).body.cards.map((c: any) => c.id)).toEqual([card.id]);
    expect((await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m3', events: [evt('content_card_click', { card_id: card.id })] })).body).toMatchObject({ accepted: 1, errors: [] });
    const click = (await logOf('users.messages.contentcard.Click')).find((e) => e.properties.content_card_id === card.id);
    const { rows } = await s.testDb.db.query<{ id: string }>(`SELECT id FROM users WHERE workspace_id = $1 AND external_id = 'cu1'`, [s.workspaceId]);
    expect(click.user).toMatchObject({ user_id: rows[0]!.id, external_user_id: 'cu1', device_id: 'dev-m3' });
  });

  it('hands in-app messages with their trigger events to the device; impression and button click are logged; an expired one is aborted once', async () => {
    await launch({
      name: 'Cart nudge',
      channel: 'in_app_message',
      variants: [{ id: 'modal', name: 'Modal', percent: 100, in_app_message: { layout: 'modal', header: 'Hello {{${first_name}}}', body: 'Free shipping today', trigger_events: ['opened_cart'], buttons: [{ id: 'go', text: 'Shop', url: 'https://shop.example.com/cart' }, { id: 'no', text: 'Later' }] } }],
    });
    const list = await sdk('GET', '/sdk/v1/in_app_messages?device_id=dev-m1');
    expect(list.status).toBe(200);
    expect(list.body.messages).toHaveLength(1);
    const m = list.body.messages[0];
    expect(m).toMatchObject({ layout: 'modal', header: 'Hello Ada', body: 'Free shipping today', trigger_events: ['opened_cart'], buttons: [{ id: 'go', text: 'Shop', url: 'https://shop.example.com/cart' }, { id: 'no', text: 'Later', url: null }] });
    const bad = await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m1', events: [evt('in_app_message_impression', { message_id: m.id, button_id: 'go' })] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('events[0].button_id');
    const up = await sdk('POST', '/sdk/v1/batch', { device_id: 'dev-m1', events: [evt('in_app_message_impression', { message_id: m.id }), evt('in_app_message_click', { message_id: m.id, button_id: 'go' }), evt('in_app_message_click', { message_id: m.id, button_id: 'nope' })] });
    expect(up.body).toMatchObject({ accepted: 2, errors: [{ index: 2, status: 400 }] });
    // Shown: not handed out again.
    expect((await sdk('GET', '/sdk/v1/in_app_messages?device_id=dev-m1')).body.messages).toEqual([]);

    // dev-m2's message expires unshown: aborted once when the device asks.
    await s.testDb.db.query(`UPDATE in_app_messages SET expires_at = now() - interval '1 second' WHERE header = 'Hello Bob'`);
    expect((await sdk('GET', '/sdk/v1/in_app_messages?device_id=dev-m2')).body.messages).toEqual([]);
    expect((await sdk('GET', '/sdk/v1/in_app_messages?device_id=dev-m2')).body.messages).toEqual([]);

    const log = await logOf('users.messages.inappmessage.%');
    expect(log.map((e) => `${e.event_type.split('.').pop()} ${e.user.external_user_id}`)).toEqual(['Impression cu1', 'Click cu1', 'Abort cu2']);
    expect(log[1].properties).toMatchObject({ card_id: m.id, button_id: 'go', app_id: appId, campaign_name: 'Cart nudge' });
    expect(log[2].properties).toMatchObject({ abort_type: 'expired', version: '1' });
  });
});
