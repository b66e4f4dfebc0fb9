/**
 * Events per second through the SDK upload endpoint (`POST /sdk/v1/batch`, 75 custom events per
 * upload, each with its client id claimed for idempotency) beside `POST /users/track` (75 custom
 * events per request) in the same run, same server, same client and concurrency. The ratio is the
 * figure to compare across machines.
 *
 *   npx tsx bench/sdk-ingest.ts [--duration=10] [--connections=16] [--devices=200]
 *
 * BENCH_DURATION, BENCH_CONNECTIONS, BENCH_DEVICES and RIVULET_TEST_BACKEND=postgres also apply.
 * Run under `flock /tmp/rivulet-heavy.lock` on a shared machine.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { startTestServer } from '../src/test-support/server.js';
import { TEST_BACKEND } from '../src/test-support/db.js';

const arg = (name: string, env: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return Number(hit ? hit.slice(name.length + 3) : (process.env[env] ?? fallback));
};
const DURATION_S = arg('duration', 'BENCH_DURATION', 10);
const CONNECTIONS = arg('connections', 'BENCH_CONNECTIONS', 16);
const DEVICES = arg('devices', 'BENCH_DEVICES', 200);
const BATCH = 75;
const ORIGIN = 'https://bench.example.com';

const s = await startTestServer({ RIVULET_RATE_LIMIT_SDK: '100000000', RIVULET_RATE_LIMIT_TRACK: '100000000' });
const pool = new Pool(s.url, { connections: CONNECTIONS, pipelining: 1 });
const app = await s.call('POST', '/sdk/apps', { name: 'bench', allowed_origins: [ORIGIN] });
if (app.status !== 201) throw new Error(`creating the SDK app failed: ${JSON.stringify(app.body)}`);
const sdkKey: string = app.body.api_key;
const sdkHeaders = { 'content-type': 'application/json', origin: ORIGIN, 'x-rivulet-sdk-key': sdkKey };
const trackHeaders = { 'content-type': 'application/json', authorization: `Bearer ${s.key}` };

// Every device has a session (and so a user) before the clock starts.
for (let d = 0; d < DEVICES; d++) {
  const r = await s.call('POST', '/sdk/v1/batch', { device_id: `bench-${d}`, events: [{ id: randomUUID(), type: 'session_start', session_id: `s-${d}`, time: new Date().toISOString() }] }, { key: null, headers: { origin: ORIGIN, 'x-rivulet-sdk-key': sdkKey } });
  if (r.status !== 200 || r.body.accepted !== 1) throw new Error(`session start failed: ${JSON.stringify(r.body)}`);
}

let n = 0;
const sdkBody = () => {
  const time = new Date().toISOString();
  return JSON.stringify({
    device_id: `bench-${n++ % DEVICES}`,
    events: Array.from({ length: BATCH }, (_, i) => ({ id: randomUUID(), type: 'custom_event', name: 'bench_event', properties: { i }, time })),
  });
};
const trackBody = () => {
  const time = new Date().toISOString();
  const user = `bench-user-${n++ % DEVICES}`;
  return JSON.stringify({ events: Array.from({ length: BATCH }, (_, i) => ({ external_id: user, name: 'bench_event', properties: { i }, time })) });
};

async function measure(label: string, path: string, headers: Record<string, string>, body: () => string, ok: number): Promise<number> {
  const end = Date.now() + DURATION_S * 1000;
  let events = 0;
  let failures = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const res = await pool.request({ method: 'POST', path, headers, body: body() });
      await res.body.text();
      if (res.statusCode === ok) events += BATCH;
      else failures++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const rate = events / ((Date.now() - started) / 1000);
  console.log(`${label.padEnd(22)} ${rate.toFixed(0).padStart(8)} events/s  (${events} events, ${failures} failed requests)`);
  return rate;
}

console.log(`backend ${TEST_BACKEND}, ${DURATION_S} s each, ${CONNECTIONS} connections, ${BATCH} events per request, ${DEVICES} devices/users`);
const track = await measure('POST /users/track', '/users/track', trackHeaders, trackBody, 201);
const sdk = await measure('POST /sdk/v1/batch', '/sdk/v1/batch', sdkHeaders, sdkBody, 200);
console.log(`ratio sdk / track: ${(sdk / track).toFixed(2)}`);
await pool.close();
await s.close();
