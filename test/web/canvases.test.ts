/**
 * The Canvas builder in Debian's Chromium, against real parts (the mail sink over SMTP): build a
 * two-step Canvas on the diagram (an email, then a one-day Delay), see the server's launch check
 * mark the email node that has no content, fix it, launch behind the confirmation, enter users
 * through /canvas/trigger/send and watch the statistics on the nodes move; the users waiting in
 * the Delay are listed beside it, and a user's page shows where the user is. Console stays clean.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../../src/emulator/mail-sink/index.js';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { buildDashboard, launchChromium, openPage, type WatchedPage } from './browser.js';

const USERS = 3;
let server: TestServer;
let sink: RunningMailSink;
let browser: Browser;
let tab: WatchedPage;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  const dashboardDir = await buildDashboard();
  sink = await startMailSink();
  const port = await freePort();
  [server, browser] = await Promise.all([
    startTestServer({ RIVULET_DASHBOARD_DIR: dashboardDir, PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '100' }, { canvases: { timing: { pollMs: 100 } } }),
    launchChromium(),
  ]);
  const attributes = Array.from({ length: USERS }, (_, i) => ({ external_id: `cv${i}`, first_name: `Cv${i}`, email: `cv${i}@example.com` }));
  expect((await server.call('POST', '/users/track', { attributes })).status).toBe(201);
  tab = await openPage(browser, { width: 1400, height: 1000 });
}, 180_000);

afterAll(async () => {
  await tab?.context.close();
  await browser?.close();
  await server?.close();
  await sink?.close();
});

describe('the Canvas builder in Chromium', () => {
  it('build → a bad node is marked → fix → launch → the step statistics move as users enter', async () => {
    const { page } = tab;
    await page.goto(`${server.url}/dashboard/`);
    await page.getByLabel('Admin password').fill(server.rivulet.generatedAdminPassword!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel' }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Canvases', exact: true }).click();
    await page.getByText('No Canvases yet').waitFor();
    await page.getByRole('link', { name: 'New Canvas' }).click();
    await page.getByRole('heading', { level: 1, name: 'New Canvas' }).waitFor();
    await page.getByLabel('Canvas name').fill('Welcome flow');
    await page.getByLabel('From address').fill('hello@rivulet.test');

    // Two steps: an email (subject only: no HTML yet) and a one-day Delay, connected email → delay → End.
    const toolbar = page.getByRole('toolbar', { name: 'Add a step' });
    await toolbar.getByRole('button', { name: '+ Message' }).click();
    await page.getByTestId('node-message_1').waitFor();
    await page.getByLabel('Step name').fill('Welcome email');
    await page.getByLabel('Email subject (Liquid)').fill('Welcome {{${first_name}}}');
    await toolbar.getByRole('button', { name: '+ Delay' }).click();
    await page.getByTestId('node-delay_2').waitFor();
    await page.getByLabel('Step name').fill('One day');
    expect(await page.getByLabel('Delay amount').inputValue()).toBe('1');
    await page.getByLabel('Next step').selectOption({ label: 'End the journey' });
    await page.getByTestId('node-message_1').click();
    await page.getByLabel('Next step').selectOption('delay_2');
    await until('the edge from the email to the delay', async () => (await page.locator('.react-flow__edge').count()) >= 3);

    // The server's launch check marks the email node: its content is missing.
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('problems-message_1').getByText(/missing content/).first().waitFor();
    expect(await page.getByTestId('problems-delay_2').count()).toBe(0);
    await tab.shot('canvases-01-bad-node');

    // Fix it: the HTML body; the live preview renders; the check passes.
    await page.getByTestId('node-message_1').click();
    await page.getByLabel('Email HTML (Liquid)').fill('<p>Hi {{${first_name}}}</p>');
    await page.getByLabel('Preview for user (external id)').fill('cv1');
    await until('the preview for cv1', async () => (await page.getByTestId('step-preview-subject').textContent().catch(() => null)) === 'Welcome Cv1');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByText('Ready to launch: no problems found.').waitFor();
    expect(await page.getByTestId('problems-message_1').count()).toBe(0);

    // Launch: saved first, then the confirmation states who enters.
    await page.getByRole('button', { name: 'Launch…' }).click();
    const confirmation = page.getByTestId('launch-confirmation');
    await confirmation.waitFor();
    expect(await confirmation.textContent()).toContain('Users enter when /canvas/trigger/send names them');
    await tab.shot('canvases-02-launch-confirmation');
    await confirmation.getByRole('button', { name: 'Launch now' }).click();
    await page.getByText('Launched.').waitFor();
    await page.getByTestId('stats-message_1').waitFor();
    const id = /\/canvases\/([0-9a-f-]{36})/.exec(page.url())![1]!;

    // Users enter through the API; the statistics on the nodes move.
    const sent = await server.call('POST', '/canvas/trigger/send', { canvas_id: id, recipients: Array.from({ length: USERS }, (_, i) => ({ external_user_id: `cv${i}` })) });
    expect(sent.status).toBe(201);
    const stat = (step: string, name: string) => page.getByTestId(`stats-${step}`).locator(`[data-stat="${name}"]`).textContent();
    await until('three users through the email and waiting in the delay', async () => (await stat('message_1', 'advanced')) === String(USERS) && (await stat('delay_2', 'in_step')) === String(USERS));
    expect(await stat('message_1', 'entered')).toBe(String(USERS));
    expect(await stat('delay_2', 'entered')).toBe(String(USERS));
    expect(await stat('delay_2', 'advanced')).toBe('0');
    await until('three emails at the sink', async () => ((await (await fetch(`${sink.url}/messages?limit=100`)).json()) as { messages: unknown[] }).messages.length >= USERS);

    // The users waiting in the delay, beside it.
    await page.getByTestId('node-delay_2').click();
    await tab.shot('canvases-03-running');
    const waiting = page.getByTestId('step-users');
    await until('the users in the delay', async () => (await waiting.locator('li').count()) === USERS);
    expect(await waiting.textContent()).toContain('cv0');
    await tab.shot('canvases-04-step-users');

    // A user's page shows the Canvas and where the user is.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('textbox').first().fill('cv2');
    await page.getByRole('button', { name: /Find|Look up|Search/ }).click();
    const row = page.getByTestId('user-canvases').locator('tr', { hasText: 'Welcome flow' });
    await row.waitFor();
    expect(await row.textContent()).toContain('One day, waiting until');
    await tab.shot('canvases-05-user');
    expect(tab.errors).toEqual([]);
  }, 240_000);
});
