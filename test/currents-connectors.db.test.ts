/**
 * The connector admin API over real HTTP against the Mixpanel emulator: create (and the 400s naming
 * each bad field), list, status, pause/resume, delete, the connection test, credentials sealed at
 * rest and never returned, delivery with skip counters, dead letters and their re-send.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '100';

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, startEmulator, waitFor } from './currents-support.js';

const P1 = projectCreds('4101');
const P2 = projectCreds('4102');
let s: TestServer;
let mp: RunningMixpanelEmulator;
/** The emulator's clock offset: Mixpanel's idea of "now" may lag ours. */
let clockOffsetMs = 0;
const NOW = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  mp = await startEmulator([P1, P2], { now: () => Date.now() + clockOffsetMs });
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
  await mp.close();
});

const secretsOf = (p: typeof P1) => [p.secret, p.token, p.apiSecret, p.username];

async function status(id: string) {
  const res = await s.call('GET', `/admin/currents/${id}/status`);
  expect(res.status).toBe(200);
  return res.body;
}

describe(`connector admin API on ${TEST_BACKEND}`, () => {
  it('serves the catalogue grouped for the connector form, and documents the routes', async () => {
    const res = await s.call('GET', '/admin/currents/event-types');
    expect(res.status).toBe(200);
    expect(res.body.groups.map((g: { label: string }) => g.label)).toEqual(['Behaviors', 'Campaigns', 'Canvas', 'Messages']);
    expect(res.body.groups[0].types[0]).toMatchObject({ type: 'users.behaviors.CustomEvent', mixpanel_event: '[Braze Custom Event] <name>', selectable: true });
    expect(res.body.legacy.every((t: { selectable: boolean }) => !t.selectable)).toBe(true);
    const doc = await s.call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    for (const path of ['/currents/events', '/admin/currents', '/admin/currents/mixpanel', '/admin/currents/{id}/status', '/admin/currents/{id}/dead-letters/resend']) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
  });

  it('names every bad field of a create request with a 400', async () => {
    const res = await s.call('POST', '/admin/currents/mixpanel', {
      ...connectorBody(mp.url, P1),
      credentials: { kind: 'service_account', username: P1.username },
      event_types: ['users.messages.newsfeedcard.Click'],
      base_url: 'gopher://x',
      max_in_flight: 99,
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['credentials.secret', 'credentials.project_id', 'event_types[0]', 'base_url', 'max_in_flight']);
    expect((await s.call('POST', '/admin/currents/mixpanel', undefined, { raw: '[]' })).status).toBe(400);
    const unauthorized = await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P1), { key: await s.createKey(['currents.publish']) });
    expect(unauthorized.status).toBe(403);
  });

  it('creates, lists, pauses, resumes and deletes; never returns a credential; stores only ciphertext', async () => {
    const created = await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P1, { name: 'Lifecycle' }));
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({
      name: 'Lifecycle',
      state: 'active',
      region: 'US',
      base_url: mp.url,
      ingestion_url: `${mp.url}/import`,
      credential_kind: 'service_account',
      project_id: P1.projectId,
      partner_id: 'rivulet',
      batch_byte_cap: 9 * 1024 * 1024,
      max_in_flight: 4,
      credential_hints: { username: `…${P1.username.slice(-4)}`, secret: `…${P1.secret.slice(-4)}`, project_token: `…${P1.token.slice(-4)}` },
    });

    const responses = [
      created,
      await s.call('GET', '/admin/currents'),
      await s.call('GET', `/admin/currents/${id}`),
      await s.call('GET', `/admin/currents/${id}/status`),
      await s.call('POST', `/admin/currents/${id}/pause`),
      await s.call('POST', `/admin/currents/${id}/resume`),
      await s.call('POST', `/admin/currents/${id}/test`),
    ];
    for (const r of responses) {
      expect(r.status).toBe(200 + (r === created ? 1 : 0));
      const text = JSON.stringify(r.body);
      for (const secret of secretsOf(P1)) expect(text).not.toContain(secret);
    }
    expect(responses[1]!.body.connectors.map((c: { id: string }) => c.id)).toContain(id);
    expect(responses[4]!.body.state).toBe('paused');
    expect(responses[5]!.body.state).toBe('active');

    // The database: the credentials column is ciphertext, and no column or row anywhere holds a secret in clear.
    const { rows } = await s.testDb.db.query<{ dump: string }>('SELECT row_to_json(c)::text AS dump FROM currents_connectors c WHERE id = $1', [id]);
    for (const secret of secretsOf(P1)) expect(rows[0]!.dump).not.toContain(secret);
    const { rows: raw } = await s.testDb.db.query<{ credentials: Uint8Array }>('SELECT credentials FROM currents_connectors WHERE id = $1', [id]);
    const bytes = Buffer.from(raw[0]!.credentials);
    expect(bytes[0]).toBe(1);
    for (const secret of secretsOf(P1)) expect(bytes.includes(Buffer.from(secret))).toBe(false);

    expect((await s.call('DELETE', `/admin/currents/${id}`)).status).toBe(204);
    expect((await s.call('GET', `/admin/currents/${id}`)).status).toBe(404);
    expect((await s.call('GET', '/admin/currents/not-a-uuid')).status).toBe(404);
  });

  it('tests the connection with a probe that imports nothing, and reports bad credentials', async () => {
    const good = (await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P2, { name: 'Probe ok' }))).body.id;
    const probe = await s.call('POST', `/admin/currents/${good}/test`);
    expect(probe.body).toMatchObject({ ok: true, status: 400 });
    expect(mp.emulator.store.count(P2.projectId, 'raw')).toBe(0);

    const wrong = await s.call('POST', '/admin/currents/mixpanel/test', connectorBody(mp.url, { ...P2, secret: 'wrong-secret-value' }));
    expect(wrong.body).toMatchObject({ ok: false, status: 401, message: 'Mixpanel rejected the credentials' });
    const legacy = await s.call('POST', '/admin/currents/mixpanel/test', { ...connectorBody(mp.url, P2), credentials: { kind: 'api_secret', api_secret: P2.apiSecret } });
    expect(legacy.body).toMatchObject({ ok: true });
    const unreachable = await s.call('POST', '/admin/currents/mixpanel/test', connectorBody('http://127.0.0.1:1', P2));
    expect(unreachable.body).toMatchObject({ ok: false, status: null });
    await s.call('DELETE', `/admin/currents/${good}`);
  });

  it('flags a connector degraded after continuous transient failure (30 min, scaled), notifies once, and recovers', { timeout: 60_000 }, async () => {
    mp.emulator.reset();
    const id = (await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P2, { name: 'Flaky' }))).body.id;
    mp.emulator.setFaults({ rate5xx: 1, status5xx: 503 }, P2.projectId);
    expect((await s.call('POST', '/users/track', { attributes: [{ external_id: 'dora' }], events: [{ external_id: 'dora', name: 'x', time: new Date().toISOString() }] })).status).toBe(201);
    // 30 min × 0.002 = 3.6 s of nothing but 503s.
    const degraded = await waitFor(async () => {
      const st = await status(id);
      return st.state === 'degraded' ? st : undefined;
    }, 'the connector to be degraded', 30_000);
    expect(degraded.last_error).toContain('503');
    mp.emulator.setFaults({}, P2.projectId);
    await waitFor(async () => (await status(id)).state === 'active' && mp.emulator.events(P2.projectId).length === 1, 'recovery', 30_000);
    const notices = await waitFor(async () => {
      const n = (await s.call('GET', `/admin/currents/${id}/notifications`)).body.notifications as Array<{ kind: string; sent_at: string | null }>;
      return n.length === 2 && n.every((x) => x.sent_at) ? n.map((x) => x.kind).reverse() : undefined;
    }, 'the notices');
    expect(notices).toEqual(['connector_degraded', 'connector_recovered']);
    await s.call('DELETE', `/admin/currents/${id}`);
  });

  it('delivers what the core and the publish API log, skipping, fitting and dead-lettering by reason, and re-sends dead letters with their $insert_id', async () => {
    mp.emulator.reset();
    // Mixpanel's clock 30 min behind ours: an event 50 min ahead passes Rivulet (≤ 1 h) and fails at Mixpanel (> 1 h).
    clockOffsetMs = -30 * 60_000;
    // Bodies over 3,000 bytes get 413: batches split, and an event that alone is larger is dead-lettered as too_large.
    mp.emulator.updateSettings({ maxBodyBytes: 3000 });
    const created = await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P1, { name: 'Delivery', batch_byte_cap: 8192 }));
    const id = created.body.id;
    expect((await s.call('POST', '/users/track', { attributes: [{ external_id: 'null' }] })).status).toBe(201);
    const iso = new Date((NOW - 3600) * 1000).toISOString();
    const track = await s.call('POST', '/users/track', {
      attributes: [{ external_id: 'carol', email: 'carol@example.com', email_subscribe: 'opted_in' }],
      events: [
        { external_id: 'carol', name: 'played', time: iso, properties: { level: 3 } },
        { external_id: 'carol', name: 'paused', time: iso },
        { external_id: 'null', name: 'played', time: iso },
      ],
      purchases: [{ external_id: 'carol', product_id: 'sku-1', currency: 'USD', price: 9.5, quantity: 2, time: iso }],
    });
    expect(track.status).toBe(201);
    // The two events an independent strict validator caught (issue 17 §3): a 276-character event name and a 274-character property name.
    const longName = 'w'.repeat(255);
    const ahead = randomUUID();
    const publish = await s.call('POST', '/currents/events', {
      events: [
        { event_type: 'users.behaviors.CustomEvent', id: randomUUID(), time: 1_000_000_000, user: { external_user_id: 'carol' }, properties: { name: 'ancient' } },
        { event_type: 'users.behaviors.CustomEvent', id: 'evt:long/1', time: NOW - 3600, user: { external_user_id: 'carol' }, properties: { name: longName } },
        { event_type: 'users.behaviors.CustomEvent', id: 'evt:long/2', time: NOW - 3600, user: { external_user_id: 'carol' }, properties: { name: 'keyed', custom_properties: { ['k'.repeat(250)]: 1, s: 'v'.repeat(300) } } },
        { event_type: 'users.behaviors.CustomEvent', id: ahead, time: NOW + 50 * 60, user: { external_user_id: 'carol' }, properties: { name: 'ahead' } },
        { event_type: 'users.behaviors.CustomEvent', id: 'evt:big/1', time: NOW - 3600, user: { external_user_id: 'carol' }, properties: { name: 'big', custom_properties: { blob: 'x'.repeat(200), more: 'y'.repeat(250), list: Array.from({ length: 200 }, (_, i) => `item-${i}-zzzzzzzzzz`) } } },
      ],
    });
    expect(publish.status).toBe(201);

    const log = await allLogEvents(s.testDb.db, s.workspaceId);
    const mine = log.filter((e) => e.user.external_user_id === 'carol' || e.user.external_user_id === 'null');
    const expected = expectedFor(mine, ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'], P1.token);
    const notDelivered = new Set([ahead, 'evt:big/1']);
    const expectedEvents = mine.filter((e) => notDelivered.has(e.id));
    expect(expectedEvents).toHaveLength(2);

    const final = await waitFor(async () => {
      const st = await status(id);
      return st.lag.events === 0 && st.in_flight === 0 ? st : undefined;
    }, 'the connector to catch up');
    const delivered = mp.emulator.events(P1.projectId).sort(byInsertId);
    const deliveredIds = new Set(delivered.map((e) => e.properties['$insert_id']));
    expect(delivered).toEqual(expected.events.filter((e) => !notDelivered.has(String(e.properties['$insert_id'])) && e.properties['$insert_id'] !== '').filter((e) => deliveredIds.has(e.properties['$insert_id'])).sort(byInsertId));
    expect(delivered).toHaveLength(expected.events.length - 2);
    expect(final.skipped_by_reason).toEqual({ before_2010: 1, invalid_distinct_id: 1, not_selected: 1 });
    expect(final.dead_lettered_by_reason).toEqual({ failed_record: 1, too_large: 1 });
    // Both are sent, fitted to Mixpanel's limits (docs/reference/currents.md §2.4), and counted.
    expect(expected.fitted).toEqual({ event_name_truncated: 1, property_name_truncated: 1, string_truncated: 1 });
    expect(final.fitted_by_reason).toEqual(expected.fitted);
    expect(final.fitted_total).toBe(3);
    expect(delivered.find((e) => e.properties['name'] === longName)!.event).toHaveLength(255);
    expect(Object.keys(delivered.find((e) => e.properties['name'] === 'keyed')!.properties).filter((k) => k.length === 255)).toHaveLength(1);
    expect(final.sent).toBe(expected.events.length - 2);
    expect(final.read).toBe(final.sent + final.skipped_total + final.dead_lettered_total);
    expect(mp.emulator.stats().requests.by_status['413']).toBeGreaterThan(0);

    const letters = (await s.call('GET', `/admin/currents/${id}/dead-letters`)).body.dead_letters;
    expect(letters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event_id: ahead, insert_id: ahead, reason: 'failed_record', field: 'properties.time', state: 'dead' }),
        expect.objectContaining({ event_id: 'evt:big/1', reason: 'too_large', state: 'dead' }),
      ]),
    );
    expect(letters).toHaveLength(2);
    expect(JSON.stringify(letters)).not.toContain(P1.token);

    // Mixpanel's body limit is restored but its clock is still behind: the big one goes through, the
    // early one fails again and stays dead.
    mp.emulator.updateSettings({ maxBodyBytes: 10_485_760 });
    const aheadLetter = letters.find((l: { event_id: string }) => l.event_id === ahead);
    const bigLetter = letters.find((l: { event_id: string }) => l.event_id === 'evt:big/1');
    const resent = await s.call('POST', `/admin/currents/${id}/dead-letters/resend`, { ids: [aheadLetter.id, bigLetter.id] });
    expect(resent.body).toMatchObject({ resent: 1, failed_again: 1, not_attempted: 0 });
    expect((await status(id)).dead_lettered_by_reason).toEqual({ failed_record: 1 });
    // Mixpanel's clock catches up: the re-send goes through, with the same $insert_id.
    clockOffsetMs = 0;
    const again = await s.call('POST', `/admin/currents/${id}/dead-letters/resend`, { all: true });
    expect(again.body).toMatchObject({ resent: 1, failed_again: 0, not_attempted: 0 });
    const landed = mp.emulator.events(P1.projectId).filter((e) => e.properties['$insert_id'] === ahead || e.properties['name'] === 'big');
    expect(landed).toHaveLength(2);
    expect(landed.map((e) => e.properties['$insert_id']).sort()).toEqual(expected.events.filter((e) => e.properties['$insert_id'] === ahead || e.properties['name'] === 'big').map((e) => e.properties['$insert_id']).sort());
    const after = await status(id);
    expect(after.dead_lettered_by_reason).toEqual({});
    expect(after.sent).toBe(expected.events.length);
    expect(after.read).toBe(final.read);
    expect((await s.call('GET', `/admin/currents/${id}/dead-letters?state=resent`)).body.dead_letters).toHaveLength(2);

    // Prometheus sees the skips by connector, event type and reason.
    const metrics = await s.call('GET', '/metrics');
    expect(metrics.body).toContain(`rivulet_currents_skipped_total{connector="${id}",event_type="users.behaviors.CustomEvent",reason="before_2010"} 1`);
    expect(metrics.body).toContain(`rivulet_currents_state{connector="${id}",state="active"} 1`);
    expect(metrics.body).toContain(`rivulet_currents_fitted_total{connector="${id}",event_type="users.behaviors.CustomEvent",reason="event_name_truncated"} 1`);
    await s.call('DELETE', `/admin/currents/${id}`);
  });
});
