import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressPolicy, attemptWebhook, guardedAgent, nextWebhookAttempt, parseRetryAfter, type Resolver, WEBHOOK_RETRY_WINDOW_MS } from './index.js';

let server: Server;
let port: number;
const received: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
const replies: Array<{ status: number; headers?: Record<string, string>; body?: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const r = replies.shift() ?? { status: 200 };
      res.writeHead(r.status, r.headers).end(r.body ?? 'ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

// Only 127.0.0.1 is opened, as in tests and demos; a fake resolver gives names their addresses.
const policy = new AddressPolicy(['127.0.0.1']);
const names: Record<string, Array<{ address: string; family: number }>> = {
  'hooks.test': [{ address: '127.0.0.1', family: 4 }],
  'six.test': [{ address: '::1', family: 6 }],
  'mixed.test': [{ address: '127.0.0.1', family: 4 }, { address: '10.1.2.3', family: 4 }],
};
const resolve: Resolver = (host, cb) => (names[host] ? cb(null, names[host]!) : cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []));
const agent = guardedAgent(policy, { resolve, timeoutMs: 5_000 });
const hook = (url: string, extra: Partial<Parameters<typeof attemptWebhook>[0]> = {}) =>
  attemptWebhook({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}', sendKey: 'send-key-1', ...extra }, agent, policy);

describe('the address policy', () => {
  it('refuses loopback, private, link-local, unspecified and mapped forms; opens only what the allowlist names', () => {
    const strict = new AddressPolicy();
    for (const a of ['127.0.0.1', '127.0.0.2', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip']) {
      expect([a, strict.refuses(a)]).toEqual([a, true]);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111']) expect([a, strict.refuses(a)]).toEqual([a, false]);
    expect(policy.refuses('127.0.0.1')).toBe(false);
    expect(policy.refuses('::ffff:127.0.0.1')).toBe(false);
    expect(policy.refuses('127.0.0.2')).toBe(true);
  });
});

describe('a webhook attempt', () => {
  it('sends to an allowed address with the send key as idempotency key, and records the attempt', async () => {
    received.length = 0;
    const out = await hook(`http://hooks.test:${port}/in?x=1`, { headers: { 'x-user': 'a\r\nInjected: yes' } });
    expect(out).toMatchObject({ kind: 'sent', attempt: { status: 200, reply: 'ok' } });
    expect(received[0]).toMatchObject({ method: 'POST', url: '/in?x=1', body: '{"a":1}' });
    expect(received[0]!.headers).toMatchObject({ 'idempotency-key': 'send-key-1', 'x-rivulet-send-id': 'send-key-1', 'x-user': 'a Injected: yes' });
    expect(received[0]!.headers.injected).toBeUndefined();
  });

  it('refuses 127.0.0.2 and names resolving to ::1 or to any inside address, before connecting', async () => {
    received.length = 0;
    expect(await hook(`http://127.0.0.2:${port}/`)).toMatchObject({ kind: 'aborted', abortType: 'blocked_webhook_url' });
    expect(await hook(`http://[::1]:${port}/`)).toMatchObject({ kind: 'aborted', abortType: 'blocked_webhook_url' });
    expect(await hook(`http://six.test:${port}/`)).toMatchObject({ kind: 'aborted', abortType: 'blocked_webhook_url', abortLog: expect.stringContaining('::1') });
    expect(await hook(`http://mixed.test:${port}/`)).toMatchObject({ kind: 'aborted', abortType: 'blocked_webhook_url' });
    expect(received).toHaveLength(0);
    expect(await hook('not a url')).toMatchObject({ kind: 'aborted', abortType: 'missing_hostname' });
    expect(await hook('mailto:someone@example.com')).toMatchObject({ kind: 'aborted', abortType: 'missing_hostname' });
  });

  it('retries 408, 429 (with Retry-After), 5xx and network errors; aborts other statuses without following redirects', async () => {
    replies.push({ status: 503 }, { status: 429, headers: { 'retry-after': '120' } }, { status: 408 }, { status: 302, headers: { location: `http://127.0.0.1:${port}/elsewhere` } }, { status: 404, body: 'x'.repeat(10_000) });
    expect(await hook(`http://127.0.0.1:${port}/`)).toMatchObject({ kind: 'retry', attempt: { status: 503 } });
    expect(await hook(`http://127.0.0.1:${port}/`)).toMatchObject({ kind: 'retry', retryAfterMs: 120_000 });
    expect(await hook(`http://127.0.0.1:${port}/`)).toMatchObject({ kind: 'retry', attempt: { status: 408 } });
    received.length = 0;
    expect(await hook(`http://127.0.0.1:${port}/`)).toMatchObject({ kind: 'aborted', abortType: 'invalid_http_status', abortLog: 'HTTP 302' });
    expect(received.map((r) => r.url)).toEqual(['/']);
    const notFound = await hook(`http://127.0.0.1:${port}/`);
    expect(notFound).toMatchObject({ kind: 'aborted', abortType: 'invalid_http_status' });
    expect(notFound.kind === 'aborted' && notFound.attempt?.reply?.length).toBe(4096);
    const closed = await hook('http://127.0.0.1:9/'); // nothing listens on the discard port
    expect(closed).toMatchObject({ kind: 'retry', attempt: { status: null, error: expect.any(String) } });
    expect(await hook(`http://nowhere.test:${port}/`)).toMatchObject({ kind: 'retry', attempt: { error: 'ENOTFOUND' } });
  });
});

describe('the retry schedule', () => {
  it('makes five tries within about 30 minutes, then hourly, and ends 24 hours after the first', () => {
    const first = 0;
    let now = first;
    const times = [now];
    for (let attempts = 1; ; attempts++) {
      const next = nextWebhookAttempt({ attempts, firstAttemptAt: first, now, random: () => 0.5 });
      if (next === 'exhausted') break;
      now = next.at;
      times.push(now);
    }
    expect(times[4]).toBe(30 * 60_000);
    expect(times.at(-1)!).toBeLessThanOrEqual(WEBHOOK_RETRY_WINDOW_MS);
    expect(times.length).toBe(5 + 23);
  });

  it('stays within ±20 % jitter, honours Retry-After up to an hour, and never goes past 24 hours', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999, noNaN: true }), fc.option(fc.integer({ min: 0, max: 10 * 3_600_000 }), { nil: undefined }), (attempts, r, retryAfterMs) => {
        const now = 1_000_000;
        const next = nextWebhookAttempt({ attempts, firstAttemptAt: now - 60_000, now, retryAfterMs, random: () => r });
        if (next === 'exhausted') return;
        const delay = next.at - now;
        if (retryAfterMs !== undefined) expect(delay).toBe(Math.min(Math.max(retryAfterMs, 1000), 3_600_000));
        else expect(delay).toBeGreaterThanOrEqual(0.8 * 60_000 - 1);
        expect(next.at - (now - 60_000)).toBeLessThanOrEqual(WEBHOOK_RETRY_WINDOW_MS);
      }),
    );
    expect(parseRetryAfter('7', 0)).toBe(7000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});
