/**
 * The push emulator against the `web-push` library's requests: it decrypts exactly what was sent
 * (its own node:crypto code, not the library's), verifies the VAPID JWT and its audience, refuses
 * tampered bodies and wrong keys, answers injected faults, and 410 once unsubscribed.
 */
import { request } from 'undici';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushEmulator, type RunningPushEmulator } from './index.js';

let emu: RunningPushEmulator;
const vapid = webpush.generateVAPIDKeys();
const other = webpush.generateVAPIDKeys();

beforeAll(async () => {
  emu = await startPushEmulator();
});
afterAll(() => emu.close());

const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => {
  const res = await request(emu.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
};

const subscribe = async (applicationServerKey?: string) => (await call('POST', '/emulator/subscriptions', applicationServerKey ? { application_server_key: applicationServerKey } : {})).body;

function details(sub: { endpoint: string; keys: { p256dh: string; auth: string } }, payload: string, keys = vapid, audience?: string) {
  const d = webpush.generateRequestDetails(sub, payload, { vapidDetails: { subject: 'mailto:test@example.com', publicKey: keys.publicKey, privateKey: keys.privateKey }, TTL: 60, contentEncoding: 'aes128gcm', urgency: 'high' });
  if (audience) {
    const h = webpush.getVapidHeaders(audience, 'mailto:test@example.com', keys.publicKey, keys.privateKey, 'aes128gcm');
    d.headers = { ...d.headers, Authorization: h.Authorization };
  }
  return d;
}

const post = async (d: ReturnType<typeof details>, mutate: (b: Buffer) => Buffer = (b) => b, dropHeader?: string) => {
  const headers = { ...(d.headers as Record<string, string>) };
  if (dropHeader) for (const k of Object.keys(headers)) if (k.toLowerCase() === dropHeader) delete headers[k];
  const res = await request(d.endpoint, { method: 'POST', headers, body: mutate(Buffer.from(d.body!)) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, location: res.headers.location };
};

describe('push emulator', () => {
  it('hands out subscriptions and decrypts exactly the payload web-push encrypted, with the VAPID claims', async () => {
    const s = await subscribe(vapid.publicKey);
    expect(s.subscription.endpoint).toBe(`${emu.url}/push/${s.id}`);
    expect(Buffer.from(s.subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(s.subscription.keys.auth, 'base64url')).toHaveLength(16);
    const payload = JSON.stringify({ title: 'Héllo ✓', body: 'x'.repeat(3000) });
    const r = await post(details(s.subscription, payload));
    expect(r.status).toBe(201);
    expect(r.location).toMatch(/\/emulator\/messages\//);
    const { messages } = (await call('GET', `/emulator/messages?subscription=${s.id}`)).body;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ payload, ttl: 60, urgency: 'high', vapid: { aud: emu.url, sub: 'mailto:test@example.com', public_key: vapid.publicKey } });
  });

  it('refuses a tampered body, the wrong audience, a key the subscription was not made for, a forged signature and a missing TTL', async () => {
    const s = await subscribe(vapid.publicKey);
    const d = details(s.subscription, 'secret');
    const tampered = await post(d, (b) => {
      const c = Buffer.from(b);
      c[c.length - 20]! ^= 1;
      return c;
    });
    expect(tampered.status).toBe(400);
    expect(tampered.body.message).toMatch(/does not authenticate/);
    expect((await post(details(s.subscription, 'x', vapid, 'https://push.example.net'))).status).toBe(403);
    const wrongKey = await post(details(s.subscription, 'x', other));
    expect(wrongKey.status).toBe(403);
    expect(wrongKey.body.message).toMatch(/applicationServerKey/);
    const forged = details(s.subscription, 'x');
    const auth = (forged.headers as Record<string, string>).Authorization!;
    (forged.headers as Record<string, string>).Authorization = auth.replace(/k=\S+/, `k=${other.publicKey}`);
    const bad = await post(forged);
    expect(bad.status).toBe(401);
    expect(bad.body.message).toMatch(/signature/);
    expect((await post(details(s.subscription, 'x'), undefined, 'ttl')).status).toBe(400);
    // Another subscription's keys cannot read it either.
    const t = await subscribe();
    const misrouted = details(s.subscription, 'x');
    expect((await post({ ...misrouted, endpoint: t.subscription.endpoint })).status).toBe(400);
    expect((await call('GET', `/emulator/messages?subscription=${s.id}`)).body.messages).toHaveLength(0);
  });

  it('answers injected faults the chosen number of times, and 410 once unsubscribed', async () => {
    const s = await subscribe();
    expect((await call('PUT', '/emulator/faults', { rules: [{ subscription: s.id, status: 429, times: 1, retry_after: 3 }, { subscription: 'nope' }] })).status).toBe(400);
    expect((await call('PUT', '/emulator/faults', { rules: [{ subscription: s.id, status: 500, times: 1 }] })).status).toBe(200);
    expect((await post(details(s.subscription, 'a'))).status).toBe(500);
    expect((await post(details(s.subscription, 'b'))).status).toBe(201);
    expect((await call('DELETE', `/emulator/subscriptions/${s.id}`)).status).toBe(204);
    expect((await post(details(s.subscription, 'c'))).status).toBe(410);
    const { requests } = (await call('GET', `/emulator/requests?subscription=${s.id}`)).body;
    expect(requests.map((r: { status: number }) => r.status)).toEqual([500, 201, 410]);
  });
});
