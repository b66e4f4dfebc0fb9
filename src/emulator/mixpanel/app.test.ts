/**
 * The emulator over real HTTP on 127.0.0.1: auth, check order, limits, validation replies,
 * gzip and NDJSON, dedup read-back, fault injection, rate limit, stats and reset.
 */
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { buildMixpanelEmulator, type MixpanelEmulatorAppOptions } from './app.js';
import type { MixpanelEmulator } from './emulator.js';

const NOW_MS = Date.UTC(2025, 0, 15, 12);
const NOW_S = NOW_MS / 1000;
const TOKEN = 'tok_p1';
const SECRET = 'secret_p1';

let base: string;
let emulator: MixpanelEmulator;
let close: () => Promise<void>;
let clock = NOW_MS;

async function start(options: MixpanelEmulatorAppOptions = {}) {
  clock = NOW_MS;
  const built = buildMixpanelEmulator({
    now: () => clock,
    projects: [
      { id: '101', token: TOKEN, apiSecret: SECRET, serviceAccounts: [{ username: 'sa.owner', secret: 's3cret', role: 'owner' }] },
      { id: '202', token: 'tok_p2', apiSecret: 'secret_p2' },
    ],
    serviceAccounts: [
      { username: 'sa.analyst', secret: 'pw', roles: { '101': 'analyst', '202': 'admin' } },
      { username: 'sa.expired', secret: 'pw', roles: { '101': 'admin' }, expiresAtMs: NOW_MS - 1 },
    ],
    ...options,
  });
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  base = `http://127.0.0.1:${address.port}`;
  emulator = built.emulator;
  close = () => built.app.close();
}

const basic = (user: string, pass = '') => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const ev = (i: number, extra: Record<string, unknown> = {}) => ({
  event: 'Email Send',
  properties: { time: NOW_S - 60, distinct_id: 'u42', $insert_id: `ins-${i}`, ...extra },
});

interface Post {
  auth?: string | null;
  query?: string;
  body?: unknown;
  raw?: Buffer | string;
  gzip?: boolean;
  contentType?: string | null;
  headers?: Record<string, string>;
}

async function post({ auth = basic(TOKEN), query = '?strict=1', body, raw, gzip = false, contentType = 'application/json', headers = {} }: Post) {
  let payload: Buffer = Buffer.from(raw ?? JSON.stringify(body ?? [ev(0)]));
  const h: Record<string, string> = { ...headers };
  if (auth) h['authorization'] = auth;
  if (contentType) h['content-type'] = contentType;
  if (gzip) {
    payload = gzipSync(payload);
    h['content-encoding'] = 'gzip';
  }
  const res = await request(`${base}/import${query}`, { method: 'POST', headers: h, body: payload });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

async function get(path: string) {
  const res = await request(`${base}${path}`);
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

async function control(path: string, body: unknown) {
  const res = await request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

describe('Mixpanel emulator /import over HTTP', () => {
  beforeEach(() => start());
  afterEach(() => close());

  describe('authentication (§2)', () => {
    it('accepts a project token, a legacy API secret and a service account with Owner/Admin', async () => {
      expect((await post({ auth: basic(TOKEN) })).json).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
      expect((await post({ auth: basic(SECRET) })).status).toBe(200);
      expect((await post({ auth: basic('sa.owner', 's3cret'), query: '?strict=1&project_id=101' })).status).toBe(200);
      expect((await post({ auth: basic('sa.analyst', 'pw'), query: '?project_id=202' })).status).toBe(200);
      expect(emulator.store.count('101', 'raw')).toBe(3);
      expect(emulator.store.count('202', 'raw')).toBe(1);
    });

    it('answers 401 to a missing, malformed or unknown credential', async () => {
      const unauthorized = { code: 401, error: 'Invalid credentials', status: 'Unauthorized' };
      expect(await post({ auth: null })).toMatchObject({ status: 401, json: unauthorized });
      expect(await post({ auth: 'Bearer abc' })).toMatchObject({ status: 401, json: unauthorized });
      expect(await post({ auth: `Basic ${Buffer.from('nocolon').toString('base64')}` })).toMatchObject({ status: 401 });
      expect(await post({ auth: basic('nope') })).toMatchObject({ status: 401 });
      expect(await post({ auth: basic('sa.owner', 'wrong'), query: '?project_id=101' })).toMatchObject({ status: 401 });
      expect(await post({ auth: basic('sa.owner', 's3cret') })).toMatchObject({ status: 401 });
      expect(await post({ auth: basic(TOKEN), query: '?project_id=101' })).toMatchObject({ status: 401 });
      expect(await post({ auth: basic('sa.expired', 'pw'), query: '?project_id=101' })).toMatchObject({ status: 401 });
      expect(emulator.store.count('101', 'raw')).toBe(0);
    });

    it('answers 403 to a service account without Owner/Admin on that project', async () => {
      const forbidden = { code: 403, error: 'service account lacks Owner or Admin on this project', status: 'Forbidden' };
      expect(await post({ auth: basic('sa.analyst', 'pw'), query: '?project_id=101' })).toMatchObject({ status: 403, json: forbidden });
      expect(await post({ auth: basic('sa.owner', 's3cret'), query: '?project_id=202' })).toMatchObject({ status: 403 });
      expect(await post({ auth: basic('sa.owner', 's3cret'), query: '?project_id=999' })).toMatchObject({ status: 403 });
    });

    it('checks auth before size', async () => {
      await control('/_emulator/settings', { max_body_bytes: 10 });
      expect((await post({ auth: basic('nope') })).status).toBe(401);
      expect((await post({})).status).toBe(413);
    });
  });

  describe('request limits and formats (§2, §3, §5)', () => {
    it('accepts up to 2,000 events and rejects the whole request above', async () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => ev(i));
      expect((await post({ body: many(2000) })).json).toEqual({ code: 200, num_records_imported: 2000, status: 'OK' });
      expect(await post({ body: many(2001) })).toMatchObject({
        status: 400,
        json: { code: 400, error: 'request contains 2001 events; the limit is 2000', status: 'Bad Request' },
      });
      expect(emulator.store.count('101', 'raw')).toBe(2000);
    });

    it('answers 413 above the uncompressed byte cap, gzip or not', async () => {
      await control('/_emulator/settings', { max_body_bytes: 2000 });
      const body = Array.from({ length: 30 }, (_, i) => ev(i));
      const size = Buffer.byteLength(JSON.stringify(body));
      expect(size).toBeGreaterThan(2000);
      const tooLarge = { code: 413, error: 'request exceeds max limit of 2000 bytes', status: 'Request Entity Too Large' };
      expect(await post({ body })).toMatchObject({ status: 413, json: tooLarge });
      expect(await post({ body, gzip: true })).toMatchObject({ status: 413, json: tooLarge });
      expect((await post({ body: body.slice(0, 5), gzip: true })).status).toBe(200);
    });

    it('uses 10,485,760 bytes as the default cap', async () => {
      const pad = 'x'.repeat(200);
      const body = Array.from({ length: 2000 }, (_, i) => ev(i, { pad: pad.repeat(26) }));
      expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(10_485_760);
      expect(await post({ body, gzip: true })).toMatchObject({ status: 413, json: { error: 'request exceeds max limit of 10485760 bytes' } });
      expect(await post({ body })).toMatchObject({ status: 413 });
      const under = body.slice(0, 1000);
      expect(Buffer.byteLength(JSON.stringify(under))).toBeGreaterThan(5_000_000);
      expect(await post({ body: under })).toMatchObject({ status: 200, json: { num_records_imported: 1000 } });
    });

    it('accepts gzip and NDJSON', async () => {
      expect((await post({ body: [ev(1), ev(2)], gzip: true })).json).toMatchObject({ num_records_imported: 2 });
      const ndjson = `${JSON.stringify(ev(3))}\n\n${JSON.stringify(ev(4))}\n`;
      expect((await post({ raw: ndjson, contentType: 'application/x-ndjson' })).json).toMatchObject({ num_records_imported: 2 });
      expect((await post({ raw: ndjson, contentType: 'application/x-ndjson', gzip: true })).json).toMatchObject({ num_records_imported: 2 });
      expect(emulator.store.count('101', 'raw')).toBe(6);
    });

    it('answers 415 to other content types and encodings', async () => {
      const unsupported = { code: 415, error: 'unsupported Content-Type or Content-Encoding', status: 'Unsupported Media Type' };
      expect(await post({ contentType: 'text/plain' })).toMatchObject({ status: 415, json: unsupported });
      expect(await post({ contentType: null })).toMatchObject({ status: 415 });
      expect(await post({ headers: { 'content-encoding': 'br' } })).toMatchObject({ status: 415 });
      expect((await post({ contentType: 'application/json; charset=utf-8' })).status).toBe(200);
    });

    it('rejects a malformed body as a whole', async () => {
      const whole = async (p: Post) => (await post(p)).json;
      expect(await whole({ raw: '[{"event":' })).toEqual({ code: 400, error: 'request body is not valid JSON', status: 'Bad Request' });
      expect(await whole({ raw: '{"event":"E"}' })).toMatchObject({ error: 'request body must be a JSON array of events' });
      expect(await whole({ raw: '[]' })).toMatchObject({ error: 'request contains no events' });
      expect(await whole({ raw: `${JSON.stringify(ev(1))}\nnope`, contentType: 'application/x-ndjson' })).toMatchObject({ error: 'line 2 is not valid JSON' });
      expect(await whole({ raw: Buffer.from([0x5b, 0xff, 0x5d]) })).toMatchObject({ error: 'request body is not valid UTF-8' });
      expect(await whole({ raw: 'not gzip', headers: { 'content-encoding': 'gzip' } })).toMatchObject({ error: 'request body is not valid gzip' });
      expect(emulator.store.count('101', 'raw')).toBe(0);
    });
  });

  describe('record validation (§4, §5)', () => {
    it('imports the valid records and reports each failed one by index', async () => {
      const body = [
        { event: 'E', properties: { distinct_id: 'u', $insert_id: 'bad-time' } },
        ev(1),
        { event: 'E', properties: { time: NOW_S, distinct_id: 'null', $insert_id: 'x2' } },
        { event: 'E', properties: { time: NOW_S, distinct_id: 'u' } },
        { event: 'E', properties: { time: NOW_S, distinct_id: 'u', $insert_id: 'has_underscore' } },
        ev(5),
      ];
      const res = await post({ body });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        code: 400,
        error: 'some data points in the request failed validation',
        num_records_imported: 2,
        status: 'Bad Request',
        failed_records: [
          { index: 0, $insert_id: 'bad-time', field: 'properties.time', message: "'properties.time' is invalid: must be specified as seconds since epoch" },
          { index: 2, $insert_id: 'x2', field: 'properties.distinct_id', message: "'properties.distinct_id' is invalid: value is not allowed" },
          { index: 3, $insert_id: null, field: 'properties.$insert_id', message: "'properties.$insert_id' is required" },
          {
            index: 4,
            $insert_id: 'has_underscore',
            field: 'properties.$insert_id',
            message: "'properties.$insert_id' is invalid: must be at most 36 bytes of alphanumerics and '-'",
          },
        ],
      });
      expect(emulator.events('101', 'raw').map((r) => r.properties['$insert_id'])).toEqual(['ins-1', 'ins-5']);
    });

    it('names the record id insert_id when configured', async () => {
      await control('/_emulator/settings', { failed_record_id_key: 'insert_id' });
      const res = await post({ body: [{ event: 'E', properties: { distinct_id: 'u', $insert_id: 'x1' } }] });
      expect(res.json).toMatchObject({ num_records_imported: 0, failed_records: [{ index: 0, insert_id: 'x1', field: 'properties.time' }] });
      expect((res.json!['failed_records'] as object[])[0]).not.toHaveProperty('$insert_id');
    });

    it('drops invalid records silently with strict=0', async () => {
      const body = [ev(1), { event: '', properties: {} }, ev(2)];
      expect(await post({ body, query: '?strict=0' })).toMatchObject({ status: 200, json: { code: 200, num_records_imported: 2, status: 'OK' } });
      expect(emulator.store.count('101', 'raw')).toBe(2);
    });

    it('treats a missing strict as strict=1 and ignores ip and verbose', async () => {
      expect((await post({ body: [{ event: '' , properties: {} }], query: '?ip=0&verbose=1' })).status).toBe(400);
    });

    it('counts $ignore records without storing them', async () => {
      expect((await post({ body: [ev(1, { $ignore: true }), ev(2)] })).json).toMatchObject({ num_records_imported: 2 });
      expect(emulator.store.count('101', 'raw')).toBe(1);
    });

    it('stores strings truncated to 255 characters', async () => {
      await post({ body: [ev(1, { long: 'y'.repeat(400) })] });
      expect(emulator.events('101')[0]!.properties['long']).toBe('y'.repeat(255));
    });
  });

  describe('read-back and dedup views (§6)', () => {
    it('serves raw, dedup and dedup_daily', async () => {
      await post({ body: [ev(1, { v: 'first' }), ev(2)] });
      await post({ body: [ev(1, { v: 'second' })] }); // redelivery: same key
      await post({ body: [ev(1, { v: 'other-time', time: NOW_S - 30 })] }); // same day, other time
      await post({ body: [{ ...ev(1), properties: { ...ev(1).properties, time: (NOW_S - 60) * 1000, v: 'ms' } }] }); // same key in ms
      const view = async (v: string) => (await get(`/_emulator/events?project_id=101&view=${v}`)).json;
      expect((await view('raw')).total).toBe(5);
      const dedup = await view('dedup');
      expect(dedup).toMatchObject({ project_id: '101', view: 'dedup', total: 3, offset: 0 });
      expect(dedup['events'].map((e: any) => e.properties.v ?? e.properties.$insert_id)).toEqual(['ins-2', 'other-time', 'ms']);
      const daily = await view('dedup_daily');
      expect(daily['events'].map((e: any) => e.properties.v ?? e.properties.$insert_id)).toEqual(['ins-2', 'ms']);
      expect((await get('/_emulator/events?project_id=101')).json['view']).toBe('dedup');
      const page = (await get('/_emulator/events?project_id=101&view=raw&offset=1&limit=2')).json;
      expect(page['events']).toHaveLength(2);
      expect(page['total']).toBe(5);
    });

    it('validates read-back queries', async () => {
      expect((await get('/_emulator/events')).status).toBe(400);
      expect((await get('/_emulator/events?project_id=404')).status).toBe(404);
      expect((await get('/_emulator/events?project_id=101&view=nope')).status).toBe(400);
      expect((await get('/_emulator/events?project_id=101&limit=-1')).status).toBe(400);
    });
  });

  describe('fault injection', () => {
    it('plays scripted statuses with Retry-After, before auth', async () => {
      await control('/_emulator/faults', { script: [503, 429, 200, 500], retry_after: 3 });
      const a = await post({ auth: basic('nope') });
      expect(a).toMatchObject({ status: 503, json: { code: 503, error: 'injected fault', status: 'Service Unavailable' } });
      expect(a.headers['retry-after']).toBe('3');
      const b = await post({});
      expect(b).toMatchObject({ status: 429, json: { error: 'Project exceeded rate limits. Please retry the request with exponential backoff.' } });
      expect((await post({})).status).toBe(200);
      expect((await post({})).status).toBe(500);
      expect((await post({})).status).toBe(200);
      expect(emulator.store.count('101', 'raw')).toBe(2);
    });

    it('injects 401 and 413 with their usual bodies, and no Retry-After unless asked', async () => {
      await control('/_emulator/faults', { script: [401, 413] });
      const a = await post({});
      expect(a).toMatchObject({ status: 401, json: { error: 'Invalid credentials' } });
      expect(a.headers['retry-after']).toBeUndefined();
      expect(await post({})).toMatchObject({ status: 413, json: { error: 'request exceeds max limit of 10485760 bytes' } });
    });

    it('answers an outage window with its status for its duration', async () => {
      await control('/_emulator/faults', { outage: { status: 502, duration_ms: 5000 }, retry_after: 'Wed, 15 Jan 2025 12:01:00 GMT' });
      const during = await post({});
      expect(during.status).toBe(502);
      expect(during.headers['retry-after']).toBe('Wed, 15 Jan 2025 12:01:00 GMT');
      clock += 5000;
      expect((await post({})).status).toBe(200);
    });

    it('draws random faults reproducibly from a seed', async () => {
      const run = async () => {
        await control('/_emulator/faults', { seed: 99, rate_429: 0.3, rate_5xx: 0.2, status_5xx: 504 });
        const out: number[] = [];
        for (let i = 0; i < 30; i++) out.push((await post({})).status);
        return out;
      };
      const first = await run();
      expect(await run()).toEqual(first);
      expect(new Set(first)).toEqual(new Set([200, 429, 504]));
    });

    it('scopes faults to one project', async () => {
      await control('/_emulator/faults', { project_id: '202', script: [503, 503] });
      expect((await post({ auth: basic(TOKEN) })).status).toBe(200);
      expect((await post({ auth: basic('tok_p2') })).status).toBe(503);
    });

    it('adds latency', async () => {
      await control('/_emulator/faults', { latency_ms: 150 });
      const started = performance.now();
      expect((await post({})).status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('rejects a malformed fault spec', async () => {
      expect((await control('/_emulator/faults', { rate_429: 2 })).status).toBe(400);
      expect((await control('/_emulator/faults', { script: ['x'] })).status).toBe(400);
    });
  });

  describe('rate limit (§7)', () => {
    it('counts uncompressed bytes per project in a rolling 60 s window', async () => {
      await control('/_emulator/settings', { rate_limit_bytes_per_minute: 1000 });
      const body = Array.from({ length: 12 }, (_, i) => ev(i));
      expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(1000);
      expect((await post({ body, gzip: true })).status).toBe(200);
      const limited = await post({});
      expect(limited).toMatchObject({ status: 429, json: { code: 429, status: 'Too Many Requests' } });
      expect(limited.headers['retry-after']).toBeUndefined();
      expect((await post({ auth: basic('tok_p2') })).status).toBe(200);
      clock += 59_999;
      expect((await post({})).status).toBe(429);
      clock += 1;
      expect((await post({})).status).toBe(200);
    });

    it('checks the rate limit before size', async () => {
      await control('/_emulator/settings', { rate_limit_bytes_per_minute: 10 });
      await post({});
      await control('/_emulator/settings', { max_body_bytes: 10 });
      expect((await post({})).status).toBe(429);
    });
  });

  describe('control endpoints', () => {
    it('creates projects with generated credentials and service accounts', async () => {
      const created = await control('/_emulator/projects', { service_accounts: [{ username: 'svc', secret: 'pw', role: 'admin' }] });
      expect(created.status).toBe(201);
      const { project_id, token, api_secret } = created.json;
      expect(typeof token).toBe('string');
      expect(created.json['service_accounts']).toEqual([{ username: 'svc', secret: 'pw', role: 'admin', expires_at: null }]);
      expect((await post({ auth: basic(token) })).status).toBe(200);
      expect((await post({ auth: basic(api_secret) })).status).toBe(200);
      expect((await post({ auth: basic('svc', 'pw'), query: `?project_id=${project_id}` })).status).toBe(200);
      expect(emulator.store.count(project_id, 'raw')).toBe(3);
      expect((await control('/_emulator/projects', { project_id: '101' })).status).toBe(409);
      expect((await control('/_emulator/projects', { service_accounts: [{ username: 'x' }] })).status).toBe(400);
    });

    it('grants service accounts on existing projects, with expiry', async () => {
      const granted = await control('/_emulator/projects/202/service-accounts', { username: 'late', secret: 'pw', role: 'owner', expires_at: NOW_MS + 1000 });
      expect(granted.status).toBe(201);
      expect((await post({ auth: basic('late', 'pw'), query: '?project_id=202' })).status).toBe(200);
      clock += 1000;
      expect((await post({ auth: basic('late', 'pw'), query: '?project_id=202' })).status).toBe(401);
      expect((await control('/_emulator/projects/999/service-accounts', { username: 'a', secret: 'b' })).status).toBe(404);
    });

    it('counts requests by status, globally and per project', async () => {
      await post({});
      await post({ auth: basic('nope') });
      await post({ body: [{ event: '', properties: {} }] });
      await post({ auth: basic('tok_p2') });
      const stats = (await get('/_emulator/stats')).json;
      expect(stats['requests']).toEqual({ total: 4, by_status: { '200': 2, '401': 1, '400': 1 } });
      expect(stats['projects']['101']).toMatchObject({
        requests: { total: 2, by_status: { '200': 1, '400': 1 } },
        records_imported: 1,
        records_failed: 1,
        events: { raw: 1, dedup: 1, dedup_daily: 1 },
      });
      expect(stats['projects']['202']['requests']['total']).toBe(1);
    });

    it('resets data, counters and faults, keeping projects unless asked', async () => {
      await post({});
      await control('/_emulator/faults', { rate_429: 1 });
      expect((await control('/_emulator/reset', {})).status).toBe(200);
      expect((await get('/_emulator/stats')).json['requests']['total']).toBe(0);
      expect((await post({})).status).toBe(200);
      expect(emulator.store.count('101', 'raw')).toBe(1);
      await control('/_emulator/reset', { projects: true });
      expect((await post({})).status).toBe(401);
      expect((await get('/_emulator/projects')).json['projects']).toEqual([]);
    });

    it('reads and changes settings', async () => {
      expect((await get('/_emulator/settings')).json).toEqual({
        maxBodyBytes: 10_485_760,
        maxEventsPerRequest: 2000,
        rateLimitBytesPerMinute: 2 * 1024 ** 3,
        failedRecordIdKey: '$insert_id',
      });
      expect((await control('/_emulator/settings', { max_events_per_request: 2 })).json['maxEventsPerRequest']).toBe(2);
      expect((await post({ body: [ev(1), ev(2), ev(3)] })).status).toBe(400);
      expect((await control('/_emulator/settings', { failed_record_id_key: 'id' })).status).toBe(400);
    });
  });
});
