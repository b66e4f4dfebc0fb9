/**
 * The browser SDK in Debian's Chromium: a page on its own loopback origin loads the SDK from
 * Rivulet (`/sdk/v1/rivulet.js`), a session starts, a custom event is tracked and both land on the
 * event log; then, with uploads failing, an event survives a reload in the localStorage queue and
 * lands exactly once when uploads work again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { launchChromium, openPage, type WatchedPage } from './browser.js';

const SDK_VITE_CONFIG = fileURLToPath(new URL('../../packages/web-sdk/vite.config.ts', import.meta.url));

let server: TestServer;
let site: Server;
let siteUrl: string;
let sdkKey: string;
let browser: Browser;
let tab: WatchedPage;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const eventsOfDevice = async (deviceId: string) =>
  (
    await server.testDb.db.query<{ body: any }>(
      'SELECT l.body FROM event_log l JOIN user_devices d ON d.user_id = l.user_id WHERE d.device_id = $1 ORDER BY l.seq',
      [deviceId],
    )
  ).rows.map((r) => r.body);

beforeAll(async () => {
  const { build } = await import('vite');
  await build({ configFile: SDK_VITE_CONFIG, logLevel: 'warn', mode: 'production' });
  server = await startTestServer();
  site = createServer((req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><title>shop</title>
<script src="${server.url}/sdk/v1/rivulet.js"></script>
<script>rivulet.init({ apiKey: ${JSON.stringify(sdkKey)}, baseUrl: ${JSON.stringify(server.url)}, flushIntervalMs: 100 });</script>
</head><body><button id="buy">Buy</button></body></html>`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const created = await server.call('POST', '/sdk/apps', { name: 'test shop', allowed_origins: [siteUrl] });
  expect(created.status).toBe(201);
  sdkKey = created.body.api_key;
  browser = await launchChromium();
  tab = await openPage(browser, { width: 1000, height: 700 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => site?.close(r));
  await server?.close();
});

describe('browser SDK in Chromium', () => {
  it('starts a session and tracks a custom event onto the event log', async () => {
    await tab.page.goto(siteUrl + '/');
    const deviceId = (await tab.page.evaluate('rivulet.getDeviceId()')) as string;
    expect(deviceId).toMatch(/^[0-9a-f-]{36}$/);
    await tab.page.evaluate("rivulet.logCustomEvent('viewed_item', { sku: 'A1' })");
    const log = await until('session and event on the log', async () => {
      const events = await eventsOfDevice(deviceId);
      return events.some((e) => e.event_type === 'users.behaviors.CustomEvent') && events;
    });
    expect(log.map((e) => e.event_type)).toEqual(['users.behaviors.app.FirstSession', 'users.behaviors.app.SessionStart', 'users.behaviors.CustomEvent']);
    expect(log[2].properties).toMatchObject({ name: 'viewed_item' });
    await until('queue drained', async () => (await tab.page.evaluate("localStorage.getItem('rivulet.queue')")) === '[]');
    expect(tab.errors).toEqual([]);
  });

  it('keeps queued events across a reload while uploads fail, then uploads them once', async () => {
    const deviceId = (await tab.page.evaluate('rivulet.getDeviceId()')) as string;
    let refused = 0;
    await tab.page.route('**/sdk/v1/batch', (route) => {
      refused++;
      return route.abort('connectionfailed');
    });
    await tab.page.evaluate("rivulet.logCustomEvent('offline_event')");
    await until('an upload attempt to fail', async () => refused > 0);
    await tab.page.reload();
    const queued = (await tab.page.evaluate("JSON.parse(localStorage.getItem('rivulet.queue') ?? '[]')")) as Array<{ type: string; name?: string }>;
    expect(queued.filter((e) => e.name === 'offline_event')).toHaveLength(1);
    expect(await tab.page.evaluate('rivulet.getDeviceId()')).toBe(deviceId);
    await tab.page.unroute('**/sdk/v1/batch');
    // The SDK retries with backoff (the reload made a fresh page, whose init uploads at once; any
    // activity schedules another attempt).
    await tab.page.click('#buy');
    await tab.page.evaluate("rivulet.logCustomEvent('after_reload')");
    const log = await until('the queued event on the log', async () => {
      const events = await eventsOfDevice(deviceId);
      return events.some((e) => e.properties?.name === 'after_reload') && events;
    }, 90_000);
    const names = log.filter((e) => e.event_type === 'users.behaviors.CustomEvent').map((e) => e.properties.name);
    expect(names).toEqual(['viewed_item', 'offline_event', 'after_reload']);
    expect(log.filter((e) => e.event_type === 'users.behaviors.app.SessionStart')).toHaveLength(1);
  });
});
