/**
 * Clients nobody on the project wrote, against the emulator on 127.0.0.1
 * (docs/reference/mixpanel-apis.md §2): the official `mixpanel` Node client (`import`, `import_batch`:
 * `GET /import?data=<base64>` and a form-encoded `data=` body) and `mixpanel-import` (gzip NDJSON
 * with a service account); every request form of `/import` by hand; and an unknown route that
 * answers without echoing a credential.
 */
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMixpanelEmulator } from './index.js';

const NOW_MS = Date.now();
const PROJECT = { id: '7', token: 'tok-official-7', apiSecret: 'secret-official-7' };
const ACCOUNT = { username: 'sa.official', secret: 'sa-secret-official' };
const built = buildMixpanelEmulator({
  projects: [{ ...PROJECT, serviceAccounts: [{ ...ACCOUNT, role: 'owner' }] }],
});
let origin: string;

beforeAll(async () => {
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  origin = `http://127.0.0.1:${address.port}`;
});
afterAll(() => built.app.close());

const require = createRequire(import.meta.url);
const stored = () => built.emulator.events(PROJECT.id, 'raw');
const storedIds = () => new Set(stored().map((r) => r.properties['$insert_id']));
let serial = 0;
/** An event Mixpanel's strict validation takes; ids unique across the file. */
function event(name = 'Official Client') {
  serial += 1;
  return { event: name, properties: { distinct_id: `user-${serial}`, $insert_id: `ins-${serial}-${'x'.repeat(8)}`, time: Math.floor(NOW_MS / 1000) - 60, n: serial } };
}

interface OfficialClient {
  import(event: string, time: number | Date, properties: object, cb: (err?: Error) => void): void;
  import_batch(events: object[], cb: (errors?: Error[] | null) => void): void;
}
type Init = (token: string, config: object) => OfficialClient;

describe('the official `mixpanel` Node client', () => {
  const client = (verbose: boolean): OfficialClient => {
    const { init } = require('mixpanel') as { init: Init };
    const { port } = new URL(origin);
    // Over plain HTTP the client authenticates only with `key` (sent as `?api_key=`): it refuses to
    // send a secret or a service account without TLS.
    const quiet = () => undefined;
    const logger = { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet };
    return init(PROJECT.token, { host: '127.0.0.1', port: Number(port), protocol: 'http', key: PROJECT.apiSecret, verbose, keepAlive: false, logger });
  };

  it('import_batch (POST, form-encoded base64 data=) lands every event, in batches of 50', { timeout: 30_000 }, async () => {
    for (const verbose of [false, true]) {
      const events = Array.from({ length: 120 }, () => event('Batch Import'));
      const errors = await new Promise<Error[] | null | undefined>((resolve) => client(verbose).import_batch(events, resolve));
      expect(errors ?? []).toEqual([]);
      const ids = storedIds();
      for (const e of events) expect(ids.has(e.properties.$insert_id)).toBe(true);
    }
    const one = stored().find((r) => r.event === 'Batch Import');
    expect(one?.properties).toMatchObject({ token: PROJECT.token, n: expect.any(Number) });
  });

  it('import (GET ?data=<base64>) lands the event', { timeout: 30_000 }, async () => {
    for (const verbose of [false, true]) {
      const e = event('Single Import');
      const err = await new Promise<Error | undefined>((resolve) => client(verbose).import(e.event, e.properties.time, e.properties, resolve));
      expect(err).toBeUndefined();
      expect(storedIds().has(e.properties.$insert_id)).toBe(true);
    }
  });

  it('reports a record Mixpanel refuses as an error, in both reply formats', { timeout: 30_000 }, async () => {
    for (const verbose of [false, true]) {
      const bad = { event: 'Bad', properties: { distinct_id: 'u', $insert_id: `bad-${verbose}`, time: 5 } };
      const errors = await new Promise<Error[] | null | undefined>((resolve) => client(verbose).import_batch([bad], resolve));
      expect(errors).toHaveLength(1);
      expect(String(errors![0]!.message)).toContain(verbose ? 'properties.time' : 'Mixpanel Server Error: 0');
    }
  });
});

describe('mixpanel-import', () => {
  it('streams gzip NDJSON with a service account into the emulator', { timeout: 60_000 }, async () => {
    // Its undici pool is bound to api.mixpanel.com: a pool made for that origin connects here
    // instead (as bench/currents-export.ts does), before the package is loaded.
    const undici = require('undici') as { Pool: new (o: string | URL, opts?: object) => object };
    const Original = undici.Pool;
    const target = origin;
    undici.Pool = class extends (Original as new (o: string | URL, opts?: object) => object) {
      constructor(o: string | URL, opts?: object) {
        super(/(^|\.)mixpanel\.com(:\d+)?$/.test(new URL(String(o)).host) ? target : o, opts);
      }
    };
    try {
      const mpImport = require('mixpanel-import') as (creds: object, data: unknown, opts: object) => Promise<Record<string, unknown>>;
      const events = Array.from({ length: 250 }, () => event('Streamed'));
      const result = await mpImport({ acct: ACCOUNT.username, pass: ACCOUNT.secret, project: PROJECT.id }, events, {
        recordType: 'event',
        compress: true,
        strict: true,
        verbose: false,
        showProgress: false,
        logs: false,
        fixData: false,
      });
      expect(result).toMatchObject({ success: 250, failed: 0 });
      const ids = storedIds();
      for (const e of events) expect(ids.has(e.properties.$insert_id)).toBe(true);
    } finally {
      undici.Pool = Original;
    }
  });
});

describe('every request form of /import', () => {
  const basic = `Basic ${Buffer.from(`${PROJECT.apiSecret}:`).toString('base64')}`;
  const send = async (path: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string | Buffer } = {}) => {
    const res = await request(origin + path, { method: init.method ?? 'POST', headers: { authorization: basic, ...init.headers }, body: init.body });
    return { status: res.statusCode, text: await res.body.text() };
  };
  /** An event whose base64 holds `+` and `/`, which form decoding would break if mishandled. */
  const awkward = () => {
    const e = event('Form ?>?>');
    (e.properties as Record<string, unknown>)['blob'] = '>>>???~~~ÿÿÿ';
    return e;
  };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

  it('JSON, NDJSON, each gzipped or not', async () => {
    const cases = [
      { type: 'application/json', body: (es: object[]) => JSON.stringify(es) },
      { type: 'application/x-ndjson', body: (es: object[]) => es.map((e) => JSON.stringify(e)).join('\n') },
    ];
    for (const c of cases) {
      for (const gzip of [false, true]) {
        const es = [event(), event()];
        const text = c.body(es);
        const res = await send('/import?strict=1', { headers: { 'content-type': c.type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, body: gzip ? gzipSync(text) : text });
        expect(JSON.parse(res.text)).toEqual({ code: 200, num_records_imported: 2, status: 'OK' });
      }
    }
  });

  it('a form-encoded data= of base64 (escaped or not) or of JSON, gzipped or not, one event or an array', async () => {
    const forms = [
      (es: object[]) => `data=${b64(es)}`, // as the official client writes it: `+` unescaped
      (es: object[]) => new URLSearchParams({ data: b64(es), verbose: '1' }).toString(),
      (es: object[]) => new URLSearchParams({ data: Buffer.from(JSON.stringify(es)).toString('base64url') }).toString(),
      (es: object[]) => new URLSearchParams({ data: JSON.stringify(es) }).toString(),
      (es: object[]) => `data=${b64(es[0])}`,
    ];
    for (const [i, form] of forms.entries()) {
      for (const gzip of [false, true]) {
        const es = i === 4 ? [awkward()] : [awkward(), awkward()];
        const body = form(es);
        const res = await send('/import', { headers: { 'content-type': 'application/x-www-form-urlencoded', ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, body: gzip ? gzipSync(body) : body });
        expect(res.status).toBe(200);
        expect(res.text).toBe(i === 1 ? JSON.stringify({ status: 1, error: null }) : '1');
        const ids = storedIds();
        for (const e of es) expect(ids.has(e.properties.$insert_id)).toBe(true);
      }
    }
    const kept = stored().find((r) => r.event === 'Form ?>?>');
    expect(kept?.properties['blob']).toBe('>>>???~~~ÿÿÿ');
  });

  it('GET ?data= of base64 or JSON, with the key as api_key or in the header', async () => {
    const e1 = event();
    const e2 = event();
    expect((await send(`/import?data=${encodeURIComponent(b64([e1]))}&verbose=1`, { method: 'GET' })).text).toBe('{"status":1,"error":null}');
    const res = await request(`${origin}/import?data=${encodeURIComponent(JSON.stringify(e2))}&api_key=${PROJECT.token}`);
    expect(await res.body.text()).toBe('1');
    const ids = storedIds();
    expect(ids.has(e1.properties.$insert_id) && ids.has(e2.properties.$insert_id)).toBe(true);
  });

  it('refuses a data= that is neither JSON nor base64 of it, and an unknown key', async () => {
    const res = await send('/import?verbose=1', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'data=%%%not-base64' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ status: 0, error: "'data' is not valid base64-encoded JSON" });
    const missing = await send('/import', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'verbose=0' });
    expect([missing.status, missing.text]).toEqual([400, '0']);
    const wrongKey = await request(`${origin}/import?data=${encodeURIComponent(b64([event()]))}&api_key=nope`);
    expect(wrongKey.statusCode).toBe(401);
    await wrongKey.body.dump();
  });

  it('answers an unknown route with 404 and echoes no credential, token or data', async () => {
    const data = b64([{ event: 'x', properties: { token: PROJECT.token } }]);
    for (const path of [`/track?data=${data}&api_key=${PROJECT.apiSecret}`, `/engage?ip=0&api_key=${PROJECT.apiSecret}&token=${PROJECT.token}`, `/imports/${PROJECT.token}`]) {
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        const res = await request(origin + path, { method, headers: { authorization: basic } });
        const text = await res.body.text();
        expect(res.statusCode).toBe(404);
        expect(JSON.parse(text)).toEqual({ code: 404, error: 'not found', status: 'Not Found' });
        for (const secret of [PROJECT.token, PROJECT.apiSecret, data.slice(0, 12)]) expect(text).not.toContain(secret);
      }
    }
  });
});
