/**
 * The campaign pages in Debian's Chromium, against real parts: users and a segment made over the
 * REST API, the mail sink receiving over SMTP. Compose an email campaign → its live preview renders
 * for a chosen user → a test send arrives at the sink → launch behind the confirmation that states
 * the audience size → every reachable user's email arrives → an open fetched over HTTP → the list's
 * statistics and the progress table update; the user's page shows the message. Console stays clean.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../../src/emulator/mail-sink/index.js';
import { freePort } from '../../src/test-support/net.js';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { buildDashboard, launchChromium, openPage, type WatchedPage } from './browser.js';

const USERS = 8;
let server: TestServer;
let sink: RunningMailSink;
let browser: Browser;
let tab: WatchedPage;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const sinkGet = async (path: string): Promise<any> => (await fetch(sink.url + path)).json();
const sinkPost = async (path: string, body?: unknown): Promise<any> =>
  (await fetch(sink.url + path, { method: 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined })).json();

beforeAll(async () => {
  const dashboardDir = await buildDashboard();
  sink = await startMailSink();
  const port = await freePort();
  [server, browser] = await Promise.all([
    startTestServer({ RIVULET_DASHBOARD_DIR: dashboardDir, PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '100' }),
    launchChromium(),
  ]);
  // 8 subscribed users with an address in the "VIP" segment, 1 unsubscribed, 1 outside the segment.
  const attributes = [
    ...Array.from({ length: USERS }, (_, i) => ({ external_id: `vip${i}`, first_name: `Vip${i}`, email: `vip${i}@example.com`, tier: 'vip' })),
    { external_id: 'vip-out', first_name: 'Out', email: 'out@example.com', tier: 'vip', email_subscribe: 'unsubscribed' },
    { external_id: 'plain', first_name: 'Plain', email: 'plain@example.com', tier: 'basic' },
  ];
  expect((await server.call('POST', '/users/track', { attributes })).status).toBe(201);
  expect((await server.call('POST', '/admin/segments', { name: 'VIP', filter: { filter: 'custom_attribute', attribute: 'tier', op: 'equals', value: 'vip' } })).status).toBe(201);
  tab = await openPage(browser, { width: 1280, height: 900 });
}, 180_000);

afterAll(async () => {
  await tab?.context.close();
  await browser?.close();
  await server?.close();
  await sink?.close();
});

describe('campaign pages in Chromium', () => {
  it('compose → preview → test send → launch → the statistics update', async () => {
    const { page } = tab;
    await page.goto(`${server.url}/dashboard/`);
    await page.getByLabel('Admin password').fill(server.rivulet.generatedAdminPassword!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel' }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Campaigns', exact: true }).click();
    await page.getByText('No campaigns yet').waitFor();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();

    // Compose: name, the VIP segment (its count shown), a sender, a personalized subject.
    await page.getByLabel('Name', { exact: true }).fill('Spring launch');
    await until('the audience count', async () => (await page.getByTestId('audience-count').textContent())?.includes(`${USERS + 1} users`));
    await page.getByLabel('From address').fill('news@rivulet.test');
    await page.getByLabel('Subject (Liquid)').fill('Spring for {{${first_name}}}');
    await page.getByLabel('HTML body (Liquid)').fill('<p>Hi {{${first_name}}}</p><p><a href="https://shop.example/spring">Shop</a></p>');

    // A template error is named with its line and column by the preview.
    await page.getByLabel('Subject (Liquid)').fill('Spring for {% if x %}');
    await page.getByTestId('preview').getByRole('alert').getByText(/variant\.email\.subject.*line 1, column/).waitFor();
    tab.errors.length = 0; // the refused preview is the one expected 400
    await page.getByLabel('Subject (Liquid)').fill('Spring for {{${first_name}}}');

    // Live preview for a chosen user.
    await page.getByLabel('Render for user (external id)').fill('vip3');
    await until('the preview for vip3', async () => (await page.getByTestId('preview-subject').textContent().catch(() => null)) === 'Spring for Vip3');
    expect(await page.frameLocator('iframe[title="Email preview"]').locator('p').first().textContent()).toBe('Hi Vip3');
    await tab.shot('campaigns-01-composer-preview');

    // Test send: arrives at the sink, rendered for the chosen user.
    await page.getByLabel('Send a test to').fill('tester@example.com');
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.getByText('Test message sent to tester@example.com').waitFor();
    const test = await until('the test message at the sink', async () => (await sinkGet('/messages?to=tester@example.com')).messages?.[0]);
    expect(test.subject).toBe('[Test] Spring for Vip3');

    // Save, then launch: the confirmation states the audience size.
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'Spring launch' }).waitFor();
    await page.getByRole('button', { name: 'Launch…' }).click();
    expect(await page.getByTestId('launch-confirmation').textContent()).toContain(`to the ${USERS + 1} users of its segment`);
    await tab.shot('campaigns-02-launch-confirmation');
    await page.getByRole('button', { name: `Send to ${USERS + 1} users` }).click();
    await page.getByText(`Launched to ${USERS + 1} users.`).waitFor();

    // Every reachable user gets one email; the progress table shows them sent.
    const delivered = await until('one email per subscribed VIP', async () => {
      const list = (await sinkGet('/messages?limit=100')).messages as Array<{ id: string; to: string[] | string; subject: string }>;
      const campaign = list.filter((m) => m.subject.startsWith('Spring for Vip'));
      return campaign.length >= USERS ? campaign : undefined;
    });
    expect(delivered.map((m) => m.subject).sort()).toEqual(Array.from({ length: USERS }, (_, i) => `Spring for Vip${i}`).sort());
    await until('the progress table to show every send', async () => (await page.getByTestId('progress-sent').first().textContent()) === String(USERS), 30_000);
    await tab.shot('campaigns-03-progress');

    // Two recipients open their message (the sink fetches the tracking pixel over HTTP).
    await sinkPost(`/messages/${delivered[0]!.id}/open`);
    await sinkPost(`/messages/${delivered[1]!.id}/open`);
    await page.getByRole('link', { name: 'Campaigns', exact: true }).first().click();
    const row = page.locator('tr[data-campaign="Spring launch"]');
    await row.waitFor();
    // Columns: sent, delivered, unique opens, clicks, conversions, unsubscribes, bounces.
    await until('the list to show 8 delivered and 2 unique opens', async () => {
      const cells = await row.locator('td.num').allTextContents();
      return cells[0] === String(USERS) && cells[1] === String(USERS) && cells[2] === '2' ? cells : undefined;
    });
    await tab.shot('campaigns-04-list');

    // The user's page lists the message and the subscription state.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('textbox').first().fill('vip2');
    await page.getByRole('button', { name: /Find|Look up|Search/ }).click();
    await page.getByTestId('user-messages').getByRole('link', { name: 'Spring launch' }).waitFor();
    await tab.shot('campaigns-05-user-messages');
    expect(tab.errors).toEqual([]);
  }, 240_000);

  it('fits a 400 px wide screen without sideways scrolling', async () => {
    const narrow = await openPage(browser, { width: 400, height: 800 });
    await narrow.context.addCookies(await tab.context.cookies());
    const id = (await server.call('GET', '/admin/campaigns')).body.campaigns[0].id as string;
    for (const [path, name, heading] of [
      ['/campaigns', 'campaigns-06-narrow-list', 'Campaigns'],
      ['/campaigns/new', 'campaigns-07-narrow-composer', 'New campaign'],
      [`/campaigns/${id}`, 'campaigns-08-narrow-campaign', 'Spring launch'],
    ] as const) {
      await narrow.page.goto(`${server.url}/dashboard${path}`);
      await narrow.page.getByRole('heading', { level: 1, name: heading }).waitFor();
      const overflow = await narrow.page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
      await narrow.shot(name);
    }
    expect(narrow.errors).toEqual([]);
    await narrow.context.close();
  }, 60_000);
});
