/**
 * Hostile-input fuzzing of every route of the app, over real HTTP on loopback, on both backends.
 *
 * Every request is written byte by byte on a fresh socket (`node:net`), so bodies, header values,
 * duplicate headers, methods and request targets can be anything a client on the network can send.
 * The invariants checked after every request (see `checkResponse`):
 *
 *   1. the server answers, with a status below 500;
 *   2. every response with status >= 400 (except to HEAD) is JSON `{"message": string, "errors": [{"type": string, ...}, ...]}`;
 *   3. for every response with status >= 400, the database state (`stateCounts`) is unchanged.
 *
 * The broad properties (one per route family, plus an "envelope" property that mutates content
 * types, auth, query strings, framing and whole bodies on every route) draw strings from a hostile
 * alphabet: RTL and zero-width marks, emoji, combining marks, U+2028, U+FFFF, SQL and template
 * lookalikes, very long and multi-byte strings, Object.prototype names; numbers like 1e308, -0,
 * 1e400 (Infinity after parsing), 2^53+2; `__proto__` / `constructor` / `prototype` keys; duplicate
 * JSON keys; invalid JSON fragments; invalid UTF-8 bytes.
 *
 * Bugs this harness found have their own regression tests, named `[Bn]` (B1–B6 were fixed in
 * dce8b2f; a `[BUG Bn]` test fails until its bug is fixed):
 *   B1  U+0000 in a string → 500 (PostgreSQL text and jsonb cannot hold NUL);
 *   B2  lone UTF-16 surrogates → 500 in jsonb; in text columns silently turned into U+FFFD, so the
 *       same external_id sent again → 500;
 *   B3  POST /admin/keys `permissions` with deep arrays or objects with valueOf/toString keys → 500
 *       (Ajv uniqueItems' deep-equal);
 *   B4  attribute keys named like Object.prototype members are silently dropped, or → 500;
 *   B5  errors raised by Node/Fastify before the app (malformed HTTP, bad URL encoding, long route
 *       parameters, heads over 16 KiB) do not have the `{message, errors}` shape;
 *   B6  slow clients are not cut off within RIVULET_REQUEST_TIMEOUT_MS;
 *   B7  an unauthenticated client makes the server parse (and walk) a 4 MiB body by sending it to
 *       an unknown route, blocking the event loop for seconds.
 *
 * Reproduce a run: FUZZ_SEED=<seed printed on failure> npx vitest run test/fuzz.db.test.ts --project pglite
 * More runs: FUZZ_RUNS_SCALE=10 (multiplies every numRuns).
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, stateCounts, type StateCounts, type TestServer } from '../src/test-support/server.js';
import { PERMISSIONS } from '../src/workspaces/index.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_260_101;
const SCALE = process.env.FUZZ_RUNS_SCALE ? Number(process.env.FUZZ_RUNS_SCALE) : 1;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** fast-check parameters: fixed seed (printed with any counterexample), bounded time including shrinking. */
const params = <T,>(numRuns: number): fc.Parameters<T> => ({
  seed: SEED,
  numRuns: runs(numRuns),
  interruptAfterTimeLimit: 45_000, // under Vitest's 60 s test timeout, shrinking included
  markInterruptAsFailure: false,
});

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: one request per connection (`Connection: close`), bytes exactly as given.
// ---------------------------------------------------------------------------------------------

interface RawRequest {
  method: string;
  /** Request target as sent (path and query), latin1. */
  target: string;
  /** Header lines in order; duplicates allowed; values are latin1 strings (so bytes 0x80–0xff pass). */
  headers: Array<[string, string]>;
  /** A string is sent as UTF-8 (lone surrogates become U+FFFD); a Buffer as is. */
  body?: string | Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`. */
  chunked?: boolean;
}

interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

function encodeRequest(r: RawRequest): Buffer[] {
  const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
  let head = `${r.method} ${r.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  if (body !== undefined && r.chunked) head += 'Transfer-Encoding: chunked\r\n';
  else if (body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  const parts: Buffer[] = [Buffer.from(`${head}\r\n`, 'latin1')];
  if (body !== undefined && r.chunked) {
    for (let i = 0; i < body.length; i += 64 * 1024) {
      const piece = body.subarray(i, i + 64 * 1024);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
    }
    parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  } else if (body !== undefined) parts.push(body);
  return parts;
}

/** Writes the bytes and collects everything until the server closes the connection. */
function exchange(port: number, parts: Buffer[], timeoutMs = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    // EPIPE / ECONNRESET when the server answers early (401, 413) and closes while we still write.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on('connect', () => {
      for (const p of parts) if (!socket.destroyed) socket.write(p);
    });
  });
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function parseResponse(data: Buffer): HttpResponse {
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) throw new Error(`no complete HTTP response; the server sent ${JSON.stringify(rest.toString('latin1').slice(0, 300))}`);
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue; // 100 Continue before the final answer
    let body = rest;
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(rest);
    else if (headers['content-length'] !== undefined) body = rest.subarray(0, Number(headers['content-length']));
    return { status, headers, text: body.toString('utf8') };
  }
}

async function send(port: number, req: RawRequest): Promise<HttpResponse> {
  return parseResponse(await exchange(port, encodeRequest(req)));
}

function describeRequest(r: RawRequest): string {
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : r.body.toString('latin1');
  const headers = r.headers.map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v}`).join(' | ');
  return `${r.method} ${r.target.slice(0, 200)}${r.chunked ? ' [chunked]' : ''} [${headers}] body(${body.length}): ${JSON.stringify(body.slice(0, 400))}`;
}

/** Invariants 1 and 2 (status and error body shape). Returns the parsed body when JSON. */
function checkResponse(req: RawRequest, res: HttpResponse): unknown {
  const ctx = `${describeRequest(req)}\n→ ${res.status} ${res.text.slice(0, 400)}`;
  expect(res.status, ctx).toBeGreaterThanOrEqual(200);
  expect(res.status, ctx).toBeLessThan(500);
  if (res.status < 400 || req.method === 'HEAD') return undefined;
  expect(res.headers['content-type'] ?? '', ctx).toMatch(/^application\/json/);
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`error body is not JSON: ${ctx}`);
  }
  expect(typeof body?.message, ctx).toBe('string');
  expect(Array.isArray(body.errors) && body.errors.length > 0, `errors must be a non-empty array: ${ctx}`).toBe(true);
  for (const e of body.errors) expect(typeof e?.type, `every error has a type: ${ctx}`).toBe('string');
  return body;
}

// ---------------------------------------------------------------------------------------------
// The server under test, keys and pools of identifiers that exist (so requests reach real users).
// ---------------------------------------------------------------------------------------------

let s: TestServer;
let port: number;
let trackOnlyKey: string;
let sdkOnlyKey: string;
let revokedKey: string;
/** Prefixes of extra keys that the fuzzer may revoke (never the key it uses). */
const revocablePrefixes: string[] = [];
let knownUserIds: string[] = [];

const EXT_IDS = ['u1', 'u2', 'u3', 'merge-me', 'U1'];
const ALIAS_NAMES = ['a1', 'a2', 'mp_123'];
const ALIAS_LABELS = ['l1', 'mixpanel_id'];
const DEVICE_IDS = ['d1', 'd2', 'd3'];
const EMAILS = ['a@b.co', 'A@B.CO', 'x.y+z@example.org'];

beforeAll(async () => {
  s = await startTestServer({
    RIVULET_RATE_LIMIT_TRACK: '1000000',
    RIVULET_RATE_LIMIT_IDENTIFY: '1000000',
    RIVULET_RATE_LIMIT_EXPORT_IDS: '1000000',
    RIVULET_RATE_LIMIT_SDK: '1000000',
    // Bad-auth variants are part of the fuzz; the per-client failed-auth throttle would turn everything after into 429.
    RIVULET_AUTH_FAILURES_PER_MINUTE: '1000000',
  });
  port = Number(new URL(s.url).port);
  trackOnlyKey = await s.createKey(['users.track']);
  sdkOnlyKey = await s.createKey(['sdk.sessions']);
  const toRevoke = await s.call('POST', '/admin/keys', { name: 'revoked', permissions: [...PERMISSIONS] });
  revokedKey = toRevoke.body.key;
  expect((await s.call('POST', `/admin/keys/${toRevoke.body.prefix}/revoke`)).status).toBe(200);
  for (let i = 0; i < 3; i++) {
    const created = await s.call('POST', '/admin/keys', { name: `victim-${i}`, permissions: ['users.track'] });
    revocablePrefixes.push(created.body.prefix);
  }
  // Existing users, aliases and devices, so mutated requests also exercise the update paths.
  const seeded = await s.call('POST', '/users/track', {
    attributes: EXT_IDS.map((id, i) => ({ external_id: id, first_name: `n${i}`, email: EMAILS[i % EMAILS.length], tags: ['x'] })),
    events: EXT_IDS.map((id) => ({ external_id: id, name: 'seen', time: '2024-01-01T00:00:00Z' })),
  });
  expect(seeded.status).toBe(201);
  await s.call('POST', '/users/alias/new', { user_aliases: [{ external_id: 'u1', alias_name: 'a1', alias_label: 'l1' }, { alias_name: 'a2', alias_label: 'l1' }] });
  for (const d of DEVICE_IDS.slice(0, 2)) await s.call('POST', '/sdk/sessions/start', { app_id: 'app', device_id: d, session_id: 's0' });
  const exported = await s.call('POST', '/users/export/ids', { external_ids: EXT_IDS, fields_to_export: ['braze_id'] });
  knownUserIds = exported.body.users.map((u: { braze_id: string }) => u.braze_id);
  expect(knownUserIds.length).toBe(EXT_IDS.length);
});
afterAll(() => s?.close());

/** FUZZ_STATS=1 prints how often each route answered each status (to see that fuzzing reaches the logic). */
const statusStats = new Map<string, number>();
afterAll(() => {
  if (!process.env.FUZZ_STATS) return;
  const rows = [...statusStats.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  console.log(rows.map(([k, n]) => `${k.padEnd(48)} ${n}`).join('\n'));
});

/** Sends one request and checks all three invariants. */
async function probe(req: RawRequest): Promise<HttpResponse> {
  const before: StateCounts = await stateCounts(s);
  const res = await send(port, req);
  if (process.env.FUZZ_STATS) {
    const k = `${req.method} ${req.target.split('?')[0]!.slice(0, 30)} ${res.status}`;
    statusStats.set(k, (statusStats.get(k) ?? 0) + 1);
  }
  checkResponse(req, res);
  if (res.status >= 400) {
    expect(await stateCounts(s), `state changed by a rejected request: ${describeRequest(req)}\n→ ${res.status} ${res.text.slice(0, 300)}`).toEqual(before);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// A JSON model that can express what JSON.stringify cannot: duplicate keys, `__proto__` keys,
// number tokens such as -0 and 1e400, and invalid fragments.
// ---------------------------------------------------------------------------------------------

/** A token written verbatim into the JSON text. */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as an ordered list of entries (duplicates allowed). */
class Obj {
  constructor(readonly entries: ReadonlyArray<readonly [string, J]>) {}
}
type J = null | boolean | number | string | Raw | Obj | J[] | { [k: string]: J | undefined };

function ser(v: J | undefined): string {
  if (v === undefined) return 'null';
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(ser).join(',')}]`;
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** encodeURIComponent, except that a lone surrogate becomes its 3-byte (WTF-8) form instead of throwing. */
function percentEncode(x: string): string {
  return x.replace(/[\ud800-\udbff][\udc00-\udfff]|[\s\S]/g, (c) => {
    const u = c.charCodeAt(0);
    if (c.length === 1 && u >= 0xd800 && u <= 0xdfff) return [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    return encodeURIComponent(c);
  });
}

/** A parsed JSON value in the model (objects become Obj, so `__proto__` keys survive). */
function toModel(v: unknown): J {
  if (Array.isArray(v)) return v.map(toModel);
  if (v && typeof v === 'object') return new Obj(Object.entries(v).map(([k, x]) => [k, toModel(x)] as const));
  return v as J;
}

const SPECIAL_STRINGS = [
  '', ' ', '  padded  ', 'null', 'undefined', 'NaN', '-NaN', 'Infinity', '-Infinity', '-0', '0', '1e308', '1e309', '0x1F', '١٢٣',
  'true', '[]', '{}', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf',
  "'; DROP TABLE users; --", "' OR '1'='1", '" OR ""="', "1); SELECT pg_sleep(5); --", '$1', '$$', "E'\\x41'", '\\', '\\\\', '\\u0000',
  '%s%n%x', '%00', '${7*7}', '{{7*7}}', '<script>alert(1)</script>', '../../../../etc/passwd', 'rvk_', 'Bearer',
  '\u202eevil\u202c', '\u200f\u200e', 'مرحبا بالعالم', 'שלום', '\u200b', 'a\u200db', '\ufeffbom', '\u2028\u2029', 'e\u0301\u0301\u0301',
  '👩‍👩‍👧‍👦', '🏳️‍🌈', '💩', '\uffff', '\ufffe', '\ufffd', '\u00a0', 'İı', 'ß', 'ǅ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '\u0001\u001f\u007f', '\t\n\r',
  '\u0000', 'a\u0000b', '\ud800', 'a\udc00b', 'x\ud83d', '\udfff\ud800',
  'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(255), '😀'.repeat(128), 'x'.repeat(513), '€'.repeat(171), 'x'.repeat(70_000),
  '2024-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '1969-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999+14:00',
  '0000-01-01T00:00:00Z', '2013-07-16T19:20:30:000+0100', '2024-01-01', '2024-01-01T25:00:00Z', '2024-01-01T00:00:00+99:99', ' 2024-01-01T00:00:00Z ',
  'USD', 'usd', 'XTS', 'XXX', 'US', 'M', 'f', 'opted_in', 'Europe/Paris', 'Etc/GMT+99', 'fr', 'FR', 'zz',
  'a@b.co', '@', 'a@b', '+1 (555) 010-0000', '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
];
const RAW_NUMBERS = ['-0', '1e400', '-1e400', '1E+308', '0.0', '1.0', '123456789012345678901234567890', '1e-400', '-0.0e-0', '4.9e-324', '9007199254740993'];
const RAW_INVALID = ['NaN', 'Infinity', '-Infinity', 'undefined', '01', '.5', '+1', '0x10', "'x'", '"\\x41"', '"\\u12"', '"\t"', '[1,]', '{"a":1,}', '/*c*/1', 'tru', '"\\uzzzz"'];

const hostileString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 5, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '😀', '\u200b'), fc.integer({ min: 250, max: 520 })).map(([c, n]) => c.repeat(n)) },
  );

const hostileNumber: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom(0, -1, 1, 1.5, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 63, 2 ** 31, -(2 ** 31) - 1, 100, 101, 255, 256, -90.0001, 180.5),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(...RAW_NUMBERS).map((t) => new Raw(t)),
);

const hostileKey: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', '__lookupSetter__', '', '$set', 'time', 'event_name', 'a.b', 'x'.repeat(256), 'inc', 'add', 'remove', 'external_id', 'user_alias', 'braze_id', 'email', '_update_existing_only', 'first_name', 'country', 'dob', 'tags') },
    { weight: 3, arbitrary: hostileString },
  );

const scalar: fc.Arbitrary<J> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
);

const { hostileValue } = fc.letrec<{ hostileValue: J }>((tie) => ({
  hostileValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(tie('hostileValue'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.array(fc.tuple(hostileKey, tie('hostileValue')), { maxLength: 4 }).map((e) => new Obj(e)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(toModel) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_INVALID).map((t) => new Raw(t)) },
  ),
}));

/** Mostly the valid value, sometimes anything at all. */
const mut = (valid: fc.Arbitrary<J>, hostileWeight = 1): fc.Arbitrary<J> =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: hostileWeight, arbitrary: hostileValue });

type Entries = Array<readonly [string, J]>;

/**
 * An object with the given fields, each present with probability ~5/6, plus now and then an
 * unknown field or a duplicate key with a hostile value.
 */
function objOf(fields: Record<string, fc.Arbitrary<J>>, opts: { required?: string[]; sparse?: boolean } = {}): fc.Arbitrary<Obj> {
  // Optional fields: present 5 times in 6, or 1 time in 4 when sparse.
  const [present, absent] = opts.sparse ? [1, 3] : [5, 1];
  const parts = Object.entries(fields).map(([k, a]) =>
    opts.required?.includes(k)
      ? a.map((v): Entries => [[k, v]])
      : fc.oneof({ weight: present, arbitrary: a.map((v): Entries => [[k, v]]) }, { weight: absent, arbitrary: fc.constant([] as Entries) }),
  );
  const extras = fc.oneof(
    { weight: 8, arbitrary: fc.constant([] as Entries) },
    { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey, hostileValue), { minLength: 1, maxLength: 2 }).map((e): Entries => e) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...Object.keys(fields)), hostileValue).map(([k, v]): Entries => [[k, v]]) },
  );
  return fc.tuple(fc.tuple(...parts), extras).map(([ps, ex]) => new Obj([...ps.flat(), ...ex]));
}

/** Arrays of items: usually a few, sometimes around the 75 / 50 limits, sometimes not an array. */
const listOf = (item: fc.Arbitrary<J>, limit: number): fc.Arbitrary<J> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.array(item, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(item, { minLength: limit - 1, maxLength: limit + 2 }) },
    { weight: 1, arbitrary: hostileValue },
  );

// Field generators with valid values drawn from small pools, so that items meet existing users.
const extId = mut(fc.oneof(fc.constantFrom(...EXT_IDS), fc.string({ minLength: 1, maxLength: 8 }), hostileString));
const aliasName = mut(fc.oneof(fc.constantFrom(...ALIAS_NAMES), hostileString));
const aliasLabel = mut(fc.oneof(fc.constantFrom(...ALIAS_LABELS), hostileString));
const aliasObj = mut(objOf({ alias_name: aliasName, alias_label: aliasLabel }));
const brazeId = mut(fc.oneof(fc.constantFrom(0, 1, 2).map((i) => knownUserIds[i] ?? 'x'), fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), hostileString));
const email = mut(fc.oneof(fc.constantFrom(...EMAILS), hostileString));
const time = mut(fc.oneof(fc.constantFrom('2024-01-01T00:00:00Z', '2022-12-06T19:20:45+01:00', '2013-07-16T19:20:30:000+0100', '2999-01-01T00:00:00Z'), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), hostileString));
const shortStr = mut(fc.oneof(fc.constantFrom('x', 'web', 'rented_movie'), hostileString));
const flag = mut(fc.boolean());

/** The identifier fields of a /users/track item: usually one kind, sometimes none or several. */
const identity: fc.Arbitrary<Entries> = fc.oneof(
  { weight: 6, arbitrary: extId.map((v): Entries => [['external_id', v]]) },
  { weight: 2, arbitrary: aliasObj.map((v): Entries => [['user_alias', v]]) },
  { weight: 1, arbitrary: brazeId.map((v): Entries => [['braze_id', v]]) },
  { weight: 2, arbitrary: email.map((v): Entries => [['email', v]]) },
  { weight: 1, arbitrary: fc.constant([] as Entries) },
  { weight: 1, arbitrary: fc.tuple(extId, aliasObj, brazeId).map(([e, a, b]): Entries => [['external_id', e], ['user_alias', a], ['braze_id', b]]) },
);
const withIdentity = (item: fc.Arbitrary<Obj>): fc.Arbitrary<J> =>
  fc.tuple(identity, fc.option(flag, { freq: 3, nil: undefined }), item).map(
    ([ids, f, o]) => new Obj([...ids, ...(f === undefined ? [] : ([['_update_existing_only', f]] as Entries)), ...o.entries]),
  );

const propertiesObj = mut(
  fc.array(fc.tuple(fc.oneof(fc.constantFrom('movie', 'n', 'when', 'nested', 'list'), hostileKey), hostileValue), { maxLength: 5 }).map((e) => new Obj(e)),
);
const customValue: fc.Arbitrary<J> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: mut(objOf({ inc: hostileNumber }, { required: ['inc'] })) },
  { weight: 1, arbitrary: objOf({ add: fc.array(scalar, { maxLength: 30 }), remove: fc.array(scalar, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(hostileString, hostileNumber), { maxLength: 30 }) },
  { weight: 2, arbitrary: hostileValue },
);
const attributesItem = withIdentity(
  fc
    .tuple(
      objOf({
        first_name: mut(hostileString),
        last_name: mut(hostileString),
        home_city: mut(hostileString),
        email: email,
        phone: mut(fc.constantFrom('+15550100000', '555', 'abc')),
        country: mut(fc.constantFrom('FR', 'us', 'XX', 'France', null)),
        language: mut(fc.constantFrom('fr', 'EN', 'xx', 'french', null)),
        gender: mut(fc.constantFrom('M', 'f', 'X', null)),
        dob: mut(fc.constantFrom('1990-01-31', '1990-02-30', '01/01/1990', null)),
        time_zone: mut(fc.constantFrom('Europe/Paris', 'UTC', 'Mars/Olympus', null)),
        email_subscribe: mut(fc.constantFrom('opted_in', 'subscribed', 'unsubscribed', 'yes')),
        push_subscribe: mut(fc.constantFrom('opted_in', 'subscribed', 'unsubscribed', 'no')),
      }, { sparse: true }),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom('plan', 'visits', 'tags', 'when', 'nested'), hostileKey), customValue), { maxLength: 4 }),
    )
    .map(([o, custom]) => new Obj([...o.entries, ...custom])),
);
const eventItem = withIdentity(objOf({ app_id: shortStr, name: shortStr, time, properties: propertiesObj }, { required: ['name', 'time'] }));
const purchaseItem = withIdentity(
  objOf(
    {
      app_id: shortStr,
      product_id: shortStr,
      currency: mut(fc.constantFrom('USD', 'eur', 'XTS', 'ZZZ', '€')),
      price: mut(hostileNumber),
      quantity: mut(fc.constantFrom(1, 2, 100, 101, 0, -1, 1.5)),
      time,
      properties: propertiesObj,
    },
    { required: ['product_id', 'currency', 'price', 'time'] },
  ),
);
const trackBody = objOf({
  attributes: listOf(attributesItem, 75),
  events: listOf(eventItem, 75),
  purchases: listOf(purchaseItem, 75),
});

const identifyBody = objOf({
  aliases_to_identify: listOf(mut(objOf({ external_id: extId, user_alias: aliasObj })), 50),
  merge_behavior: mut(fc.constantFrom('merge', 'none', 'MERGE')),
  emails_to_identify: fc.array(email, { maxLength: 2 }),
});
const aliasBody = objOf({ user_aliases: listOf(mut(objOf({ external_id: extId, alias_name: aliasName, alias_label: aliasLabel })), 50) }, { required: ['user_aliases'] });
const FIELDS = ['external_id', 'braze_id', 'user_aliases', 'first_name', 'custom_attributes', 'custom_events', 'purchases', 'device_ids', 'began_anonymous', 'cohorts', 'created_at'];
const exportBody = objOf({
  external_ids: listOf(extId, 50),
  user_aliases: listOf(aliasObj, 50),
  device_id: mut(fc.oneof(fc.constantFrom(...DEVICE_IDS), hostileString)),
  braze_id: brazeId,
  email_address: email,
  fields_to_export: mut(fc.array(fc.oneof(fc.constantFrom(...FIELDS), hostileString), { maxLength: 5 })),
});
const deviceFields = {
  app_id: shortStr,
  device_id: mut(fc.oneof(fc.constantFrom(...DEVICE_IDS), hostileString)),
  session_id: shortStr,
  platform: mut(fc.constantFrom('ios', 'android', 'web', 'IOS', 'windows')),
  os_version: shortStr,
  device_model: shortStr,
  sdk_version: shortStr,
  time,
};
const location = mut(
  objOf({ latitude: mut(hostileNumber), longitude: mut(hostileNumber), altitude: mut(hostileNumber), ll_accuracy: mut(hostileNumber), alt_accuracy: mut(hostileNumber) }, { required: ['latitude', 'longitude'] }),
);
const sessionStartBody = objOf({ ...deviceFields, location }, { required: ['app_id', 'device_id', 'session_id'] });
const sessionEndBody = objOf({ ...deviceFields, duration: mut(hostileNumber) }, { required: ['app_id', 'device_id', 'session_id'] });
const changeUserBody = objOf(
  { device_id: deviceFields.device_id, external_id: extId, merge_behavior: mut(fc.constantFrom('merge', 'none', 'x')) },
  { required: ['device_id', 'external_id'] },
);
const createKeyBody = objOf({
  name: mut(hostileString),
  permissions: mut(fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PERMISSIONS) }, { weight: 1, arbitrary: hostileValue }), { maxLength: 8 })),
});

/**
 * A path segment: percent-encoded hostile strings, prefixes of real keys, odd but valid encodings.
 * At most 1,000 characters, so that 4 segments, a query and a long Authorization stay under
 * Node's 16 KiB request-head limit.
 */
const pathSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...['rvk_', 'seed_x', '..', '.', '%2e%2e', '%2F', 'a%20b', '*', '~', '@', '%F0%9F%92%A9', '%E2%80%AE', 'x'.repeat(65), 'x'.repeat(900)]) },
  { weight: 3, arbitrary: hostileString.map((x) => percentEncode(x.slice(0, 300))).filter((x) => x.length <= 1000) },
  { weight: 1, arbitrary: fc.constant('') },
);
// Fastify refuses route parameters over 100 characters with its own error body (bug B5).
const revokePrefix = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 2).map((i) => revocablePrefixes[i] ?? 'x') },
  { weight: 4, arbitrary: pathSegment.filter((x) => x.length <= 100) },
);

const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(hostileKey, hostileString), { maxLength: 4 })
      .map((kv) => `?${kv.map(([k, v]) => `${percentEncode(k.slice(0, 300))}=${percentEncode(v.slice(0, 300))}`).join('&')}`)
      // Keep the request head under Node's 16 KiB limit (bug B5 covers what happens above it).
      .filter((q) => q.length <= 2000),
  },
  { weight: 1, arbitrary: fc.constantFrom('?', '?&&&', '?=', '?a', '?a[]=1&a[]=2', '?a=1&a=2', '?__proto__[x]=1', '?constructor[prototype][x]=1', '?api_key=rvk_x', '?a=%zz', '?%', '?a=%ff%fe') },
);

// ---------------------------------------------------------------------------------------------
// Request envelopes: auth, content types, extra headers.
// ---------------------------------------------------------------------------------------------

type AuthChoice = (key: string) => Array<[string, string]>;
const latin1OfUtf8 = (x: string) => Buffer.from(x, 'utf8').toString('latin1');
const AUTH_VARIANTS: Record<string, AuthChoice> = {
  valid: (k) => [['Authorization', `Bearer ${k}`]],
  lowercaseScheme: (k) => [['authorization', `bearer ${k}`]],
  missing: () => [],
  empty: () => [['Authorization', '']],
  bearerOnly: () => [['Authorization', 'Bearer']],
  bearerSpace: () => [['Authorization', 'Bearer ']],
  basic: (k) => [['Authorization', `Basic ${Buffer.from(`${k}:`).toString('base64')}`]],
  token: (k) => [['Authorization', `Token ${k}`]],
  doubleSpace: (k) => [['Authorization', `Bearer  ${k}`]],
  trailing: (k) => [['Authorization', `Bearer ${k}x`]],
  truncated: (k) => [['Authorization', `Bearer ${k.slice(0, -1)}`]],
  veryLong: () => [['Authorization', `Bearer ${'a'.repeat(6_000)}`]],
  nonAsciiLatin1: () => [['Authorization', 'Bearer \xe9\xff\x80\xa0key']],
  nonAsciiUtf8: () => [['Authorization', latin1OfUtf8('Bearer 🔑ключ')]],
  sqlish: () => [['Authorization', "Bearer ' OR '1'='1"]],
  revoked: () => [['Authorization', `Bearer ${revokedKey}`]],
  trackOnly: () => [['Authorization', `Bearer ${trackOnlyKey}`]],
  sdkOnly: () => [['Authorization', `Bearer ${sdkOnlyKey}`]],
  duplicateValidFirst: (k) => [['Authorization', `Bearer ${k}`], ['Authorization', 'Bearer nope']],
  duplicateInvalidFirst: (k) => [['Authorization', 'Basic Zm9vOmJhcg=='], ['Authorization', `Bearer ${k}`]],
  xApiKey: (k) => [['X-Api-Key', k]],
};
const authArb = fc.oneof(
  { weight: 20, arbitrary: fc.constant('valid') },
  { weight: 1, arbitrary: fc.constantFrom(...Object.keys(AUTH_VARIANTS)) },
);

const CONTENT_TYPES: Array<Array<[string, string]>> = [
  [['Content-Type', 'application/json']],
  [['Content-Type', 'application/json; charset=utf-8']],
  [['Content-Type', 'APPLICATION/JSON']],
  [['Content-Type', 'application/json;charset=latin1']],
  [['Content-Type', 'application/json; boundary=x; q=1;;']],
  [['Content-Type', 'text/plain']],
  [['Content-Type', 'text/plain; charset=utf-8']],
  [['Content-Type', 'application/x-www-form-urlencoded']],
  [['Content-Type', 'multipart/form-data; boundary=----x']],
  [['Content-Type', 'application/octet-stream']],
  [['Content-Type', 'application/jsonx']],
  [['Content-Type', 'application/vnd.api+json']],
  [['Content-Type', 'application/json, text/plain']],
  [['Content-Type', '*/*']],
  [['Content-Type', '']],
  [['Content-Type', 'application/json'], ['Content-Type', 'text/plain']],
  [['Content-Type', 'text/plain'], ['Content-Type', 'application/json']],
  [],
];
const contentTypeArb = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: CONTENT_TYPES.length - 1 }) });

const EXTRA_HEADERS: Array<Array<[string, string]>> = [
  [['Content-Encoding', 'gzip']],
  [['Content-Encoding', 'identity']],
  [['Accept', 'text/html']],
  [['Accept-Encoding', 'br, gzip, deflate']],
  [['Expect', '100-continue']],
  [['X-Forwarded-For', "1.2.3.4, ' OR 1=1"]],
  [['Cookie', 'session=x; __proto__=1']],
  [['X-HTTP-Method-Override', 'DELETE']],
  [['Origin', 'http://evil.example']],
  [['Range', 'bytes=0-1']],
  [['If-None-Match', '*']],
  [['X-Unicode', latin1OfUtf8('שלום 🏳️‍🌈 \u202e')]],
  [['X-Dup', 'a'], ['X-Dup', 'b'], ['x-dup', 'c']],
];
const extraHeadersArb = fc.oneof({ weight: 10, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 1, arbitrary: fc.constantFrom(...EXTRA_HEADERS) });

interface Envelope {
  auth: string;
  contentType: number;
  extra: Array<[string, string]>;
  query: string;
  chunked: boolean;
}
const envelopeArb: fc.Arbitrary<Envelope> = fc.record({
  auth: authArb,
  contentType: contentTypeArb,
  extra: extraHeadersArb,
  query: queryString,
  chunked: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

function build(method: string, path: string, body: string | Buffer | undefined, env: Envelope): RawRequest {
  const headers: Array<[string, string]> = [...AUTH_VARIANTS[env.auth]!(s.key)];
  if (body !== undefined) headers.push(...CONTENT_TYPES[env.contentType]!);
  headers.push(...env.extra);
  return { method, target: path + env.query, headers, body, chunked: env.chunked };
}

/** A request with a structured body: the model serialized, sometimes with a trailing cut. */
const jsonBody = (model: fc.Arbitrary<J>): fc.Arbitrary<string> =>
  fc.tuple(model, fc.oneof({ weight: 20, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat() })).map(([m, cut]) => {
    const text = ser(m);
    return cut < 0 ? text : text.slice(0, cut % Math.max(1, text.length));
  });

/** A generated request that prints itself compactly in fast-check's counterexample report. */
function requestArb(method: fc.Arbitrary<string>, path: fc.Arbitrary<string>, body: fc.Arbitrary<string | Buffer | undefined>): fc.Arbitrary<() => RawRequest> {
  return fc.tuple(method, path, body, envelopeArb).map(([m, p, b, env]) => {
    const make = () => build(m, p, b, env);
    return Object.assign(make, { [fc.toStringMethod]: () => `${describeRequest(make())} (auth variant: ${env.auth})` });
  });
}

function bodyProperty(name: string, method: string, path: string | fc.Arbitrary<string>, model: fc.Arbitrary<J>, numRuns: number) {
  const pathArb = typeof path === 'string' ? fc.constant(path) : path;
  it(`${name}: hostile bodies never get a 5xx, errors are JSON, rejected requests change nothing`, async () => {
    await fc.assert(
      fc.asyncProperty(requestArb(fc.constant(method), pathArb, jsonBody(model)), async (make) => {
        await probe(make());
      }),
      params(numRuns),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

describe(`fuzz: every route with hostile input on ${TEST_BACKEND}`, () => {
  bodyProperty('POST /users/track', 'POST', '/users/track', trackBody, 300);
  bodyProperty('POST /users/identify', 'POST', '/users/identify', identifyBody, 200);
  bodyProperty('POST /users/alias/new', 'POST', '/users/alias/new', aliasBody, 200);
  bodyProperty('POST /users/export/ids', 'POST', '/users/export/ids', exportBody, 200);
  bodyProperty('POST /sdk/sessions/start', 'POST', '/sdk/sessions/start', sessionStartBody, 200);
  bodyProperty('POST /sdk/sessions/end', 'POST', '/sdk/sessions/end', sessionEndBody, 150);
  bodyProperty('POST /sdk/users/change', 'POST', '/sdk/users/change', changeUserBody, 200);
  bodyProperty('POST /admin/keys', 'POST', '/admin/keys', createKeyBody, 200);
  bodyProperty(
    'POST /admin/keys/:prefix/revoke',
    'POST',
    revokePrefix.map((p) => `/admin/keys/${p}/revoke`),
    fc.oneof(fc.constant(new Obj([])), hostileValue),
    150,
  );

  const ALL_ROUTES: Array<[string, string]> = [
    ['POST', '/users/track'],
    ['POST', '/users/identify'],
    ['POST', '/users/alias/new'],
    ['POST', '/users/export/ids'],
    ['POST', '/sdk/sessions/start'],
    ['POST', '/sdk/sessions/end'],
    ['POST', '/sdk/users/change'],
    ['POST', '/admin/keys'],
    ['GET', '/admin/keys'],
    ['POST', '/admin/keys/rvk_nope_/revoke'],
    ['GET', '/admin/workspace'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/openapi.json'],
    ['GET', '/metrics'],
    ['GET', '/docs'],
    ['POST', '/users/nope'],
    ['GET', '/'],
  ];
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

  it('every route, any method: random JSON, raw bytes, invalid UTF-8, wrong or duplicate content types, bad auth, random query strings', async () => {
    const anyBody: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
      { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ser(toModel(v))) },
      { weight: 3, arbitrary: jsonBody(hostileValue) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
      {
        weight: 2,
        // A valid track body with invalid UTF-8 / CESU-8 surrogate bytes / overlongs spliced into a string.
        arbitrary: fc.constantFrom('\xff\xfe', '\xc0\xaf', '\xed\xa0\x80', '\xf4\x90\x80\x80', '\x80', '\xe2\x82').map((bad) =>
          Buffer.concat([
            Buffer.from('{"events":[{"external_id":"u1","name":"'),
            Buffer.from(bad, 'latin1'),
            Buffer.from('","time":"2024-01-01T00:00:00Z","properties":{"p":"'),
            Buffer.from(bad, 'latin1'),
            Buffer.from('"}}],"attributes":[{"external_id":"u2","first_name":"'),
            Buffer.from(bad, 'latin1'),
            Buffer.from('"}]}'),
          ]),
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{}', '"str"', '0', 'true', '\ufeff{}', '{"events":[', '{}{}', '{"a":1}garbage') },
      { weight: 1, arbitrary: fc.integer({ min: 1000, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    const route = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...ALL_ROUTES) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...METHODS), fc.constantFrom(...ALL_ROUTES)).map(([m, [, p]]): [string, string] => [m, p]) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...METHODS), fc.array(pathSegment, { minLength: 1, maxLength: 4 })).map(([m, segs]): [string, string] => [m, `/${segs.join('/')}`]) },
    );
    await fc.assert(
      fc.asyncProperty(
        route.chain(([method, path]) => requestArb(fc.constant(method), fc.constant(path), anyBody)),
        async (make) => {
          await probe(make());
        },
      ),
      params(400),
    );
  });

  it('GET routes (admin, health, readiness, OpenAPI, metrics, unknown) with hostile query strings, headers and bodies', async () => {
    const getRoute = fc.constantFrom('/admin/keys', '/admin/workspace', '/healthz', '/readyz', '/openapi.json', '/metrics', '/docs', '/docs/json', '/nope', '/admin', '/users/track');
    await fc.assert(
      fc.asyncProperty(requestArb(fc.constantFrom('GET', 'HEAD'), getRoute, fc.option(jsonBody(hostileValue), { freq: 3, nil: undefined })), async (make) => {
        const req = make();
        const res = await probe(req);
        const path = req.target.split('?')[0]!;
        if (res.status === 200 && req.method === 'GET' && ['/healthz', '/readyz', '/openapi.json', '/admin/keys', '/admin/workspace'].includes(path)) {
          expect(() => JSON.parse(res.text)).not.toThrow();
        }
      }),
      params(200),
    );
  });

  it('very deep JSON (100,000 nested arrays or objects, sent as raw text) in every position of every route: no 5xx, no stack overflow', async () => {
    const DEPTH = 100_000;
    const deepArray = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
    const deepObject = '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH);
    const HOLE = '\u0001HOLE\u0001';
    const t = '2024-01-01T00:00:00Z';
    // A valid example per route; every value (and every container) in it is replaced in turn.
    const examples: Array<[string, string, unknown]> = [
      ['POST', '/users/track', { attributes: [{ external_id: 'u1', plan: 'x', nested: { a: [1] } }], events: [{ external_id: 'u1', name: 'x', time: t, properties: { p: { q: [1] } } }], purchases: [{ external_id: 'u1', product_id: 'p', currency: 'USD', price: 1, time: t, properties: { c: 1 } }] }],
      ['POST', '/users/identify', { aliases_to_identify: [{ external_id: 'u9', user_alias: { alias_name: 'a2', alias_label: 'l1' } }], merge_behavior: 'merge' }],
      ['POST', '/users/alias/new', { user_aliases: [{ external_id: 'u1', alias_name: 'zz', alias_label: 'zz' }] }],
      ['POST', '/users/export/ids', { external_ids: ['u1'], user_aliases: [{ alias_name: 'a1', alias_label: 'l1' }], device_id: 'd1', fields_to_export: ['external_id'] }],
      ['POST', '/sdk/sessions/start', { app_id: 'a', device_id: 'd1', session_id: 's', location: { latitude: 1, longitude: 2 } }],
      ['POST', '/sdk/sessions/end', { app_id: 'a', device_id: 'd1', session_id: 's', duration: 1 }],
      ['POST', '/sdk/users/change', { device_id: 'd1', external_id: 'u1' }],
      ['POST', '/admin/keys', { name: 'k', permissions: ['users.track'] }],
      ['POST', '/admin/keys/rvk_nope_/revoke', { x: 1 }],
      ['GET', '/admin/keys', { x: 1 }],
      ['POST', '/nope', { x: 1 }],
    ];
    const holes = (v: unknown): unknown[] => {
      // Every way of replacing one node of v by HOLE (the root included).
      const out: unknown[] = [HOLE];
      if (Array.isArray(v)) v.forEach((x, i) => holes(x).forEach((h) => out.push(v.map((y, j) => (i === j ? h : y)))));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) holes(x).forEach((h) => out.push({ ...v, [k]: h }));
      return out;
    };
    let sent = 0;
    for (const [method, path, example] of examples) {
      for (const variant of holes(example)) {
        for (const deep of [deepArray, deepObject]) {
          const body = JSON.stringify(variant).replace(JSON.stringify(HOLE), deep);
          // Other valid items of the same request may still apply (partial success), so any status
          // below 500 is fine; probe() checks the invariants.
          await probe({ method, target: path, headers: [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']], body });
          sent++;
        }
      }
    }
    // The deep body with a __proto__ key somewhere (the poisoning scan must not recurse either).
    for (const body of [`${'['.repeat(DEPTH)}{"__proto__":1}${']'.repeat(DEPTH)}`, `${'{"a":'.repeat(DEPTH)}{"constructor":{"prototype":1}}${'}'.repeat(DEPTH)}`]) {
      const res = await probe({ method: 'POST', target: '/users/track', headers: [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']], body });
      expect(res.status).toBe(400);
      sent++;
    }
    expect(sent).toBeGreaterThan(100);
    expect((await send(port, { method: 'GET', target: '/healthz', headers: [] })).status).toBe(200);
  });

  it('`__proto__`, `constructor` and `prototype` keys anywhere: 400 or handled, nothing polluted', async () => {
    const poison = ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"prototype":{"polluted":1}}', '{"__proto__":null}', '{"constructor":1}'];
    const templates = [
      (p: string) => `{"events":[{"external_id":"u1","name":"x","time":"2024-01-01T00:00:00Z","properties":${p}}]}`,
      (p: string) => `{"attributes":[{"external_id":"u1","nested":${p}}]}`,
      (p: string) => `{"attributes":[${p.slice(0, -1)},"external_id":"u1"}]}`,
      (p: string) => `{"user_aliases":[{"alias_name":"pp","alias_label":"pp","x":${p}}]}`,
      (p: string) => `{"app_id":"a","device_id":"d1","session_id":"s","location":${p}}`,
      (p: string) => `{"name":"k","permissions":["admin"],"x":${p}}`,
      (p: string) => p,
    ];
    const paths = ['/users/track', '/users/track', '/users/track', '/users/alias/new', '/sdk/sessions/start', '/admin/keys', '/users/export/ids'];
    for (const p of poison) {
      for (let i = 0; i < templates.length; i++) {
        await probe({ method: 'POST', target: paths[i]!, headers: [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']], body: templates[i]!(p) });
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('malformed or unusual HTTP (framing, methods, request targets, header bytes) never gets a 5xx; refused requests change nothing', async () => {
    for (const [what, bytes] of malformedRequests()) {
      const before = await stateCounts(s);
      const data = await exchange(port, [bytes]);
      // Closing without an answer is acceptable for bytes that are not HTTP; the body shape of
      // the answers is bug B5's test. (An absolute-form target is valid HTTP/1.1 and may succeed.)
      const status = data.length ? parseResponse(data).status : 0;
      expect(status, what).toBeLessThan(500);
      if (status < 200 || status >= 300) expect(await stateCounts(s), what).toEqual(before);
    }
    expect((await send(port, { method: 'GET', target: '/healthz', headers: [] })).status).toBe(200);
  });

  it('a body over 4 MiB gets 413 JSON, with Content-Length or chunked, and the server stays healthy', async () => {
    const pad = 'x'.repeat(4 * 1024 * 1024);
    const big = JSON.stringify({ events: [{ external_id: 'u1', name: 'x', time: '2024-01-01T00:00:00Z', properties: { pad } }] });
    const auth: Array<[string, string]> = [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']];
    for (const [path, chunked] of [
      ['/users/track', false],
      ['/users/track', true],
      ['/users/identify', false],
      ['/users/export/ids', true],
      ['/sdk/sessions/start', false],
      ['/admin/keys', true],
    ] as const) {
      const t0 = Date.now();
      const res = await probe({ method: 'POST', target: path, headers: auth, body: big, chunked });
      expect(res.status, `${path} chunked=${chunked}`).toBe(413);
      expect(JSON.parse(res.text)).toEqual({ message: 'Request body too large', errors: [{ type: 'Request body too large' }] });
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    // Exactly at the limit is not "too large" (it is a valid request with a big property, refused per item).
    const limit = 4 * 1024 * 1024;
    const head = '{"events":[{"external_id":"u1","name":"x","time":"2024-01-01T00:00:00Z","properties":{"pad":"';
    const tail = '"}}]}';
    const atLimit = head + 'x'.repeat(limit - head.length - tail.length) + tail;
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    const res = await probe({ method: 'POST', target: '/users/track', headers: auth, body: atLimit });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).message).toBe('All objects failed validation');
    expect((await send(port, { method: 'GET', target: '/healthz', headers: [] })).status).toBe(200);
    expect((await s.call('POST', '/users/track', { events: [{ external_id: 'u1', name: 'after-413', time: '2024-01-01T00:00:00Z' }] })).status).toBe(201);
  });
});

/** Requests that are not well-formed HTTP/1.1, or use targets and header bytes that parsers refuse: [name, bytes]. */
function malformedRequests(): Array<[string, Buffer]> {
  const key = s.key;
  const body = '{"events":[{"external_id":"u1","name":"x","time":"2024-01-01T00:00:00Z"}]}';
  const post = (extra: string, b = body, method = 'POST', target = '/users/track') =>
    Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n${b}`, 'latin1');
  const auth = `Authorization: Bearer ${key}\r\nContent-Type: application/json\r\n`;
  const cl = (b: string) => `Content-Length: ${Buffer.byteLength(b, 'latin1')}\r\n`;
  return [
    ['unknown method FOO', post(auth + cl(body), body, 'FOO')],
    ['lower-case method', post(auth + cl(body), body, 'post')],
    ['two different Content-Length', post(auth + cl(body) + 'Content-Length: 3\r\n')],
    ['Content-Length and Transfer-Encoding', post(auth + cl(body) + 'Transfer-Encoding: chunked\r\n')],
    ['Content-Length: -1', post(auth + 'Content-Length: -1\r\n')],
    ['Content-Length: abc', post(auth + 'Content-Length: abc\r\n')],
    ['Content-Length: 10^20', post(auth + 'Content-Length: 99999999999999999999\r\n')],
    ['control byte in Authorization', post(`Authorization: Bearer a\x01b\r\nContent-Type: application/json\r\n` + cl(body))],
    ['NUL byte in Content-Type', post(`Authorization: Bearer ${key}\r\nContent-Type: application/json\x00\r\n` + cl(body))],
    ['20 KB header', post(auth + 'X-Big: ' + 'a'.repeat(20_000) + '\r\n' + cl(body))],
    ['bad chunk size', post(auth + 'Transfer-Encoding: chunked\r\n', 'zz\r\nabc\r\n0\r\n\r\n')],
    ['Transfer-Encoding: gzip, chunked', post(auth + 'Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n')],
    ['chunked, truncated JSON', post(auth + 'Transfer-Encoding: chunked\r\n', '5\r\n{"a":\r\n0\r\n\r\n')],
    ['Expect: 999-nope', post(auth + 'Expect: 999-nope\r\n' + cl(body))],
    ['space in a header name', post(auth + 'Bad Header Name: x\r\n' + cl(body))],
    ['obsolete line folding', post(auth + ' folded: x\r\n' + cl(body))],
    ['raw 0xff in the path', post(auth + cl(body), body, 'POST', '/users/tr\xffack')],
    ['raw 0xff in the query', post(auth + cl(body), body, 'POST', '/users/track?q=\xff')],
    ['bad percent-encoding %zz', post(auth + cl(body), body, 'POST', '/%zz')],
    ['truncated UTF-8 percent-encoding', post(auth + cl(body), body, 'POST', '/admin/keys/%E0%A4%A/revoke')],
    ['absolute-form target (valid HTTP)', post(auth + cl(body), body, 'POST', 'http://evil.example/users/track')],
    ['asterisk-form target', post(auth + cl(body), body, 'POST', '*')],
    ['target without a slash', post(auth + cl(body), body, 'POST', 'users/track')],
    ['not HTTP at all', Buffer.from('GARBAGE\r\n\r\n')],
    ['HTTP/1.0 without Host', Buffer.from(`GET /healthz HTTP/1.0\r\n\r\n`)],
    ['HTTP/2.0 request line', Buffer.from(`GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n`)],
    ['bare LF line endings', Buffer.from(`GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n`)],
    ['HTTP/2 preface', Buffer.from(`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`)],
  ];
}

// ---------------------------------------------------------------------------------------------
// Regression tests for the bugs this harness found (see the header). Not skipped on purpose.
// ---------------------------------------------------------------------------------------------

describe(`fuzz: bugs found by this harness on ${TEST_BACKEND}`, () => {
  /** Every place a client string reaches the database, with `x` as the string. */
  const stringSlots: Array<[string, (x: string) => RawRequest]> = [
    ['track events[].external_id', (x) => jsonReq('/users/track', { events: [{ external_id: x, name: 'n', time: '2024-01-01T00:00:00Z' }] })],
    ['track events[].name', (x) => jsonReq('/users/track', { events: [{ external_id: 'u1', name: x, time: '2024-01-01T00:00:00Z' }] })],
    ['track events[].properties value', (x) => jsonReq('/users/track', { events: [{ external_id: 'u1', name: 'n', time: '2024-01-01T00:00:00Z', properties: { p: x } }] })],
    ['track events[].properties key', (x) => jsonReq('/users/track', { events: [{ external_id: 'u1', name: 'n', time: '2024-01-01T00:00:00Z', properties: { [`k${x}`]: 1 } }] })],
    ['track attributes[].first_name', (x) => jsonReq('/users/track', { attributes: [{ external_id: 'u1', first_name: x }] })],
    ['track attributes[] custom value', (x) => jsonReq('/users/track', { attributes: [{ external_id: 'u1', plan: x }] })],
    ['track attributes[] custom key', (x) => jsonReq('/users/track', { attributes: [{ external_id: 'u1', [`k${x}`]: 1 }] })],
    ['track purchases[].product_id', (x) => jsonReq('/users/track', { purchases: [{ external_id: 'u1', product_id: x, currency: 'USD', price: 1, time: '2024-01-01T00:00:00Z' }] })],
    ['alias/new alias_name', (x) => jsonReq('/users/alias/new', { user_aliases: [{ alias_name: x, alias_label: 'l9' }] })],
    ['identify user_alias', (x) => jsonReq('/users/identify', { aliases_to_identify: [{ external_id: 'u1', user_alias: { alias_name: x, alias_label: 'l1' } }] })],
    ['export external_ids', (x) => jsonReq('/users/export/ids', { external_ids: [x] })],
    ['sessions/start device_id', (x) => jsonReq('/sdk/sessions/start', { app_id: 'a', device_id: x, session_id: 's' })],
    ['sessions/start session_id', (x) => jsonReq('/sdk/sessions/start', { app_id: 'a', device_id: 'd1', session_id: x })],
    ['sessions/end device_id', (x) => jsonReq('/sdk/sessions/end', { app_id: 'a', device_id: x, session_id: 's' })],
    ['users/change external_id', (x) => jsonReq('/sdk/users/change', { device_id: 'd1', external_id: x })],
    ['admin/keys name', (x) => jsonReq('/admin/keys', { name: x, permissions: ['users.track'] })],
    ['admin/keys/:prefix/revoke', (x) => ({ method: 'POST', target: `/admin/keys/${percentEncode(x)}/revoke`, headers: [['Authorization', `Bearer ${s.key}`]] })],
  ];


  /** Sends every slot × value (twice each), and lists every 5xx or state change of a refused request. */
  async function sweep(values: string[]): Promise<string[]> {
    const failures: string[] = [];
    for (const [slot, make] of stringSlots) {
      for (const value of values) {
        for (const attempt of ['', ' (sent again)']) {
          const before = await stateCounts(s);
          const res = await send(port, make(value));
          const what = `${slot} = ${JSON.stringify(value)}${attempt} → ${res.status}${res.status >= 500 ? '' : ` ${res.text.slice(0, 80)}`}`;
          if (res.status >= 500) failures.push(what);
          else if (res.status >= 400 && JSON.stringify(await stateCounts(s)) !== JSON.stringify(before)) failures.push(`${what} (state changed)`);
        }
      }
    }
    return failures;
  }

  it('[B1] U+0000 in any string field is a 4xx, never a 500 (PostgreSQL text/jsonb cannot hold NUL)', async () => {
    expect(await sweep(['\u0000', 'a\u0000b'])).toEqual([]);
  });

  it('[B2] lone UTF-16 surrogates (JSON "\\ud800") in any string field never get a 5xx, even when sent twice', async () => {
    expect(await sweep(['\ud800', 'a\udc00b', 'x\ud83d'])).toEqual([]);
  });

  it('[B3] POST /admin/keys: `permissions` items that are deep arrays or objects with valueOf/toString keys get a 400, not a 500 (uniqueItems deep-equal)', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const failures: string[] = [];
    for (const permissions of [`[${deep},${deep}]`, '[{},{"valueOf":""}]', '[{"toString":1},{"toString":1}]', '[{"a":{"valueOf":0}},{"a":{"valueOf":0}}]']) {
      const req: RawRequest = { method: 'POST', target: '/admin/keys', headers: [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']], body: `{"name":"k","permissions":${permissions}}` };
      const res = await send(port, req);
      if (res.status >= 500) failures.push(`permissions ${permissions.slice(0, 60)} → ${res.status} ${res.text.slice(0, 100)}`);
    }
    expect(failures).toEqual([]);
  });

  it('[B4] attribute keys named like Object.prototype members are custom attributes: stored, never a 5xx', async () => {
    const problems: string[] = [];
    for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__lookupGetter__', '__defineGetter__', '__defineSetter__']) {
      const res = await send(port, jsonReq('/users/track', { attributes: [{ external_id: `proto-${key}`, [key]: 'v' }] }));
      if (res.status !== 201) {
        problems.push(`${key}: ${res.status} ${res.text.slice(0, 100)}`);
        continue;
      }
      const exported = await s.call('POST', '/users/export/ids', { external_ids: [`proto-${key}`], fields_to_export: ['custom_attributes'] });
      const stored = exported.body.users[0]?.custom_attributes ?? {};
      if (!Object.hasOwn(stored, key) || stored[key] !== 'v') problems.push(`${key}: 201 but not stored (custom_attributes = ${JSON.stringify(stored)})`);
    }
    expect(problems).toEqual([]);
  });

  it('[B5] errors raised by Node/Fastify before the app (malformed HTTP, bad URL encoding, long route parameters, oversized heads) have the JSON error shape {message, errors[]}', async () => {
    const problems: string[] = [];
    const auth = `Authorization: Bearer ${s.key}\r\n`;
    const wellFormedButRefused: Array<[string, Buffer]> = [
      ['route parameter over 100 chars', Buffer.from(`POST /admin/keys/${'p'.repeat(101)}/revoke HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${auth}\r\n`)],
      ['17 KB query string', Buffer.from(`GET /healthz?q=${'x'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)],
    ];
    for (const [what, bytes] of [...malformedRequests(), ...wellFormedButRefused]) {
      const data = await exchange(port, [bytes]);
      if (!data.length) continue;
      const res = parseResponse(data);
      if (res.status < 400) continue;
      let ok = false;
      try {
        const body = JSON.parse(res.text);
        ok = typeof body.message === 'string' && Array.isArray(body.errors) && body.errors.length > 0;
      } catch {
        /* not JSON */
      }
      if (!ok) problems.push(`${what} → ${res.status} ${res.text.slice(0, 120)}`);
    }
    expect(problems).toEqual([]);
  });

  it('[BUG B7] an unauthenticated client cannot make the server parse a 4 MiB body by posting it to an unknown route; the event loop stays responsive', async () => {
    const deep = '['.repeat(2_000_000) + ']'.repeat(2_000_000); // 4,000,000 bytes: under the 4 MiB limit
    for (const target of ['/no-such-route', '/healthz']) {
      // Write the whole request, then time the answer (server work only) and a /healthz sent at once.
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.on('error', () => {});
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      const parts = encodeRequest({ method: 'POST', target, headers: [['Content-Type', 'application/json']], body: deep });
      await new Promise<void>((resolve) => {
        parts.forEach((p, i) => socket.write(p, i === parts.length - 1 ? () => resolve() : undefined));
      });
      const written = Date.now();
      const health = send(port, { method: 'GET', target: '/healthz', headers: [] }).then((r) => ({ status: r.status, ms: Date.now() - written }));
      await closed;
      const answeredMs = Date.now() - written;
      const h = await health;
      expect(answer).toMatch(/^HTTP\/1\.1 4\d\d/);
      expect(h.status).toBe(200);
      expect(h.ms, `GET /healthz took ${h.ms} ms while an unauthenticated 4 MB body to POST ${target} was being processed`).toBeLessThan(500);
      expect(answeredMs, `POST ${target} (no key, 4 MB body) was answered ${answeredMs} ms after it was sent`).toBeLessThan(500);
    }
  });
});

function jsonReq(path: string, body: unknown): RawRequest {
  return { method: 'POST', target: path, headers: [['Authorization', `Bearer ${s.key}`], ['Content-Type', 'application/json']], body: JSON.stringify(body) };
}

// ---------------------------------------------------------------------------------------------
// Slow clients: a request must arrive within RIVULET_REQUEST_TIMEOUT_MS.
// ---------------------------------------------------------------------------------------------

describe(`slow clients on ${TEST_BACKEND}`, () => {
  let slow: TestServer;
  beforeAll(async () => {
    slow = await startTestServer({ RIVULET_REQUEST_TIMEOUT_MS: '1000' });
  });
  afterAll(() => slow?.close());

  /** Trickles `step` every `everyMs` after `head`; resolves when the server closes the connection or after `maxMs`. */
  function trickle(head: string, step: string, everyMs: number, maxMs: number): Promise<{ closedAfterMs: number | undefined; response: string }> {
    return new Promise((resolve) => {
      const sp = Number(new URL(slow.url).port);
      const socket = connect(sp, '127.0.0.1');
      let response = '';
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const finish = (closed: boolean) => {
        clearInterval(timer);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ closedAfterMs: closed ? Date.now() - t0 : undefined, response });
      };
      const giveUp = setTimeout(() => finish(false), maxMs);
      socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => finish(true));
      socket.on('connect', () => {
        socket.write(head);
        timer = setInterval(() => {
          if (!socket.destroyed) socket.write(step);
        }, everyMs);
      });
    });
  }

  it('[B6] a client that sends the headers, then trickles the body, is cut off soon after the timeout; the server stays healthy', async () => {
    const before = await stateCounts(slow);
    const head = `POST /users/track HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${slow.key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"events":[`;
    // Several at once, as a slowloris would; each sends a byte every 100 ms, so it is never idle.
    const results = await Promise.all([0, 1, 2].map(() => trickle(head, ' ', 100, 6_000)));
    // The server is still healthy, nothing was applied, and a normal request works.
    expect((await slow.call('GET', '/healthz')).status).toBe(200);
    expect(await stateCounts(slow)).toEqual(before);
    expect((await slow.call('POST', '/users/track', { events: [{ external_id: 's1', name: 'x', time: '2024-01-01T00:00:00Z' }] })).status).toBe(201);
    for (const r of results) {
      expect(r.response).not.toMatch(/^HTTP\/1\.1 2/);
      // Timeout 1 s; allow generous slack for a loaded machine, but not Node's 30 s checking interval.
      expect(r.closedAfterMs, `not cut off within 6 s with RIVULET_REQUEST_TIMEOUT_MS=1000 (response so far: ${JSON.stringify(r.response.slice(0, 120))})`).toBeDefined();
      expect(r.closedAfterMs!).toBeLessThan(5_000);
    }
  });

  it('[B6] a client that trickles header lines (slowloris) is cut off soon after the timeout', async () => {
    const r = await trickle('POST /users/track HTTP/1.1\r\nHost: x\r\n', 'X-A: b\r\n', 100, 6_000);
    expect(r.closedAfterMs, 'not cut off within 6 s with RIVULET_REQUEST_TIMEOUT_MS=1000').toBeDefined();
    expect(r.closedAfterMs!).toBeLessThan(5_000);
    expect((await slow.call('GET', '/healthz')).status).toBe(200);
  });

  it('an idle connection that sends nothing is closed after the timeout', async () => {
    const r = await trickle('', '', 10_000, 6_000);
    expect(r.closedAfterMs).toBeDefined();
    expect(r.closedAfterMs!).toBeLessThan(5_000);
  });
});
