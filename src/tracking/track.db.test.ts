import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateCounts, startTestServer, type TestServer } from '../test-support/server.js';
import { TEST_BACKEND } from '../test-support/db.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const track = (body: unknown, key?: string) => s.call('POST', '/users/track', body, key ? { key } : {});
const profile = async (externalId: string) => {
  const r = await s.call('POST', '/users/export/ids', { external_ids: [externalId] });
  return r.body.users[0];
};
const logOf = async (userId: string) =>
  (
    await s.testDb.db.query<{ body: any }>('SELECT body FROM event_log WHERE user_id = $1 ORDER BY seq', [userId])
  ).rows.map((r) => r.body);

describe(`/users/track on ${TEST_BACKEND}`, () => {
  it('creates a user from attributes and applies every attribute operation', async () => {
    const r1 = await track({
      attributes: [
        {
          external_id: 'attr-1',
          first_name: 'Ann',
          country: 'de',
          gender: 'f',
          dob: '1990-02-28',
          time_zone: 'Europe/Berlin',
          plan: 'pro',
          visits: { inc: 2 },
          tags: ['a', 'b', 'a'],
          signup: '2020-05-01T10:00:00+02:00',
          address: { city: 'Berlin', zip: ['10115'] },
        },
      ],
    });
    expect(r1.status).toBe(201);
    expect(r1.body).toEqual({ message: 'success', attributes_processed: 1 });
    const r2 = await track({
      attributes: [{ external_id: 'attr-1', visits: { inc: 3 }, tags: { add: ['c'], remove: ['a'] }, plan: null, last_name: 'Lee' }],
    });
    expect(r2.status).toBe(201);
    const p = await profile('attr-1');
    expect(p).toMatchObject({
      external_id: 'attr-1',
      first_name: 'Ann',
      last_name: 'Lee',
      country: 'DE',
      gender: 'F',
      dob: '1990-02-28',
      time_zone: 'Europe/Berlin',
      began_anonymous: false,
      custom_attributes: { visits: 5, tags: ['b', 'c'], signup: '2020-05-01T08:00:00.000Z', address: { city: 'Berlin', zip: ['10115'] } },
    });
    expect(p.custom_attributes).not.toHaveProperty('plan');
  });

  it('appends each event and purchase to the event log exactly once, in the Currents format', async () => {
    const before = (await stateCounts(s)).events;
    const r = await track({
      attributes: [{ external_id: 'ev-1', time_zone: 'America/Chicago' }],
      events: [
        { external_id: 'ev-1', app_id: 'web', name: 'rented_movie', time: '2022-12-06T19:20:45+01:00', properties: { movie: 'The Sad Egg', n: 1 } },
        { external_id: 'ev-1', name: 'rented_movie', time: '2013-07-16T19:20:30:000+0100' },
      ],
      purchases: [{ external_id: 'ev-1', product_id: 'backpack', currency: 'usd', price: 40, quantity: 3, time: '2017-05-12T18:47:12Z', properties: { color: 'red' } }],
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ message: 'success', attributes_processed: 1, events_processed: 2, purchases_processed: 1 });
    expect((await stateCounts(s)).events - before).toBe(5);
    const p = await profile('ev-1');
    const log = await logOf(p.braze_id);
    expect(log).toHaveLength(5);
    expect(new Set(log.map((e) => e.id)).size).toBe(5);
    expect(log[0]).toEqual({
      event_type: 'users.behaviors.CustomEvent',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      time: Date.parse('2022-12-06T18:20:45Z') / 1000,
      user: { user_id: p.braze_id, external_user_id: 'ev-1', timezone: 'America/Chicago' },
      properties: { app_id: 'web', name: 'rented_movie', custom_properties: { movie: 'The Sad Egg', n: 1 }, app_group_id: s.workspaceId },
    });
    expect(log[1].time).toBe(Date.parse('2013-07-16T18:20:30Z') / 1000);
    const purchases = log.filter((e) => e.event_type === 'users.behaviors.Purchase');
    expect(purchases).toHaveLength(3);
    expect(purchases[0].properties).toEqual({
      product_id: 'backpack',
      price: 40,
      currency: 'USD',
      purchase_properties: { color: 'red' },
      app_group_id: s.workspaceId,
    });
    expect(p.custom_events).toEqual([{ name: 'rented_movie', first: '2013-07-16T18:20:30.000Z', last: '2022-12-06T18:20:45.000Z', count: 2 }]);
    expect(p.purchases).toEqual([{ name: 'backpack', first: '2017-05-12T18:47:12.000Z', last: '2017-05-12T18:47:12.000Z', count: 3 }]);
  });

  it('logs a global subscription state change whenever a subscription attribute is present', async () => {
    await track({ attributes: [{ external_id: 'sub-1', email: 'sub@example.com', email_subscribe: 'opted_in', push_subscribe: 'unsubscribed' }] });
    await track({ attributes: [{ external_id: 'sub-1', email_subscribe: 'opted_in' }] });
    const p = await profile('sub-1');
    const log = await logOf(p.braze_id);
    expect(log.map((e) => [e.properties.channel, e.properties.subscription_status])).toEqual([
      ['email', 'Opted In'],
      ['push', 'Unsubscribed'],
      ['email', 'Opted In'],
    ]);
    expect(log[0]).toMatchObject({
      event_type: 'users.behaviors.subscription.GlobalStateChange',
      properties: { state_change_source: 'REST API', email_address: 'sub@example.com', app_group_id: s.workspaceId },
    });
  });

  it('applies valid items and reports the invalid ones by array and index', async () => {
    const r = await track({
      attributes: [{ external_id: 'part-1', plan: 'x' }, { plan: 'no id' }, { external_id: 'a', user_alias: { alias_name: 'n', alias_label: 'l' } }],
      events: [
        { external_id: 'part-1', name: 'ok', time: '2024-01-01T00:00:00Z' },
        { external_id: 'part-1', name: 'bad', time: 'yesterday' },
        { external_id: 'part-1', name: 'old', time: '1969-12-31T23:59:59Z' },
        { external_id: 'part-1', name: 'reserved', time: '2024-01-01T00:00:00Z', properties: { time: 1 } },
        { external_id: 'part-1', name: '', time: '2024-01-01T00:00:00Z' },
      ],
      purchases: [{ external_id: 'part-1', product_id: 'p', currency: 'XXQ', price: 1, time: '2024-01-01T00:00:00Z' }],
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      message: 'success',
      attributes_processed: 1,
      events_processed: 1,
      purchases_processed: 0,
      errors: [
        { type: 'missing identifier', input_array: 'attributes', index: 1 },
        { type: 'multiple identifiers', input_array: 'attributes', index: 2 },
        { type: 'invalid time', input_array: 'events', index: 1 },
        { type: 'invalid time', input_array: 'events', index: 2 },
        { type: 'reserved property key time', input_array: 'events', index: 3 },
        { type: 'invalid name', input_array: 'events', index: 4 },
        { type: 'invalid currency', input_array: 'purchases', index: 0 },
      ],
    });
  });

  it('answers 400 "All objects failed validation" and changes nothing when every item fails', async () => {
    const before = await stateCounts(s);
    const r = await track({ events: [{ name: 'x', time: '2024-01-01T00:00:00Z' }], purchases: [{ external_id: 'q' }] });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('All objects failed validation');
    expect(r.body.errors).toEqual([
      { type: 'missing identifier', input_array: 'events', index: 0 },
      { type: 'invalid product_id', input_array: 'purchases', index: 0 },
    ]);
    expect(await stateCounts(s)).toEqual(before);
  });

  it('rejects more than 75 items in one array as a whole, and accepts exactly 75', async () => {
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ external_id: 'bulk-1', name: `e${i}`, time: '2024-01-01T00:00:00Z' }));
    const before = await stateCounts(s);
    const over = await track({ events: events(76) });
    expect(over.status).toBe(400);
    expect(over.body.message).toBe('Max Input Length Exceeded');
    expect(over.body.errors[0].path).toBe('events');
    expect(await stateCounts(s)).toEqual(before);
    const exact = await track({ events: events(75) });
    expect(exact.status).toBe(201);
    expect(exact.body.events_processed).toBe(75);
  });

  it('names wrong top-level types and empty requests', async () => {
    expect((await track({ events: {} })).body).toEqual({ message: 'events must be an array', errors: [{ type: 'events must be an array', path: 'events' }] });
    expect((await track({})).body.message).toBe('Request must contain attributes, events or purchases');
    expect((await track([1])).body.message).toBe('Invalid JSON');
  });

  it('follows the _update_existing_only matrix for user creation', async () => {
    const t = '2024-01-01T00:00:00Z';
    const r = await track({
      events: [
        { external_id: 'ueo-1', name: 'a', time: t, _update_existing_only: true },
        { user_alias: { alias_name: 'ueo', alias_label: 'lbl' }, name: 'a', time: t },
        { user_alias: { alias_name: 'ueo2', alias_label: 'lbl' }, name: 'a', time: t, _update_existing_only: false },
        { braze_id: '00000000-0000-4000-8000-000000000000', name: 'a', time: t },
        { email: 'only@example.com', name: 'a', time: t },
        { email: 'nobody@example.com', name: 'a', time: t, _update_existing_only: true },
        { external_id: 'ueo-2', name: 'a', time: t, _update_existing_only: false },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.events_processed).toBe(3);
    expect(r.body.errors.map((e: any) => [e.index, e.type])).toEqual([
      [0, 'user not found'],
      [1, 'user not found'],
      [3, 'user not found'],
      [5, 'user not found'],
    ]);
    const aliasUser = await s.call('POST', '/users/export/ids', { user_aliases: [{ alias_name: 'ueo2', alias_label: 'lbl' }] });
    expect(aliasUser.body.users[0]).toMatchObject({ began_anonymous: true, user_aliases: [{ alias_name: 'ueo2', alias_label: 'lbl' }] });
    expect(aliasUser.body.users[0]).not.toHaveProperty('external_id');
    const emailUser = await s.call('POST', '/users/export/ids', { email_address: 'only@example.com' });
    expect(emailUser.body.users[0]).toMatchObject({ email: 'only@example.com', began_anonymous: true });
  });

  it('makes a user created by an earlier item visible to later items of the same request', async () => {
    const r = await track({
      attributes: [{ external_id: 'chain-1', plan: 'gold' }],
      events: [{ external_id: 'chain-1', name: 'x', time: '2024-01-01T00:00:00Z', _update_existing_only: true }],
    });
    expect(r.body).toEqual({ message: 'success', attributes_processed: 1, events_processed: 1 });
    const log = await logOf((await profile('chain-1')).braze_id);
    expect(log[0].user.external_user_id).toBe('chain-1');
  });

  it('sets a future event time to the time of receipt', async () => {
    const before = Math.floor(Date.now() / 1000);
    await track({ events: [{ external_id: 'future-1', name: 'x', time: '2999-01-01T00:00:00Z' }] });
    const [e] = await logOf((await profile('future-1')).braze_id);
    expect(e.time).toBeGreaterThanOrEqual(before);
    expect(e.time).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('keeps external ids unique per workspace under concurrent creation', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => track({ attributes: [{ external_id: 'race-1', n: { inc: 1 } }] })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    const { rows } = await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM users WHERE external_id = 'race-1'`);
    expect(rows[0]!.n).toBe(1);
    expect((await profile('race-1')).custom_attributes.n).toBe(8);
  });

  it('leaves neither the profile change nor the events when the transaction fails half way', async () => {
    // A trigger that fails the event-log insert of a batch holding one event name, after the users were written.
    await s.testDb.db.exec(`
      CREATE FUNCTION fail_boom() RETURNS trigger AS $$
      BEGIN IF EXISTS (SELECT 1 FROM json_array_elements(NEW.events) e WHERE e->'properties'->>'name' = 'boom') THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER fail_boom BEFORE INSERT ON event_batches FOR EACH ROW EXECUTE FUNCTION fail_boom();`);
    try {
      const before = await stateCounts(s);
      const r = await track({
        attributes: [{ external_id: 'atomic-1', plan: 'x' }, { external_id: 'attr-1', plan: 'changed' }],
        events: [
          { external_id: 'atomic-1', name: 'fine', time: '2024-01-01T00:00:00Z' },
          { external_id: 'atomic-1', name: 'boom', time: '2024-01-01T00:00:00Z' },
        ],
      });
      expect(r.status).toBe(500);
      expect(await stateCounts(s)).toEqual(before);
      expect((await s.call('POST', '/users/export/ids', { external_ids: ['atomic-1'] })).body.users).toEqual([]);
      expect((await profile('attr-1')).custom_attributes).not.toHaveProperty('plan');
    } finally {
      await s.testDb.db.exec('DROP TRIGGER fail_boom ON event_batches; DROP FUNCTION fail_boom();');
    }
  });

  it('groups concurrent requests into shared transactions without mixing their outcomes', async () => {
    // One request in five holds an event the trigger rejects: its group fails and is re-run request
    // by request, so only those requests fail and every other one is applied exactly once.
    await s.testDb.db.exec(`
      CREATE FUNCTION fail_boom() RETURNS trigger AS $$
      BEGIN IF EXISTS (SELECT 1 FROM json_array_elements(NEW.events) e WHERE e->'properties'->>'name' = 'boom') THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER fail_boom BEFORE INSERT ON event_batches FOR EACH ROW EXECUTE FUNCTION fail_boom();`);
    const metric = async (name: string) => {
      const text = (await s.call('GET', '/metrics')).body as string;
      return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    };
    try {
      const transactionsBefore = await metric('rivulet_track_transactions_total');
      const requests = Array.from({ length: 40 }, (_, i) => ({
        attributes: [{ external_id: 'group-shared', n: { inc: 1 } }, { external_id: `group-${i}`, i }],
        events: [
          { external_id: `group-${i}`, name: 'grouped', time: '2024-01-01T00:00:00Z', properties: { i } },
          { external_id: 'group-shared', name: i % 5 === 3 ? 'boom' : 'grouped', time: '2024-01-01T00:00:00Z', properties: { i } },
        ],
      }));
      const results = await Promise.all(requests.map((body) => track(body)));
      const failed = results.flatMap((r, i) => (r.status === 201 ? [] : [i]));
      expect(failed).toEqual([3, 8, 13, 18, 23, 28, 33, 38]);
      for (const i of failed) expect(results[i]!.status).toBe(500);
      for (const r of results.filter((r) => r.status === 201)) {
        expect(r.body).toEqual({ message: 'success', attributes_processed: 2, events_processed: 2 });
      }
      expect((await profile('group-shared')).custom_attributes.n).toBe(32);
      for (let i = 0; i < 40; i++) {
        const p = await profile(`group-${i}`);
        if (failed.includes(i)) expect(p).toBeUndefined();
        else expect(p.custom_attributes.i).toBe(i);
      }
      const { rows } = await s.testDb.db.query<{ i: number; n: number }>(
        `SELECT (body->'properties'->'custom_properties'->>'i')::int AS i, count(*)::int8 AS n FROM event_log
          WHERE body->'properties'->>'name' = 'grouped' GROUP BY 1 ORDER BY 1`,
      );
      expect(rows).toEqual(
        Array.from({ length: 40 }, (_, i) => i)
          .filter((i) => !failed.includes(i))
          .map((i) => ({ i, n: 2 })),
      );
      // On PostgreSQL, 40 concurrent requests share transactions. (PGlite in the test's own process
      // applies each request before the next has been read, so they seldom meet there; the
      // grouping itself is tested on both backends in storage/group-commit.db.test.ts.)
      const transactions = (await metric('rivulet_track_transactions_total')) - transactionsBefore;
      if (TEST_BACKEND === 'postgres') {
        expect(transactions).toBeLessThan(40);
        expect(await metric('rivulet_track_group_splits_total')).toBeGreaterThan(0);
      } else expect(transactions).toBeLessThanOrEqual(40);
    } finally {
      await s.testDb.db.exec('DROP TRIGGER fail_boom ON event_batches; DROP FUNCTION fail_boom();');
    }
  });
});
