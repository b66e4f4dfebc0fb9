/**
 * A Current's whole life in Chromium (issue: operating the integration day to day): created with a
 * wrong secret, the connection test says why; launched anyway it fails; the server restarts and the
 * Current's history chart (uPlot, from the server-side per-minute history) still shows the outage
 * as failed requests; the credentials are fixed in place, delivery resumes and the waiting event
 * reaches the Mixpanel emulator; the list shows delivered (24 h), lag and the last error; delete
 * works. The console stays free of errors other than the expected 401s.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_HISTORY_FLUSH_MS = '200';

import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { RunningMixpanelEmulator } from '../../src/emulator/mixpanel/index.js';
import { createRivulet, type Rivulet } from '../../src/server.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../../src/test-support/server.js';
import { projectCreds, startEmulator } from '../currents-support.js';
import { buildDashboard, launchChromium, openPage, type WatchedPage } from './browser.js';

const P = projectCreds('5151');
let server: TestServer;
let dashboardDir: string;
let restarted: Rivulet | null = null;
let mp: RunningMixpanelEmulator;
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

const go = (page: Page, path: string) => page.goto(`${server.url}/dashboard${path}`);

beforeAll(async () => {
  dashboardDir = await buildDashboard();
  [server, browser, mp] = await Promise.all([startTestServer({ RIVULET_DASHBOARD_DIR: dashboardDir }), launchChromium(), startEmulator([P])]);
  tab = await openPage(browser, { width: 1280, height: 900 });
}, 120_000);

afterAll(async () => {
  await tab?.context.close();
  await browser?.close();
  await mp?.close();
  if (restarted) {
    // The first instance is closed already: drop its database and data dir here.
    await restarted.close();
    await server.testDb.drop();
    await rm(server.dataDir, { recursive: true, force: true });
  } else await server?.close();
});

/** Stops the server and starts it again on the same database, data dir and port (a restart). */
async function restart(): Promise<void> {
  const port = Number(new URL(server.url).port);
  await server.rivulet.close();
  const config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: server.dataDir, RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY, RIVULET_DASHBOARD_DIR: dashboardDir });
  restarted = await createRivulet(config, { db: server.testDb.db, logger: false });
  await restarted.app.listen({ port, host: '127.0.0.1' });
}

describe('a Current fixed in place, in Chromium', () => {
  it('wrong credentials → test says why → fails → restart → history shows the outage → fix → events arrive → delete', async () => {
    const { page } = tab;
    await go(page, '/');
    await page.getByLabel('Admin password').fill(server.rivulet.generatedAdminPassword!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel' }).waitFor();

    await go(page, '/currents/new');
    await page.getByLabel('Integration name').fill('Outage export');
    await page.getByLabel('Contact email').fill('ops@example.com');
    await page.getByLabel('Service account username').fill(P.username);
    await page.getByLabel('Service account secret').fill('a-wrong-secret');
    await page.getByLabel('Project id').fill(P.projectId);
    await page.getByLabel('Project token').fill(P.token);
    await page.getByLabel('Ingestion base URL (optional)').fill(mp.url);
    await page.getByLabel(/^Behaviors \(/).check();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('connection-test').textContent()).resolves.toMatch(/rejected the credentials/);
    await page.getByRole('button', { name: 'Launch Current' }).click();
    await page.getByRole('heading', { level: 1, name: 'Outage export' }).waitFor();
    const id = new URL(page.url()).pathname.split('/').pop()!;
    expect((await server.call('POST', '/users/track', { events: [{ external_id: 'u1', name: 'waited_out_the_outage', time: new Date().toISOString() }] })).status).toBe(201);
    await page.getByRole('button', { name: 'Fix the settings' }).waitFor({ timeout: 60_000 });
    // The failed requests are in the server's history (written once a flush has run).
    await until('failed requests in the history', async () => {
      const h = (await server.call('GET', `/admin/currents/${id}/history`)).body;
      return h.points?.some((p: { failed: number }) => p.failed > 0);
    });

    await restart();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Outage export' }).waitFor();
    const summary = page.getByTestId('history-summary');
    await summary.waitFor();
    await expect(summary.textContent()).resolves.toMatch(/0 sent, [1-9]\d* failed requests/);
    await page.locator('.history-chart canvas').first().waitFor();
    await expect(page.locator('.history-chart .u-legend').first().textContent()).resolves.toContain('failed requests');
    // Hovering a chart fills its legend with the values under the cursor (the tooltip).
    const over = page.locator('.history-chart .u-over').first();
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
    await tab.shot('current-history-outage');

    // Fix the secret in place: delivery resumes from the cursor and the waiting event arrives.
    await page.getByRole('button', { name: 'Fix the settings' }).click();
    await page.getByLabel('New service account').check();
    await page.getByLabel('Service account username').fill(P.username);
    await page.getByLabel('Service account secret').fill(P.secret);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(/Saved \(credentials\)/).waitFor();
    await until('the waiting event at the emulator', async () => mp.emulator.events(P.projectId).some((e) => e.event === '[Braze Custom Event] waited_out_the_outage'));

    // The list: state, delivered in 24 h, lag, last error and when.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Currents', exact: true }).click();
    const row = page.getByRole('row', { name: /Outage export/ });
    await row.waitFor();
    await until('the list to count the delivered event', async () => {
      await page.reload();
      await row.waitFor();
      return (await row.getByTestId('delivered-24h').textContent()) !== '0' && /active/i.test((await row.textContent()) ?? '');
    });
    await expect(row.textContent()).resolves.toMatch(/401/);
    await tab.shot('currents-list-columns');

    // Delete.
    await row.getByRole('link', { name: 'Outage export' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: /Delete this Current/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Currents' }).waitFor();
    await expect(page.getByRole('row', { name: /Outage export/ }).count()).resolves.toBe(0);
    expect((await server.call('GET', `/admin/currents/${id}`)).status).toBe(404);
    expect(tab.errors.filter((e) => !/40[01]/.test(e))).toEqual([]);
  }, 180_000);

  it("a webhook key rotated while the emulator's sender pushes every 2 s: the Mixpanel page lists the rejected pushes within a minute", async () => {
    const { page } = tab;
    const key = (await server.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key as string;
    const prefix = /^([a-z]{2,8}_[0-9a-f]{10})_/.exec(key)![1]!;
    const emu = async (method: string, path: string, body?: unknown) =>
      (await fetch(mp.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;
    await emu('POST', '/_emulator/cohorts', { project_id: P.projectId, id: 31, name: 'Rotating', members: ['u1'] });
    const sync = await emu('POST', '/_emulator/webhook-syncs', {
      project_id: P.projectId,
      url: `${server.url}/partners/mixpanel/webhook`,
      username: 'mixpanel',
      password: key,
      cohort_ids: [31],
      schedule: { every_seconds: 2 },
      retry_delays_ms: [10],
    });
    try {
      await until('a good push', async () => (await server.call('GET', '/admin/cohorts')).body.cohorts?.some((c: { cohort_id: string }) => c.cohort_id.endsWith(':31')));
      expect((await server.call('POST', `/admin/import-keys/${prefix}/rotate`)).status).toBe(201);
      const rotatedAt = Date.now();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mixpanel', exact: true }).click();
      const rejections = page.getByTestId('sync-rejections');
      await rejections.getByText('key_rotated').first().waitFor({ timeout: 60_000 });
      expect(Date.now() - rotatedAt).toBeLessThan(60_000);
      await expect(rejections.textContent()).resolves.toContain(prefix);
      await tab.shot('mixpanel-rotated-key-rejections');
    } finally {
      await emu('DELETE', `/_emulator/webhook-syncs/${sync.id}`).catch(() => undefined);
    }
  }, 120_000);
});
