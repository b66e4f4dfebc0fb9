import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../../emulator/mail-sink/index.js';
import { composeEmail, nextEmailAttempt, signToken, SmtpTransports, trackingRoutes, verifyToken, EMAIL_RETRY_WINDOW_MS, type TrackingPayload } from './index.js';

const secret = randomBytes(32);
let sink: RunningMailSink;
let app: FastifyInstance;
let publicUrl: string;
const seen: Array<[string, TrackingPayload, Record<string, unknown>]> = [];
const transports = new SmtpTransports();

beforeAll(async () => {
  sink = await startMailSink();
  app = Fastify();
  await app.register(
    trackingRoutes({
      secretFor: async (ws) => (ws === 'ws-1' ? secret : undefined),
      onOpen: async (p, s) => void seen.push(['open', p, s]),
      onClick: async (p, s) => void seen.push(['click', p, s]),
      onUnsubscribe: async (p, s) => void seen.push(['unsubscribe', p, s]),
    }),
  );
  publicUrl = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  transports.close();
  await app?.close();
  await sink?.close();
});

const compose = (over: Partial<Parameters<typeof composeEmail>[0]> = {}) =>
  composeEmail({
    email: { subject: 'Hello\r\nAda', html: '<html><body><p>Hi <a href="https://shop.example/a?x=1&amp;y=2" data-link-alias="shop">shop</a> <a href="https://x.example/" clicktracking="off">raw</a> <a href="mailto:a@b.c">mail</a></p></body></html>' },
    to: 'ada@example.com',
    from: { address: 'news@rivulet.test', name: 'Rivulet News' },
    sendKey: '5d0b6f7a-1c2d-5e3f-8a9b-0c1d2e3f4a5b',
    workspaceId: 'ws-1',
    publicUrl,
    secret,
    listUnsubscribe: true,
    ...over,
  });

describe('composing an email', () => {
  it('tracks http(s) links except those marked off, puts the pixel last in the body, and sets the ids and unsubscribe headers', () => {
    const e = compose();
    expect(e.subject).toBe('Hello Ada');
    expect(e.messageId).toBe('<5d0b6f7a-1c2d-5e3f-8a9b-0c1d2e3f4a5b@rivulet.test>');
    expect(e.headers).toEqual({ 'X-Rivulet-Send-Id': '5d0b6f7a-1c2d-5e3f-8a9b-0c1d2e3f4a5b', 'List-Unsubscribe': `<${e.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
    expect(e.links).toEqual([{ id: 'l0', url: 'https://shop.example/a?x=1&y=2', alias: 'shop' }]);
    expect(e.html).toContain('href="https://x.example/" clicktracking="off"');
    expect(e.html).toContain('href="mailto:a@b.c"');
    expect(e.html).toMatch(/<img src="[^"]+\/t\/o\/[^"]+"[^>]*><\/body><\/html>$/);
    expect(e.text).toContain('shop (https://shop.example/a?x=1&y=2)');
    expect(compose({ listUnsubscribe: false, trackOpens: false }).headers).toEqual({ 'X-Rivulet-Send-Id': '5d0b6f7a-1c2d-5e3f-8a9b-0c1d2e3f4a5b' });
  });

  it('signs tokens that verify only with the workspace secret and for their own kind', () => {
    const t = signToken({ k: 'click', w: 'ws-1', s: 'k', url: 'https://a.example/' }, secret);
    expect(verifyToken(t, secret, 'click')).toMatchObject({ url: 'https://a.example/' });
    expect(verifyToken(t, secret, 'open')).toBeUndefined();
    expect(verifyToken(t, randomBytes(32), 'click')).toBeUndefined();
    const [body, mac] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ k: 'click', w: 'ws-1', s: 'k', url: 'https://evil.example/' })).toString('base64url');
    expect(verifyToken(`${forged}.${mac}`, secret, 'click')).toBeUndefined();
    expect(verifyToken(`${body}.`, secret, 'click')).toBeUndefined();
  });
});

describe('sending and what the recipient does', () => {
  it('delivers over pooled SMTP; opens, clicks and one-click unsubscribes reach the routes; bad tokens get 404', async () => {
    const e = compose();
    expect(await transports.send({ url: sink.smtpUrl }, e)).toMatchObject({ kind: 'delivered', response: expect.stringMatching(/^250/) });
    const list = (await (await request(`${sink.url}/messages?to=ada@example.com`)).body.json()) as any;
    const id = list.messages[0].id;
    expect(list.messages[0]).toMatchObject({ subject: 'Hello Ada', send_id: '5d0b6f7a-1c2d-5e3f-8a9b-0c1d2e3f4a5b', message_id: e.messageId });

    const post = async (path: string, json?: unknown) => (await (await request(`${sink.url}${path}`, { method: 'POST', headers: json ? { 'content-type': 'application/json' } : {}, body: json ? JSON.stringify(json) : undefined })).body.json()) as any;
    expect((await post(`/messages/${id}/open`)).fetched[0].status).toBe(200);
    expect(await post(`/messages/${id}/click`, { index: 0 })).toMatchObject({ status: 302, location: 'https://shop.example/a?x=1&y=2' });
    expect((await post(`/messages/${id}/unsubscribe`)).status).toBe(200);
    expect(seen.map(([k, p, s]) => [k, p.s, p.lid ?? null, (s as any).source ?? null])).toEqual([
      ['open', e.headers['X-Rivulet-Send-Id'], null, null],
      ['click', e.headers['X-Rivulet-Send-Id'], 'l0', null],
      ['unsubscribe', e.headers['X-Rivulet-Send-Id'], null, 'List-Unsubscribe'],
    ]);

    const page = await request(e.unsubscribeUrl);
    expect(page.statusCode).toBe(200);
    expect(await page.body.text()).toContain('<form method="post">');
    expect(seen).toHaveLength(3); // fetching the page unsubscribes nobody
    const confirmed = await request(e.unsubscribeUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=1' });
    expect(confirmed.statusCode).toBe(200);
    await confirmed.body.dump();
    expect(seen.at(-1)![2]).toMatchObject({ source: 'Unsubscribe Link' });

    const click = e.links.length && /href="([^"]*\/t\/c\/[^"]*)"/.exec(e.html)![1]!.replace(/&amp;/g, '&');
    const tampered = String(click).replace(/\.[^.]*$/, '.AAAA');
    const bad = await request(tampered);
    expect(bad.statusCode).toBe(404);
    expect(bad.headers.location).toBeUndefined();
    await bad.body.dump();
    const head = await request(String(click), { method: 'HEAD' });
    expect(head.statusCode).toBe(302);
    await head.body.dump();
    expect(seen.at(-1)).toMatchObject(['click', {}, { head: true }]);
  });

  it('reads 5xx as a bounce and 4xx as a deferral', async () => {
    await request(`${sink.url}/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: [{ address: 'gone@example.com', code: 550, message: 'No such user' }, { address: 'busy@example.com', code: 451, message: 'Try later' }] }) });
    expect(await transports.send({ url: sink.smtpUrl }, compose({ to: 'gone@example.com' }))).toMatchObject({ kind: 'bounce', code: 550, reason: expect.stringContaining('No such user') });
    expect(await transports.send({ url: sink.smtpUrl }, compose({ to: 'busy@example.com' }))).toMatchObject({ kind: 'deferral', code: 451 });
    expect(await transports.send({ url: 'smtp://127.0.0.1:9', timeoutMs: 5_000 }, compose())).toMatchObject({ kind: 'deferral', code: null });
  });

  it('retries a deferral 1 minute later, doubling to at most an hour apart, until 72 hours', () => {
    const gaps: number[] = [];
    let now = 0;
    for (let attempts = 1; ; attempts++) {
      const next = nextEmailAttempt({ attempts, firstAttemptAt: 0, now });
      if (next === 'soft_bounce') break;
      gaps.push(next.at - now);
      now = next.at;
    }
    expect(gaps.slice(0, 7)).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]);
    expect(now).toBeLessThanOrEqual(EMAIL_RETRY_WINDOW_MS);
    expect(now + 3_600_000).toBeGreaterThan(EMAIL_RETRY_WINDOW_MS);
  });
});
