/**
 * Limits and throttles that hold (docs/access-control.md): failed keys are counted per address and
 * key prefix, atomically, so parallel failures get no more than the limit and never lock out a
 * valid key; behind trusted proxies the real client address counts; and two instances on one
 * database share one budget per key and one failure budget per address.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startSecondInstance, type SecondInstance } from '../test-support/second-instance.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const ok = { attributes: [{ external_id: 'lim-1' }] };
const statuses = (list: Array<{ status: number }>) => {
  const counts: Record<number, number> = {};
  for (const r of list) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

describe(`failed authentication on ${TEST_BACKEND}`, () => {
  it('counts parallel failures atomically per address and key prefix, and never limits a valid key', { timeout: 240_000 }, async () => {
    const t = await startTestServer({ RIVULET_AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const guess = (i: number) => t.call('POST', '/users/track', ok, { key: `rvk_00000000aa_guess${i}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` });
      const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => guess(i)));
      // Exactly the limit is looked up and refused with 401; the rest never reach a lookup.
      expect(statuses(burst)).toEqual({ 401: 5, 429: 55 });
      // Another prefix from the same address has its own budget; the valid key is not limited at all.
      expect((await t.call('POST', '/users/track', ok, { key: 'rvk_00000000bb_x' })).status).toBe(401);
      const fresh = await t.createKey(['users.track']);
      const valid = await Promise.all(Array.from({ length: 20 }, () => t.call('POST', '/users/track', ok, { key: fresh })));
      expect(statuses(valid)).toEqual({ 201: 20 });
      expect((await t.call('POST', '/users/track', ok)).status).toBe(201);
    } finally {
      await t.close();
    }
  });

  it('counts the client address from X-Forwarded-For only when the proxy is trusted (RIVULET_TRUSTED_PROXIES)', { timeout: 240_000 }, async () => {
    const badFrom = (t: TestServer, address: string) =>
      t.call('POST', '/users/track', ok, { key: 'rvk_00000000cc_x', headers: { 'x-forwarded-for': address } });
    const trusting = await startTestServer({ RIVULET_AUTH_FAILURES_PER_MINUTE: '2', RIVULET_TRUSTED_PROXIES: '127.0.0.1' });
    try {
      expect([(await badFrom(trusting, '203.0.113.7')).status, (await badFrom(trusting, '203.0.113.7')).status]).toEqual([401, 401]);
      expect((await badFrom(trusting, '203.0.113.7')).status).toBe(429);
      expect((await badFrom(trusting, '203.0.113.8')).status).toBe(401);
    } finally {
      await trusting.close();
    }
    const direct = await startTestServer({ RIVULET_AUTH_FAILURES_PER_MINUTE: '2' });
    try {
      // Without the setting a client cannot pick its own address: every request is 127.0.0.1.
      await badFrom(direct, '203.0.113.7');
      await badFrom(direct, '203.0.113.8');
      expect((await badFrom(direct, '203.0.113.9')).status).toBe(429);
    } finally {
      await direct.close();
    }
    expect(loadConfig({ RIVULET_TRUSTED_PROXIES: '10.0.0.0/8, loopback,::1' }).trustedProxies).toEqual(['10.0.0.0/8', 'loopback', '::1']);
    expect(() => loadConfig({ RIVULET_TRUSTED_PROXIES: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ RIVULET_TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/RIVULET_TRUSTED_PROXIES/);
  });
});

describe(`limits shared by two instances on one database (${TEST_BACKEND})`, () => {
  const env = { RIVULET_RATE_LIMIT_EXPORT_IDS: '10', RIVULET_RATE_WINDOW_MS_EXPORT_IDS: '600000', RIVULET_AUTH_FAILURES_PER_MINUTE: '4' };
  let a: TestServer;
  let b: SecondInstance;
  let bUrl: string;

  beforeAll(async () => {
    a = await startTestServer(env);
    b = await startSecondInstance(a, env);
    bUrl = b.url;
  }, 240_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const exportOn = async (url: string, key: string) => {
    const res = await request(`${url}/users/export/ids`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external_ids: ['nobody'] }),
    });
    await res.body.dump();
    return { status: res.statusCode, remaining: res.headers['x-ratelimit-remaining'] };
  };

  it('gives a key one budget across both, one request after another and all at once', async () => {
    const key = await a.createKey(['users.export.ids']);
    const seen = [];
    for (let i = 0; i < 12; i++) seen.push(await exportOn(i % 2 ? bUrl : a.url, key));
    expect(seen.map((r) => r.status)).toEqual([...Array(10).fill(200), 429, 429]);
    expect(seen.map((r) => r.remaining)).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0', '0', '0']);

    const parallel = await a.createKey(['users.export.ids']);
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => exportOn(i % 2 ? bUrl : a.url, parallel)));
    expect(statuses(burst)).toEqual({ 200: 10, 429: 30 });
  });

  it('gives an address one failure budget across both', async () => {
    const bad = (url: string) => request(`${url}/users/track`, { method: 'POST', headers: { authorization: 'Bearer rvk_00000000dd_x', 'content-type': 'application/json' }, body: '{}' });
    const seen = [];
    for (let i = 0; i < 6; i++) {
      const res = await bad(i % 2 ? bUrl : a.url);
      await res.body.dump();
      seen.push(res.statusCode);
    }
    expect(seen).toEqual([401, 401, 401, 401, 429, 429]);
  });
});
