/**
 * The dashboard's whole workflow in Debian's Chromium: sign in → generate a data import key → the
 * Mixpanel emulator's webhook sender pushes a cohort with that key → the cohort appears with the
 * right count → a segment "Mixpanel_Cohorts includes it" shows the right reachable count → a
 * Mixpanel Current pointed at the emulator is created → events sent through the REST API arrive in
 * the emulator and the connector page shows them delivered. Every page is screenshotted (also at
 * 400 px wide) and the console must stay free of errors.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMixpanelEmulator } from '../../src/emulator/mixpanel/index.js';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { buildDashboard, launchChromium, openPage, type WatchedPage } from './browser.js';

const PROJECT = '4242';
const TOKEN = 'emulator-project-token';
const SERVICE_ACCOUNT = { username: 'rivulet-export.sa', secret: 'sa-secret-for-tests', role: 'owner' };
const COHORT = { id: '77', name: 'Power users' };
const MEMBERS = 12;

let server: TestServer;
let emulator: { app: FastifyInstance; url: string };
let browser: Browser;
let tab: WatchedPage;

async function emulatorCall<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(emulator.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`emulator ${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Follows a link of the main navigation. */
async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

async function go(page: Page, path: string): Promise<void> {
  await page.goto(`${server.url}/dashboard${path}`);
}

beforeAll(async () => {
  // Build first, into the tests' own folder: the server looks for the bundle when it starts.
  const dashboardDir = await buildDashboard();
  [server, browser] = await Promise.all([startTestServer({ RIVULET_DASHBOARD_DIR: dashboardDir }), launchChromium()]);
  const { app } = buildMixpanelEmulator();
  await app.listen({ port: 0, host: '127.0.0.1' });
  emulator = { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };

  // Rivulet's users: 20 identified (u01–u20), 3 alias-only and 2 anonymous.
  const attributes = Array.from({ length: 20 }, (_, i) => ({ external_id: `u${String(i + 1).padStart(2, '0')}`, plan: i % 2 ? 'pro' : 'free' }));
  const aliasOnly = Array.from({ length: 3 }, (_, i) => ({ user_alias: { alias_name: `mp_${i}`, alias_label: 'mixpanel_id' }, _update_existing_only: false, plan: 'trial' }));
  expect((await server.call('POST', '/users/track', { attributes: [...attributes, ...aliasOnly] })).status).toBe(201);
  for (const device of ['dev-a', 'dev-b']) {
    await server.call('POST', '/sdk/sessions/start', { app_id: 'web', device_id: device, session_id: `s-${device}` });
  }

  // Mixpanel's side: a project with a service account, and a cohort of 12 Rivulet users plus 2 unknown ids.
  await emulatorCall('POST', '/_emulator/projects', { project_id: PROJECT, token: TOKEN, service_accounts: [SERVICE_ACCOUNT] });
  const members = [...attributes.slice(0, MEMBERS).map((a) => a.external_id), 'not-in-rivulet-1', 'not-in-rivulet-2'];
  await emulatorCall('POST', '/_emulator/cohorts', { project_id: PROJECT, id: COHORT.id, name: COHORT.name, members });

  tab = await openPage(browser, { width: 1280, height: 800 });
}, 120_000);

afterAll(async () => {
  await tab?.context.close();
  await browser?.close();
  await emulator?.app.close();
  await server?.close();
});

describe('the dashboard in Chromium', () => {
  it('walks sign-in → import key → webhook cohort → segment → Current → delivered events', async () => {
    const { page } = tab;

    // Sign in: a wrong password is refused, the right one opens the Mixpanel page.
    await go(page, '/');
    await page.getByLabel('Admin password').fill('not-the-password');
    await tab.shot('01-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong password').waitFor();
    tab.errors.length = 0; // the refused sign-in is the one expected 401
    await page.getByLabel('Admin password').fill(server.rivulet.generatedAdminPassword!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel' }).waitFor();

    // Generate a data import key: shown once, with a copy button.
    await page.getByRole('button', { name: 'Generate key' }).click();
    const keyField = page.getByLabel(/New data import key/);
    await keyField.waitFor();
    const importKey = await keyField.inputValue();
    expect(importKey).toMatch(/^dik_/);
    await expect(page.getByRole('button', { name: 'Copy' }).first().isVisible()).resolves.toBe(true);
    await tab.shot('02-mixpanel-key-generated');

    // The emulator's webhook sender pushes the cohort with that key as the Basic-auth password.
    // The page shows the public URL (RIVULET_PUBLIC_URL); the test server listens on a random port.
    const webhookPath = new URL(await page.getByLabel('Webhook URL').inputValue()).pathname;
    expect(webhookPath).toBe('/partners/mixpanel/webhook');
    const webhookUrl = server.url + webhookPath;
    const sync = await emulatorCall<{ id: string }>('POST', '/_emulator/webhook-syncs', {
      project_id: PROJECT,
      url: webhookUrl,
      username: 'mixpanel',
      password: importKey,
      cohort_ids: [COHORT.id],
    });
    const run = await until('the webhook sync to finish', async () => {
      const state = await emulatorCall<{ runs: Array<{ status: string; error: string | null }> }>('GET', `/_emulator/webhook-syncs/${sync.id}`);
      const last = state.runs.at(-1);
      return last && last.status !== 'running' ? last : undefined;
    });
    expect(run).toMatchObject({ status: 'succeeded' });

    // The sync history on the partner page shows the message with its counts.
    await page.reload();
    await page.getByRole('heading', { name: 'Sync history' }).waitFor();
    await page.locator('table.data td', { hasText: 'webhook' }).first().waitFor();
    await tab.shot('03-mixpanel-sync-history');

    // The cohort appears with the right count, and its page charts the adds.
    await nav(page, 'Cohorts');
    const row = page.getByRole('row', { name: new RegExp(COHORT.name) });
    await row.waitFor();
    await expect(row.getByTestId('member-count').textContent()).resolves.toBe(String(MEMBERS));
    await tab.shot('04-cohorts');
    await row.getByRole('link', { name: COHORT.name }).click();
    await page.getByRole('heading', { level: 1, name: COHORT.name }).waitFor();
    await expect(page.getByTestId('cohort-members').textContent()).resolves.toBe(String(MEMBERS));
    await page.getByRole('img', { name: /Members added and removed per day/ }).waitFor();
    await tab.shot('05-cohort-page');

    // A segment "Mixpanel_Cohorts includes Power users" reaches exactly the matched members.
    await nav(page, 'Segments');
    await page.getByRole('link', { name: 'New segment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Mixpanel power users');
    await page.getByRole('button', { name: '+ Add condition' }).click();
    await page.getByLabel('Filter', { exact: true }).selectOption('Mixpanel_Cohorts');
    await page.getByLabel('Operator').selectOption('includes');
    const cohortOption = await page.getByLabel('Cohort', { exact: true }).locator('option', { hasText: COHORT.name }).getAttribute('value');
    await page.getByLabel('Cohort', { exact: true }).selectOption(cohortOption!);
    const reach = page.getByTestId('reachable-count');
    await until('the reachable count', async () => (await reach.getAttribute('data-state')) === 'done' && (await reach.textContent()) === String(MEMBERS), 10_000);
    // "does not include" flips it to everyone else.
    const { rows } = await server.testDb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    const others = String(rows[0]!.n - MEMBERS);
    await page.getByLabel('Operator').selectOption('does_not_include');
    await until('the complementary count', async () => (await reach.getAttribute('data-state')) === 'done' && (await reach.textContent()) === others, 10_000);
    await page.getByLabel('Operator').selectOption('includes');
    await until('the count again', async () => (await reach.getAttribute('data-state')) === 'done' && (await reach.textContent()) === String(MEMBERS), 10_000);
    await tab.shot('06-segment-builder');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel power users' }).waitFor();
    await page.getByRole('link', { name: 'CSV' }).waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'CSV' }).click();
    const csv = await (await download).createReadStream();
    let text = '';
    for await (const chunk of csv) text += chunk;
    expect(text.trim().split('\n')).toHaveLength(MEMBERS + 1);

    // A Mixpanel Current pointed at the emulator.
    await nav(page, 'Currents');
    await page.getByRole('link', { name: 'Create Current' }).click();
    await page.getByLabel('Integration name').fill('Mixpanel (emulator)');
    await page.getByLabel('Contact email').fill('ops@example.com');
    await page.getByLabel('Service account username').fill(SERVICE_ACCOUNT.username);
    await page.getByLabel('Service account secret').fill(SERVICE_ACCOUNT.secret);
    await page.getByLabel('Project id').fill(PROJECT);
    await page.getByLabel('Project token').fill(TOKEN);
    await page.getByLabel('Data residency region').selectOption('US');
    await page.getByLabel('Ingestion base URL (optional)').fill(emulator.url);
    await page.getByLabel(/^Behaviors \(/).check();
    await tab.shot('07-create-current');
    await page.getByRole('button', { name: 'Launch Current' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mixpanel (emulator)' }).waitFor();

    // Events through the REST API reach the emulator, and the connector page shows them delivered.
    const now = new Date().toISOString();
    const events = Array.from({ length: 5 }, (_, i) => ({ external_id: `u0${i + 1}`, name: 'rented_movie', time: now, properties: { title: `Film ${i}` } }));
    expect((await server.call('POST', '/users/track', { events })).status).toBe(201);
    const stored = await until('the emulator to store the events', async () => {
      const got = await emulatorCall<{ total: number; events: Array<{ event: string; properties: Record<string, unknown> }> }>('GET', `/_emulator/events?project_id=${PROJECT}`);
      return got.total >= 5 ? got : undefined;
    }, 30_000);
    expect(stored.events.filter((e) => e.event === '[Braze Custom Event] rented_movie')).toHaveLength(5);
    await until('the connector page to show 5 delivered', async () => (await page.getByTestId('current-sent').textContent()) === '5', 20_000);
    await page.getByRole('img', { name: /Events per minute/ }).waitFor();
    await tab.shot('08-current-page');
    await nav(page, 'Currents');
    await page.getByRole('row', { name: /Mixpanel \(emulator\)/ }).waitFor();
    await tab.shot('09-currents');

    // Users: the profile shows identities, cohorts and the recent events.
    await nav(page, 'Users');
    await page.getByLabel('External id').fill('u01');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'Recent events' }).waitFor();
    await page.getByText(COHORT.name).first().waitFor();
    await page.getByRole('cell', { name: 'behaviors.CustomEvent' }).first().waitFor();
    await tab.shot('10-users');

    // Usage: the 12 adds are 12 data points.
    await nav(page, 'Usage');
    await until('usage', async () => (await page.getByTestId('usage-total').textContent().catch(() => null)) === String(MEMBERS), 10_000);
    await tab.shot('11-usage');

    expect(tab.errors).toEqual([]);
  }, 110_000);

  it('fixes a failed Current in place, deletes it, and shows rejected webhook pushes on the Mixpanel page', async () => {
    const { page } = tab;
    // Create with a wrong secret: the connection test says why before anything is created.
    await go(page, '/currents/new');
    await page.getByLabel('Integration name').fill('Broken export');
    await page.getByLabel('Contact email').fill('ops@example.com');
    await page.getByLabel('Service account username').fill(SERVICE_ACCOUNT.username);
    await page.getByLabel('Service account secret').fill('a-wrong-secret');
    await page.getByLabel('Project id').fill(PROJECT);
    await page.getByLabel('Project token').fill(TOKEN);
    await page.getByLabel('Ingestion base URL (optional)').fill(emulator.url);
    await page.getByLabel(/^Behaviors \(/).check();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('connection-test').textContent()).resolves.toMatch(/rejected the credentials/);
    await tab.shot('19-create-current-test-failed');
    tab.errors.length = 0; // the probe's 401 is reported as a result, not thrown; nothing else expected
    await page.getByRole('button', { name: 'Launch Current' }).click();
    await page.getByRole('heading', { level: 1, name: 'Broken export' }).waitFor();
    const now = new Date().toISOString();
    expect((await server.call('POST', '/users/track', { events: [{ external_id: 'u03', name: 'waited_for_fix', time: now }] })).status).toBe(201);
    // It fails; the banner offers the fix.
    await page.getByRole('button', { name: 'Fix the settings' }).waitFor({ timeout: 30_000 });
    await tab.shot('20-current-failed');
    await page.getByRole('button', { name: 'Fix the settings' }).click();
    await page.getByLabel('New service account').check();
    await page.getByLabel('Service account username').fill(SERVICE_ACCOUNT.username);
    await page.getByLabel('Service account secret').fill(SERVICE_ACCOUNT.secret);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(/Saved \(credentials\)/).waitFor();
    await until(
      'the waiting event to arrive',
      async () => {
        const got = await emulatorCall<{ events: Array<{ event: string }> }>('GET', `/_emulator/events?project_id=${PROJECT}&limit=1000`);
        return got.events.some((e) => e.event === '[Braze Custom Event] waited_for_fix');
      },
      30_000,
    );
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('connection-test').textContent()).resolves.toMatch(/Connection works/);
    await tab.shot('21-current-fixed');
    // Delete.
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: /Delete this Current/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Currents' }).waitFor();
    await expect(page.getByRole('row', { name: /Broken export/ }).count()).resolves.toBe(0);

    // A webhook push with a wrong secret for a real key's prefix is listed on the Mixpanel page.
    const prefix = (await server.call('GET', '/admin/import-keys')).body.keys[0].prefix as string;
    const bad = await emulatorCall<{ id: string }>('POST', '/_emulator/webhook-syncs', {
      project_id: PROJECT,
      url: `${server.url}/partners/mixpanel/webhook`,
      username: 'mixpanel',
      password: `${prefix}_${'0'.repeat(40)}`,
      cohort_ids: [COHORT.id],
      start: false,
    });
    await emulatorCall('POST', `/_emulator/webhook-syncs/${bad.id}/run`);
    await nav(page, 'Mixpanel');
    const rejections = page.getByTestId('sync-rejections');
    await rejections.waitFor();
    await rejections.getByText('wrong_secret').first().waitFor();
    await expect(rejections.textContent()).resolves.toContain(prefix);
    await page.getByTestId('rejections-24h').waitFor();
    await tab.shot('22-mixpanel-rejections');
    expect(tab.errors.filter((e) => !/40[01]/.test(e))).toEqual([]);
  }, 110_000);

  it('stays usable at 400 px wide', async () => {
    const narrow = await openPage(browser, { width: 400, height: 800 });
    await narrow.context.addCookies(await tab.context.cookies());
    for (const [path, name, heading] of [
      ['/partners/mixpanel', '12-narrow-mixpanel', 'Mixpanel'],
      ['/segments/new', '13-narrow-segment-builder', 'New segment'],
      ['/cohorts', '14-narrow-cohorts', 'Cohorts'],
      ['/currents/new', '15-narrow-create-current', 'Create Current → Mixpanel Export'],
      ['/currents', '16-narrow-currents', 'Currents'],
      ['/users', '17-narrow-users', 'Users'],
      ['/usage', '18-narrow-usage', 'Usage'],
    ] as const) {
      await go(narrow.page, path);
      await narrow.page.getByRole('heading', { level: 1, name: heading }).waitFor();
      const overflow = await narrow.page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
      await narrow.shot(name);
    }
    // Sign out ends the session: the admin API refuses the old cookie afterwards.
    await narrow.page.getByRole('button', { name: 'Sign out' }).click();
    await narrow.page.getByText('You have signed out.').waitFor();
    const after = await narrow.page.evaluate<number>("fetch('/admin/cohorts').then((r) => r.status)");
    expect(after).toBe(401);
    expect(narrow.errors.filter((e) => !e.includes('401'))).toEqual([]);
    await narrow.context.close();
  }, 60_000);
});
