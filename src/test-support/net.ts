/**
 * Small helpers the end-to-end tests share: a free loopback port, polling until a probe answers,
 * and a JSON client for an emulator's control API (the mail sink, the Twilio emulator).
 */
import { createServer } from 'node:http';
import { request } from 'undici';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined, and returns that;
 * throws naming `what` once `ms` have passed (deadlines are generous: the machine may be busy).
 */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `until` with a default deadline of `ms` (each test file keeps its own). */
export function untilWithin(ms: number) {
  return <T>(probe: () => Promise<T | undefined>, what: string, within = ms): Promise<T> => until(probe, what, within);
}

/**
 * A JSON client for the control API at `base()` (a function: the emulator starts in `beforeAll`,
 * after the client is made). Answers are parsed JSON, untyped: tests read them with expectations.
 */
export function jsonApi(base: () => string) {
  return async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown): Promise<any> =>
    (await (await request(base() + path, { method, headers: json === undefined ? {} : { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json) })).body.json());
}
