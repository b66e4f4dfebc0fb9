/**
 * `POST /currents/events` over real HTTP (docs/reference/currents.md §4): validation with the catalogue, user
 * resolution and its disagreements, idempotency by id, partial success, fatal errors, limits,
 * auth — and that accepted events land in the same log the core writes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, stateCounts, type TestServer } from '../src/test-support/server.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { allLogEvents } from './currents-support.js';

let s: TestServer;
let ann: string; // user id of external id "ann"
let anonUser: string;
const NOW = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  s = await startTestServer();
  expect((await s.call('POST', '/users/track', { attributes: [{ external_id: 'ann' }, { external_id: 'bob' }] })).status).toBe(201);
  const ids = await s.call('POST', '/users/export/ids', { external_ids: ['ann'] });
  ann = ids.body.users[0].braze_id;
  expect((await s.call('POST', '/sdk/sessions/start', { app_id: 'app', device_id: 'dev-anon', session_id: 's1' })).status).toBe(201);
  expect((await s.call('POST', '/sdk/sessions/start', { app_id: 'app', device_id: 'dev-ann', session_id: 's2' })).status).toBe(201);
  expect((await s.call('POST', '/sdk/users/change', { device_id: 'dev-ann', external_id: 'ann' })).status).toBe(201);
  const { rows } = await s.testDb.db.query<{ user_id: string }>("SELECT user_id FROM user_devices WHERE device_id = 'dev-anon'");
  anonUser = rows[0]!.user_id;
});
afterAll(() => s.close());

const emailOpen = (over: Record<string, unknown> = {}, user: Record<string, unknown> = { external_user_id: 'ann' }) => ({
  event_type: 'users.messages.email.Open',
  id: randomUUID(),
  time: NOW - 60,
  user,
  properties: { email_address: 'ann@example.com', campaign_id: 'c1', ...over },
});

describe(`POST /currents/events on ${TEST_BACKEND}`, () => {
  it('appends valid events to the event log with the resolved ids filled in', async () => {
    const byExternal = emailOpen();
    const byDevice = { ...emailOpen({}, { device_id: 'dev-anon' }), event_type: 'users.messages.pushnotification.Open', properties: { app_id: 'app', platform: 'ios' } };
    const byUserId = emailOpen({}, { user_id: ann, timezone: 'Europe/Paris' });
    const res = await s.call('POST', '/currents/events', { events: [byExternal, byDevice, byUserId] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ message: 'success', events_processed: 3, duplicates: 0 });
    const logged = new Map((await allLogEvents(s.testDb.db, s.workspaceId)).map((e) => [e.id, e]));
    expect(logged.get(byExternal.id)).toMatchObject({ user: { user_id: ann, external_user_id: 'ann' }, properties: byExternal.properties, time: byExternal.time });
    expect(logged.get(byDevice.id)!.user).toEqual({ user_id: anonUser, device_id: 'dev-anon' });
    expect(logged.get(byUserId.id)!.user).toEqual({ user_id: ann, external_user_id: 'ann', timezone: 'Europe/Paris' });
  });

  it('is idempotent by id: a repeat is acknowledged and counted as a duplicate, never appended twice', async () => {
    const e = emailOpen();
    expect((await s.call('POST', '/currents/events', { events: [e] })).body.duplicates).toBe(0);
    const before = (await stateCounts(s)).events;
    const again = await s.call('POST', '/currents/events', { events: [e, e, emailOpen()] });
    expect(again.status).toBe(201);
    expect(again.body).toEqual({ message: 'success', events_processed: 3, duplicates: 2 });
    expect((await stateCounts(s)).events).toBe(before + 1);
  });

  it('reports per-item failures by index and path, appending the rest', async () => {
    const good = emailOpen();
    const events = [
      good,
      { ...emailOpen(), event_type: 'users.messages.email.Teleport' },
      emailOpen({ email_address: undefined }),
      emailOpen({ colour: 'blue' }),
      { ...emailOpen(), time: NOW + 7200 },
      emailOpen({}, { user_id: randomUUID() }),
      emailOpen({}, { user_id: ann, external_user_id: 'bob' }),
      emailOpen({}, { external_user_id: 'ann', device_id: 'dev-anon' }),
      emailOpen({}, { external_user_id: 'nobody' }),
      emailOpen({}, { user_id: 'not-a-uuid' }),
    ];
    const res = await s.call('POST', '/currents/events', { events });
    expect(res.status).toBe(201);
    expect(res.body.events_processed).toBe(1);
    expect(res.body.errors).toEqual([
      { type: 'unknown event_type', input_array: 'events', index: 1, path: 'event_type' },
      { type: 'missing field email_address', input_array: 'events', index: 2, path: 'properties.email_address' },
      { type: 'unknown field colour', input_array: 'events', index: 3, path: 'properties.colour' },
      { type: 'invalid time', input_array: 'events', index: 4, path: 'time' },
      { type: 'unknown user', input_array: 'events', index: 5, path: 'user.user_id' },
      { type: 'user ids disagree: external_user_id names another user', input_array: 'events', index: 6, path: 'user.external_user_id' },
      { type: 'user ids disagree: device_id belongs to another user', input_array: 'events', index: 7, path: 'user.device_id' },
      { type: 'unknown user', input_array: 'events', index: 8, path: 'user.external_user_id' },
      { type: 'unknown user', input_array: 'events', index: 9, path: 'user.user_id' },
    ]);
    const ids = new Set((await allLogEvents(s.testDb.db, s.workspaceId)).map((e) => e.id));
    expect(ids.has(good.id)).toBe(true);
    expect(events.slice(1).some((e) => ids.has(e.id))).toBe(false);
  });

  it('refuses strings PostgreSQL cannot store (NUL, unpaired surrogates) per item, never with a 5xx', async () => {
    const good = emailOpen();
    const raw = JSON.stringify({ events: [good, emailOpen({ campaign_name: 'NUL_HERE' }), emailOpen({ campaign_name: 'SURROGATE_HERE' })] })
      .replace('NUL_HERE', 'a\\u0000b')
      .replace('SURROGATE_HERE', 'a\\ud800b');
    const res = await s.call('POST', '/currents/events', undefined, { raw });
    expect(res.status).toBe(201);
    expect(res.body.errors).toEqual([
      { type: 'string at properties.campaign_name contains U+0000 or an unpaired UTF-16 surrogate', input_array: 'events', index: 1, path: 'properties.campaign_name' },
      { type: 'string at properties.campaign_name contains U+0000 or an unpaired UTF-16 surrogate', input_array: 'events', index: 2, path: 'properties.campaign_name' },
    ]);
  });

  it('stores an sms.InboundReceive without a user (its user_id is nullable), and refuses other types without one', async () => {
    const inbound = {
      event_type: 'users.messages.sms.InboundReceive',
      id: randomUUID(),
      time: NOW,
      user: { external_user_id: 'stranger' },
      properties: { app_group_id: s.workspaceId, user_phone_number: '+15550100', inbound_phone_number: '+15550199', action: 'STOP', message_body: 'stop' },
    };
    const res = await s.call('POST', '/currents/events', { events: [inbound, emailOpen({}, {})] });
    expect(res.status).toBe(201);
    expect(res.body.errors).toEqual([{ type: 'unknown user', input_array: 'events', index: 1, path: 'user' }]);
    const logged = (await allLogEvents(s.testDb.db, s.workspaceId)).find((e) => e.id === inbound.id)!;
    expect(logged.user).toEqual({ external_user_id: 'stranger' });
    const { rows } = await s.testDb.db.query<{ user_id: string | null }>('SELECT user_id FROM event_log WHERE id = $1', [inbound.id]);
    expect(rows[0]!.user_id).toBeNull();
  });

  it('answers 400 "All objects failed validation" when nothing is valid, and appends nothing', async () => {
    const before = await stateCounts(s);
    const res = await s.call('POST', '/currents/events', { events: [emailOpen({}, { external_user_id: 'nobody' }), { id: 'x' }] });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('All objects failed validation');
    expect(res.body.errors).toEqual([
      { type: 'missing field event_type', input_array: 'events', index: 1, path: 'event_type' },
      { type: 'unknown user', input_array: 'events', index: 0, path: 'user.external_user_id' },
    ].sort((a, b) => a.index - b.index));
    expect(await stateCounts(s)).toEqual(before);
  });

  it('refuses bad envelopes, more than 1,000 events and bodies over 8 MiB; takes up to 8 MiB', async () => {
    expect((await s.call('POST', '/currents/events', { events: [] })).body.message).toBe('Request must contain events');
    expect((await s.call('POST', '/currents/events', { events: {} })).status).toBe(400);
    expect((await s.call('POST', '/currents/events', { events: [emailOpen()], extra: 1 })).body.errors[0].path).toBe('extra');
    expect((await s.call('POST', '/currents/events', undefined, { raw: '[1,2' })).status).toBe(400);
    const many = await s.call('POST', '/currents/events', { events: Array.from({ length: 1001 }, () => emailOpen()) });
    expect(many.status).toBe(400);
    expect(many.body.message).toBe('Max Input Length Exceeded');

    // ~6 MiB: over the REST API's 4 MiB, under the publish API's 8 MiB.
    const big = Array.from({ length: 1000 }, () => ({
      ...emailOpen(),
      event_type: 'users.behaviors.CustomEvent',
      properties: { name: 'big', custom_properties: { blob: 'x'.repeat(6000) } },
    }));
    const taken = await s.call('POST', '/currents/events', { events: big });
    expect(taken.status).toBe(201);
    expect(taken.body.events_processed).toBe(1000);
    const tooBig = await s.call('POST', '/currents/events', undefined, { raw: JSON.stringify({ events: [{ pad: 'x'.repeat(8 * 1024 * 1024) }] }) });
    expect(tooBig.status).toBe(413);
  });

  it('needs a key with currents.publish', async () => {
    expect((await s.call('POST', '/currents/events', { events: [emailOpen()] }, { key: null })).status).toBe(401);
    const trackOnly = await s.createKey(['users.track']);
    const denied = await s.call('POST', '/currents/events', { events: [emailOpen()] }, { key: trackOnly });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('currents.publish');
    const publisher = await s.createKey(['currents.publish']);
    expect((await s.call('POST', '/currents/events', { events: [emailOpen()] }, { key: publisher })).status).toBe(201);
  });
});
