/**
 * The SDK service worker's handlers (packages/web-sdk/src/sw.ts) with the worker scope faked: what
 * a push payload shows, what a click reports and opens, retries of the Open report, and payloads
 * it must ignore (not Rivulet's, a javascript: URL). The real path — payload decrypted by the push
 * emulator, click posted to Rivulet — is in src/channels/push/push.db.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { handleNotificationClick, handlePush, install, notificationOf, reportOpen, type FetchLike, type WindowClientLike, type WorkerScopeLike } from '../../packages/web-sdk/src/sw.js';

const payload = { title: 'Hi Ada', body: 'Sale today', url: 'https://shop.example.com/sale', icon: 'https://shop.example.com/i.png', rivulet: { open_url: 'https://rivulet.example.com/sdk/v1/push/open', token: 'tok.en' } };
const data = (v: unknown) => ({ json: () => (typeof v === 'string' ? JSON.parse(v) : v), text: () => JSON.stringify(v) });

function fakeScope(windows: WindowClientLike[] = []) {
  const shown: Array<[string, unknown]> = [];
  const opened: string[] = [];
  const listeners = new Map<string, (e: never) => void>();
  const scope: WorkerScopeLike = {
    registration: { showNotification: async (title, options) => void shown.push([title, options]) },
    clients: { matchAll: async () => windows, openWindow: async (url) => void opened.push(url) },
    addEventListener: (type, l) => void listeners.set(type, l),
  };
  return { scope, shown, opened, listeners };
}
function fakeFetch(answers: Array<number | Error>) {
  const calls: Array<{ url: string; init: Parameters<FetchLike>[1] }> = [];
  const fn: FetchLike = async (url, init) => {
    calls.push({ url, init });
    const a = answers.shift() ?? 200;
    if (a instanceof Error) throw a;
    return { ok: a >= 200 && a < 300, status: a };
  };
  return { fn, calls };
}
const event = () => {
  const waits: Promise<unknown>[] = [];
  return { waits, waitUntil: (p: Promise<unknown>) => void waits.push(p) };
};

describe('the SDK service worker', () => {
  it('shows the notification a payload asks for, keeping what the click needs', async () => {
    const { scope, shown } = fakeScope();
    const e = { ...event(), data: data(payload) };
    expect(handlePush(e, scope)).toBe(true);
    await Promise.all(e.waits);
    expect(shown).toEqual([['Hi Ada', { body: 'Sale today', icon: payload.icon, data: { url: payload.url, open_url: payload.rivulet.open_url, token: 'tok.en' } }]]);
  });

  it('ignores payloads that are not its own, and drops URLs that are not http(s)', () => {
    expect(notificationOf(null)).toBeUndefined();
    expect(notificationOf({ json: () => { throw new SyntaxError('x'); }, text: () => 'x' })).toBeUndefined();
    expect(notificationOf(data([1, 2]))).toBeUndefined();
    expect(notificationOf(data({ body: 'no title' }))).toBeUndefined();
    expect(notificationOf(data({ title: '', body: '' }))).toBeUndefined();
    const shown = notificationOf(data({ ...payload, url: 'javascript:alert(1)', icon: 'data:image/png;base64,xx', rivulet: { open_url: 'ftp://x', token: 't' } }))!;
    expect(shown.options).toEqual({ body: 'Sale today', data: {} });
    const { scope } = fakeScope();
    const e = { ...event(), data: data({ something: 'else' }) };
    expect(handlePush(e, scope)).toBe(false);
    expect(e.waits).toHaveLength(0);
  });

  it('on a click: closes the notification, posts the Open with the token and the action, opens the URL', async () => {
    const { scope, opened } = fakeScope();
    const f = fakeFetch([200]);
    let closed = false;
    const e = { ...event(), action: 'buy', notification: { data: notificationOf(data(payload))!.options.data, close: () => void (closed = true) } };
    expect(handleNotificationClick(e, scope, f.fn)).toBe(true);
    await Promise.all(e.waits);
    expect(closed).toBe(true);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.url).toBe(payload.rivulet.open_url);
    expect(f.calls[0]!.init).toMatchObject({ method: 'POST', headers: { 'content-type': 'application/json' }, keepalive: true });
    expect(JSON.parse(f.calls[0]!.init.body)).toEqual({ token: 'tok.en', action: 'buy' });
    expect(opened).toEqual([payload.url]);
  });

  it('focuses a window already showing the URL instead of opening another', async () => {
    let focused = 0;
    const { scope, opened } = fakeScope([{ url: 'https://shop.example.com/other', focus: async () => undefined }, { url: payload.url, focus: async () => void focused++ }]);
    const e = { ...event(), notification: { data: { url: payload.url }, close: () => undefined } };
    handleNotificationClick(e, scope, fakeFetch([]).fn);
    await Promise.all(e.waits);
    expect(focused).toBe(1);
    expect(opened).toEqual([]);
  });

  it('retries the Open report after a 5xx or a network error, never after a 4xx', async () => {
    const d = { open_url: payload.rivulet.open_url, token: 't' };
    const flaky = fakeFetch([503, new TypeError('offline'), 200]);
    expect(await reportOpen(flaky.fn, d, undefined, 3, 1)).toBe(true);
    expect(flaky.calls).toHaveLength(3);
    const refused = fakeFetch([400, 200]);
    expect(await reportOpen(refused.fn, d, undefined, 3, 1)).toBe(false);
    expect(refused.calls).toHaveLength(1);
    const down = fakeFetch([500, 500, 500, 200]);
    expect(await reportOpen(down.fn, d, undefined, 3, 1)).toBe(false);
    expect(down.calls).toHaveLength(3);
    expect(await reportOpen(fakeFetch([]).fn, { url: 'https://x' }, undefined)).toBe(false);
  });

  it('install wires push and notificationclick into the worker scope', async () => {
    const { scope, shown, listeners } = fakeScope();
    install(scope, fakeFetch([]).fn);
    expect([...listeners.keys()].sort()).toEqual(['notificationclick', 'push']);
    const e = { ...event(), data: data(payload) };
    listeners.get('push')!(e as never);
    await Promise.all(e.waits);
    expect(shown).toHaveLength(1);
  });
});
