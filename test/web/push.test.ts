/**
 * Web push in Debian's Chromium, as far as a test can go without a browser push service: a site's
 * worker imports Rivulet's service worker (`/sdk/v1/rivulet-sw.js`); a push campaign is sent to a
 * subscription the push emulator handed out; the payload the emulator decrypted is delivered to the
 * real worker (DevTools' ServiceWorker.deliverPushMessage, what the browser does on a push), which
 * shows the notification; a click on it (dispatched in the worker) posts the Open from the worker
 * across origins, and the Open lands on the event log once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushEmulator, type RunningPushEmulator } from '../../src/emulator/push/index.js';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { launchChromium, openPage, type WatchedPage } from './browser.js';

const SW_VITE_CONFIG = fileURLToPath(new URL('../../packages/web-sdk/vite.sw.config.ts', import.meta.url));

let server: TestServer;
let emu: RunningPushEmulator;
let site: Server;
let siteUrl: string;
let sdkKey: string;
let browser: Browser;
let tab: WatchedPage;
let subscriptionId: string;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const sdk = (method: string, path: string, body?: unknown) => server.call(method, path, body, { key: null, headers: { 'x-rivulet-sdk-key': sdkKey, origin: siteUrl } });
const pushEvents = async () =>
  (await server.testDb.db.query<{ body: any }>("SELECT body FROM event_log WHERE body->>'event_type' LIKE 'users.messages.pushnotification.%' ORDER BY seq")).rows.map((r) => r.body);

beforeAll(async () => {
  const { build } = await import('vite');
  await build({ configFile: SW_VITE_CONFIG, logLevel: 'warn', mode: 'production' });
  emu = await startPushEmulator();
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  server = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, RIVULET_SEND_POLL_MS: '50', RIVULET_WEBHOOK_ALLOW: '127.0.0.1' });
  site = createServer((req, res) => {
    if (req.url === '/service-worker.js') {
      res.setHeader('content-type', 'text/javascript; charset=utf-8');
      res.end(`importScripts(${JSON.stringify(`${server.url}/sdk/v1/rivulet-sw.js`)});`);
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><html><head><title>shop</title></head><body>shop</body></html>');
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const created = await server.call('POST', '/sdk/apps', { name: 'push shop', allowed_origins: [siteUrl] });
  sdkKey = created.body.api_key;
  const t = new Date(Date.now() - 60_000).toISOString();
  const up = await sdk('POST', '/sdk/v1/batch', {
    device_id: 'browser-device',
    events: [
      { id: 'push-web-start', type: 'session_start', session_id: 'sess-web', time: t },
      { id: 'push-web-user', type: 'change_user', external_id: 'browser-user', time: t },
      { id: 'push-web-attr', type: 'attributes', attributes: { first_name: 'Ada', push_browser: 'yes' }, time: t },
    ],
  });
  expect(up.body).toMatchObject({ accepted: 3 });
  const vapidKey = (await sdk('GET', '/sdk/v1/push/vapid-key')).body.public_key;
  const made = (await (await request(`${emu.url}/emulator/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ application_server_key: vapidKey }) })).body.json()) as any;
  subscriptionId = made.id;
  expect((await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'browser-device', subscription: made.subscription })).status).toBe(201);
  browser = await launchChromium();
  tab = await openPage(browser, { width: 800, height: 600 });
  await tab.context.grantPermissions(['notifications'], { origin: siteUrl });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => site?.close(r));
  await server?.close();
  await emu?.close();
});

describe('web push in Chromium', () => {
  it("shows the decrypted payload as a notification in the site's worker and reports its click as one Open", async () => {
    await tab.page.goto(siteUrl + '/');
    const scope = await tab.page.evaluate("navigator.serviceWorker.register('/service-worker.js').then(() => navigator.serviceWorker.ready).then((r) => r.scope)");
    expect(scope).toBe(siteUrl + '/');

    const segmentId = (await server.call('POST', '/admin/segments', { name: 'Browser push', filter: { filter: 'custom_attribute', attribute: 'push_browser', op: 'equals', value: 'yes' } })).body.id;
    const campaign = await server.call('POST', '/admin/campaigns', {
      name: 'Browser push',
      channel: 'pushnotification',
      audience: { segment_id: segmentId },
      variants: [{ id: 'a', name: 'A', percent: 100, pushnotification: { title: 'Hi {{${first_name}}}', body: 'Your cart misses you', url: `${siteUrl}/cart` } }],
    });
    expect(campaign.status).toBe(201);
    expect((await server.call('POST', `/admin/campaigns/${campaign.body.id}/launch`)).status).toBe(201);
    const message = await until('the push at the emulator', async () => {
      const r = (await (await request(`${emu.url}/emulator/messages?subscription=${subscriptionId}`)).body.json()) as any;
      return r.messages[0];
    });

    // What the browser does with a push: hand the decrypted data to the registration's worker.
    const cdp = await tab.context.newCDPSession(tab.page);
    const registrations: Array<{ registrationId: string; scopeURL: string }> = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: Array<{ registrationId: string; scopeURL: string }> }) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    const registration = await until('the worker registration', async () => registrations.find((r) => r.scopeURL === siteUrl + '/'));
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: siteUrl, registrationId: registration.registrationId, data: message.payload });
    const shown = await until('the notification', async () => {
      const list = (await tab.page.evaluate('navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({ title: n.title, body: n.body, data: n.data })))')) as unknown[];
      return list.length ? list : undefined;
    });
    const payload = JSON.parse(message.payload);
    expect(shown).toEqual([{ title: 'Hi Ada', body: 'Your cart misses you', data: { url: `${siteUrl}/cart`, open_url: `${server.url}/sdk/v1/push/open`, token: payload.rivulet.token } }]);

    // A click: the worker posts the Open (cross-origin, CORS preflight) with the message's token.
    const worker = await until('the service worker', async () => tab.context.serviceWorkers().find((w) => w.url().startsWith(siteUrl)));
    for (let i = 0; i < 2; i++) {
      // waitUntil refuses an event a script dispatched (it throws); the report is already under way by then.
      await worker.evaluate(`self.registration.getNotifications().then(([n]) => { try { self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n })); } catch (e) {} })`);
    }
    const opens = await until('the Open on the log', async () => {
      const events = (await pushEvents()).filter((e) => e.event_type === 'users.messages.pushnotification.Open');
      return events.length ? events : undefined;
    });
    expect(opens).toHaveLength(1);
    expect(opens[0].user.device_id).toBe('browser-device');
    expect(opens[0].properties).toMatchObject({ campaign_id: campaign.body.id, platform: 'web' });
    // The second click was reported too, and logged nothing more.
    await until('both reports answered', async () => {
      const { rows } = await server.testDb.db.query<{ opened_at: Date | null }>('SELECT opened_at FROM push_messages');
      return rows[0]?.opened_at ? true : undefined;
    });
    expect((await pushEvents()).map((e) => e.event_type).sort()).toEqual(['users.messages.pushnotification.Open', 'users.messages.pushnotification.Send']);
  }, 240_000);
});
