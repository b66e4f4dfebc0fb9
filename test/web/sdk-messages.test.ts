/**
 * Acceptance of content cards and in-app messages in Debian's Chromium. A shop page on its own
 * loopback origin loads the SDK from Rivulet; a session starts and the shopper is identified; a
 * content card campaign and an in-app message campaign are sent to them. Logging the custom event
 * `opened_cart` shows the in-app message (a modal in a shadow root), whose button is clicked and
 * leads to the cart page; there the page shows the content cards feed (impression), the card is
 * clicked and dismissed, and the feed is empty afterwards. A Current exporting every selected type
 * to the Mixpanel emulator then holds exactly the expected events (the identified shopper's second
 * session, not the anonymous first one: Mixpanel events need an external id). A page on an origin the SDK key
 * does not allow is refused with 403 and a clear body, and nothing is stored for its device.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../../src/emulator/mixpanel/index.js';
import { SDK_BUNDLE } from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, startEmulator, waitFor } from '../currents-support.js';
import { launchChromium, openPage, type WatchedPage } from './browser.js';

const SDK_VITE_CONFIG = fileURLToPath(new URL('../../packages/web-sdk/vite.config.ts', import.meta.url));
const OWN_BUILD = fileURLToPath(new URL(`../../test-results/sdk-messages-${process.pid}/`, import.meta.url));
const P = projectCreds('7301');
const TYPES = [
  'users.behaviors.app.FirstSession',
  'users.behaviors.app.SessionStart',
  'users.behaviors.app.SessionEnd',
  'users.behaviors.CustomEvent',
  'users.messages.inappmessage.Impression',
  'users.messages.inappmessage.Click',
  'users.messages.inappmessage.Abort',
  'users.messages.contentcard.Send',
  'users.messages.contentcard.Impression',
  'users.messages.contentcard.Click',
  'users.messages.contentcard.Dismiss',
  'users.messages.contentcard.Abort',
];

let server: TestServer;
let mp: RunningMixpanelEmulator;
let shop: Server;
let shopUrl: string;
let stranger: Server;
let strangerUrl: string;
let sdkKey: string;
let browser: Browser;
let tab: WatchedPage;

/** The shop: loads the SDK; `showCards()` renders the feed with a link and a dismiss button per card. */
const page = (origin: () => string) => `<!doctype html><html><head><title>shop</title>
<script src="${server.url}/sdk/v1/rivulet.js"></script>
<script>
rivulet.init({ apiKey: ${JSON.stringify(sdkKey)}, baseUrl: ${JSON.stringify(server.url)}, flushIntervalMs: 100 });
async function showCards() {
  const list = document.getElementById('cards');
  list.textContent = '';
  for (const card of await rivulet.getContentCards()) {
    const li = document.createElement('li');
    li.dataset.cardId = card.id;
    const a = document.createElement('a');
    a.className = 'card-link';
    a.href = card.url || '#';
    a.textContent = card.title + ': ' + card.description;
    a.addEventListener('click', (e) => { e.preventDefault(); rivulet.logCardClick(card); });
    const x = document.createElement('button');
    x.className = 'card-dismiss';
    x.textContent = 'Dismiss';
    x.addEventListener('click', () => { rivulet.dismissCard(card); li.remove(); });
    li.append(a, x);
    list.append(li);
    rivulet.logCardImpression(card);
  }
  return list.children.length;
}
</script>
</head><body data-origin="${origin()}"><h1>Shop</h1><ul id="cards"></ul></body></html>`;

async function serve(origin: () => string): Promise<{ srv: Server; url: string }> {
  const srv = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(page(origin));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { srv, url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  // Built into a directory of this process, then moved into place: a build never empties the
  // directory another test's server is serving from.
  const { build } = await import('vite');
  await build({ configFile: SDK_VITE_CONFIG, logLevel: 'warn', mode: 'production', build: { outDir: OWN_BUILD, emptyOutDir: true } });
  await mkdir(dirname(SDK_BUNDLE), { recursive: true });
  await rename(`${OWN_BUILD}/rivulet.js`, SDK_BUNDLE);
  await rm(OWN_BUILD, { recursive: true, force: true });

  mp = await startEmulator([P]);
  server = await startTestServer({ RIVULET_SEND_POLL_MS: '50', RIVULET_CURRENTS_IDLE_POLL_MS: '50' });
  ({ srv: shop, url: shopUrl } = await serve(() => shopUrl));
  ({ srv: stranger, url: strangerUrl } = await serve(() => strangerUrl));
  const created = await server.call('POST', '/sdk/apps', { name: 'shop', allowed_origins: [shopUrl] });
  expect(created.status).toBe(201);
  sdkKey = created.body.api_key;
  const connector = await server.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'SDK messages', event_types: TYPES }));
  expect(connector.status).toBe(201);
  browser = await launchChromium();
  tab = await openPage(browser, { width: 1000, height: 700 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => shop?.close(r));
  await new Promise((r) => stranger?.close(r));
  await server?.close();
  await mp?.close();
});

async function launch(body: Record<string, unknown>): Promise<string> {
  const created = await server.call('POST', '/admin/campaigns', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect((await server.call('POST', `/admin/campaigns/${created.body.id}/launch`)).status).toBe(201);
  await waitFor(async () => {
    const { rows } = await server.testDb.db.query<{ state: string }>('SELECT state FROM campaign_sends WHERE campaign_id = $1', [created.body.id]);
    return rows.length === 1 && rows.every((r) => r.state !== 'queued');
  }, 'the send', 120_000);
  return created.body.id;
}

describe('content cards and in-app messages in Chromium', () => {
  it('shows and clicks a triggered in-app message, shows, clicks and dismisses a content card; Mixpanel holds exactly those events', { timeout: 300_000 }, async () => {
    await tab.page.goto(shopUrl + '/');
    const deviceId = (await tab.page.evaluate('rivulet.getDeviceId()')) as string;
    await tab.page.evaluate("rivulet.changeUser('shopper-1'); rivulet.getUser().setFirstName('Ada'); rivulet.getUser().setCustomUserAttribute('plan', 'vip')");
    await waitFor(async () => {
      const { rows } = await server.testDb.db.query(
        `SELECT 1 FROM users u JOIN user_devices d ON d.user_id = u.id WHERE d.device_id = $1 AND u.external_id = 'shopper-1' AND u.custom_attributes->>'plan' = 'vip' AND u.first_name = 'Ada'`,
        [deviceId],
      );
      return rows.length === 1;
    }, 'the shopper on the server', 90_000);
    // The first session was anonymous (Mixpanel gets nothing of it: no external id). The shopper
    // comes back later: a new session, now of an identified user.
    await tab.page.evaluate("localStorage.removeItem('rivulet.session')");
    await tab.page.reload();
    await waitFor(async () => {
      const log = await allLogEvents(server.testDb.db, server.workspaceId);
      return log.some((e) => e.event_type === 'users.behaviors.app.SessionStart' && e.user.external_user_id === 'shopper-1');
    }, 'the second session on the log', 90_000);

    const segment = await server.call('POST', '/admin/segments', { name: 'VIP', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'vip' } });
    expect(segment.status).toBe(201);
    const cardCampaign = await launch({
      name: 'Spring card',
      channel: 'content_card',
      audience: { segment_id: segment.body.id },
      variants: [{ id: 'card', name: 'Card', percent: 100, content_card: { title: 'Hi {{${first_name}}}', description: '20% off this week', url: `${shopUrl}/spring`, pinned: true } }],
    });
    const iamCampaign = await launch({
      name: 'Cart nudge',
      channel: 'in_app_message',
      audience: { segment_id: segment.body.id },
      variants: [{ id: 'modal', name: 'Modal', percent: 100, in_app_message: { layout: 'modal', header: 'Hello {{${first_name}}}', body: 'Free shipping on your cart today', trigger_events: ['opened_cart'], buttons: [{ id: 'later', text: 'Later' }, { id: 'checkout', text: 'Check out', url: `${shopUrl}/cart` }] } }],
    });

    // The in-app message waits on the device for its trigger event.
    const waiting = (await tab.page.evaluate('rivulet.refreshInAppMessages()')) as Array<{ id: string; trigger_events: string[] }>;
    expect(waiting.map((m) => m.trigger_events)).toEqual([['opened_cart']]);
    await tab.page.evaluate("rivulet.logCustomEvent('viewed_item')");
    expect(await tab.page.locator('[data-rivulet-in-app]').count()).toBe(0);
    await tab.page.evaluate("rivulet.logCustomEvent('opened_cart')");
    const modal = tab.page.locator(`[data-rivulet-in-app="${waiting[0]!.id}"]`);
    await modal.locator('h2').waitFor();
    expect(await modal.locator('h2').textContent()).toBe('Hello Ada');
    await tab.shot('sdk-in-app-modal');
    // Its button logs the click and leads to the cart page.
    await Promise.all([tab.page.waitForURL(`${shopUrl}/cart`), modal.locator('button[data-button-id="checkout"]').click()]);

    // On the cart page: the feed shows the card (impression), which is clicked, then dismissed.
    expect(await tab.page.evaluate('showCards()')).toBe(1);
    expect(await tab.page.locator('.card-link').textContent()).toBe('Hi Ada: 20% off this week');
    await tab.shot('sdk-content-card');
    await tab.page.click('.card-link');
    await tab.page.click('.card-dismiss');
    expect(await tab.page.evaluate('showCards()')).toBe(0);
    await waitFor(async () => (await tab.page.evaluate("localStorage.getItem('rivulet.queue')")) === '[]', 'the queue to drain', 90_000);
    const { rows: cards } = await server.testDb.db.query<{ dismissed_at: Date | null; clicked_at: Date | null; viewed_at: Date | null }>('SELECT viewed_at, clicked_at, dismissed_at FROM content_cards');
    expect(cards).toHaveLength(1);
    expect(cards[0]!.viewed_at && cards[0]!.clicked_at && cards[0]!.dismissed_at).toBeTruthy();
    // Dismissed on the server too: another device of the user would not see it either.
    const feed = await server.call('GET', `/sdk/v1/content_cards?device_id=${deviceId}`, undefined, { key: null, headers: { 'x-rivulet-sdk-key': sdkKey, origin: shopUrl } });
    expect(feed.body.cards).toEqual([]);

    // Exactly the expected events on the log…
    const expectedLog = [
      'users.behaviors.app.FirstSession anonymous',
      'users.behaviors.app.SessionStart anonymous',
      'users.behaviors.app.SessionStart shopper-1',
      'users.behaviors.CustomEvent viewed_item',
      'users.behaviors.CustomEvent opened_cart',
      'users.messages.contentcard.Send',
      'users.messages.contentcard.Impression',
      'users.messages.contentcard.Click',
      'users.messages.contentcard.Dismiss',
      'users.messages.inappmessage.Impression',
      'users.messages.inappmessage.Click',
    ].sort();
    const log = await waitFor(async () => {
      const all = (await allLogEvents(server.testDb.db, server.workspaceId)).filter((e) => TYPES.includes(e.event_type));
      return all.length >= expectedLog.length ? all : undefined;
    }, 'the events on the log', 90_000);
    const label = (e: (typeof log)[number]) =>
      e.event_type === 'users.behaviors.CustomEvent' ? `${e.event_type} ${e.properties.name}` : e.event_type.startsWith('users.behaviors.app.') ? `${e.event_type} ${e.user.external_user_id ?? 'anonymous'}` : e.event_type;
    expect(log.map(label).sort()).toEqual(expectedLog);
    for (const e of log.filter((x) => x.event_type.startsWith('users.messages.'))) {
      expect(e.user.external_user_id).toBe('shopper-1');
      expect(e.properties.campaign_id).toBe(e.event_type.includes('contentcard') ? cardCampaign : iamCampaign);
    }
    expect(log.find((e) => e.event_type === 'users.messages.inappmessage.Click')!.properties).toMatchObject({ button_id: 'checkout', card_id: waiting[0]!.id, platform: 'web' });

    // …and exactly their mapping in the Mixpanel emulator.
    const mapping = expectedFor(log, TYPES, P.token);
    expect(mapping.skipped).toEqual({ no_external_user_id: 2 });
    const expected = mapping.events.sort(byInsertId);
    expect(expected).toHaveLength(expectedLog.length - 2);
    const exported = await waitFor(async () => {
      const got = mp.emulator.events(P.projectId);
      return got.length >= expected.length ? got.sort(byInsertId) : undefined;
    }, 'the Current to export', 120_000);
    expect(exported).toEqual(expected);
    expect(exported.map((e) => e.event).sort()).toEqual(
      ['Session Start', '[Braze Custom Event] viewed_item', '[Braze Custom Event] opened_cart', 'Content Card Send', 'Content Card Impression', 'Content Card Click', 'Content Card Dismiss', 'In-App Message Impression', 'In-App Message Click'].sort(),
    );
    expect(tab.errors).toEqual([]);
  });

  it('refuses the SDK on an origin its key does not allow, with a clear body, and stores nothing', async () => {
    const other = await openPage(browser, { width: 800, height: 600 });
    const refused = other.page.waitForResponse((r) => r.url().endsWith('/sdk/v1/batch') && r.request().method() === 'POST');
    await other.page.goto(strangerUrl + '/');
    const res = await refused;
    expect(res.status()).toBe(403);
    expect(await res.json()).toEqual({ message: `Origin ${strangerUrl} is not allowed for this SDK key`, errors: [{ type: 'origin not allowed', path: 'headers.origin' }] });
    const deviceId = (await other.page.evaluate('rivulet.getDeviceId()')) as string;
    const { rows } = await server.testDb.db.query('SELECT 1 FROM user_devices WHERE device_id = $1', [deviceId]);
    expect(rows).toHaveLength(0);
    // Its feed read is refused the same way.
    const feed = (await other.page.evaluate('rivulet.getContentCards().then(() => "ok", (e) => String(e.status))')) as string;
    expect(feed).toBe('403');
    await other.context.close();
  });
});
