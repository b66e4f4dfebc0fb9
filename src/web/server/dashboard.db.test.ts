/**
 * The dashboard's server side on both backends: the admin password (generated, stored hashed,
 * from the environment), sign-in with its throttle, the session cookie's attributes, the session
 * acting as an admin only on admin routes and only with its CSRF token from this origin, sign-out,
 * Bearer keys unchanged, the user lookup, and the SPA serving that keeps API 404s honest.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb } from '../../test-support/db.js';
import { startTestServer, type TestServer } from '../../test-support/server.js';
import { resolveAdminPassword, verifyPassword } from './password.js';
import { dashboardStatic, isClientRoute } from './static.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s?.close());

const SESSION = '/dashboard/api/session';
/** A Set-Cookie header's attributes, sorted (their order carries no meaning). */
const cookieAttributes = (setCookie: string) => setCookie.split('; ').slice(1).sort();

async function signIn(password = s.rivulet.generatedAdminPassword!) {
  const res = await s.call('POST', SESSION, { password }, { key: null });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  return { res, cookie: setCookie.split(';')[0]!, setCookie, csrf: res.body?.csrf_token as string };
}

describe('the admin password', () => {
  it('is generated at first start, stored only as a scrypt hash, and signs in', async () => {
    const password = s.rivulet.generatedAdminPassword;
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    const { rows } = await s.testDb.db.query<{ password_hash: string }>('SELECT password_hash FROM dashboard_admin');
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(rows[0]!.password_hash).not.toContain(password!);
    expect(await verifyPassword(password!, rows[0]!.password_hash)).toBe(true);
    expect(await verifyPassword(`${password}x`, rows[0]!.password_hash)).toBe(false);
  });

  it('comes from RIVULET_ADMIN_PASSWORD when set (stored hashed, and kept once unset), and is generated only once otherwise', async () => {
    const t = await openTestDb();
    const u = await openTestDb();
    try {
      const fromEnv = await resolveAdminPassword(t.db, 'correct horse battery staple');
      expect(fromEnv).toMatchObject({ source: 'environment', generated: undefined });
      expect(await verifyPassword('correct horse battery staple', fromEnv.hash)).toBe(true);
      expect((await t.db.query<{ password_hash: string }>('SELECT password_hash FROM dashboard_admin')).rows).toEqual([{ password_hash: fromEnv.hash }]);
      expect(await resolveAdminPassword(t.db, 'correct horse battery staple')).toMatchObject({ hash: fromEnv.hash });
      expect(await resolveAdminPassword(t.db, undefined)).toMatchObject({ generated: undefined, hash: fromEnv.hash });
      const first = await resolveAdminPassword(u.db, undefined);
      const again = await resolveAdminPassword(u.db, undefined);
      expect(first.generated).toBeDefined();
      expect(again).toMatchObject({ generated: undefined, hash: first.hash });
    } finally {
      await t.drop();
      await u.drop();
    }
  });
});

describe('sessions', () => {
  it('sets an HttpOnly, SameSite=Strict cookie whose token is stored only hashed', async () => {
    const { res, setCookie, cookie } = await signIn();
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(setCookie).toMatch(/^rivulet_session=[A-Za-z0-9_-]{43}; /);
    expect(cookieAttributes(setCookie)).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict']);
    const token = cookie.split('=')[1]!;
    const { rows } = await s.testDb.db.query<{ n: number }>("SELECT count(*)::int AS n FROM dashboard_sessions WHERE encode(token_hash, 'escape') LIKE $1", [`%${token}%`]);
    expect(rows[0]!.n).toBe(0);
    const me = await s.call('GET', SESSION, undefined, { key: null, headers: { cookie } });
    expect(me.body).toEqual({ signed_in: true, csrf_token: res.body.csrf_token });
  });

  it('refuses a wrong password with 401 and throttles an address after 10 failures', async () => {
    const other = await startTestServer();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await other.call('POST', SESSION, { password: 'guess' }, { key: null })).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      const throttled = await other.call('POST', SESSION, { password: other.rivulet.generatedAdminPassword }, { key: null });
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('acts as an admin of the default workspace on admin routes, with the CSRF token for changes', async () => {
    const { cookie, csrf } = await signIn();
    expect((await s.call('GET', '/admin/cohorts', undefined, { key: null, headers: { cookie } })).status).toBe(200);
    const noToken = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' }, { key: null, headers: { cookie } });
    expect(noToken.status).toBe(403);
    expect(noToken.body.message).toBe('Missing or wrong CSRF token');
    const wrongToken = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' }, { key: null, headers: { cookie, 'x-csrf-token': `${csrf}x` } });
    expect(wrongToken.status).toBe(403);
    const crossSite = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' }, { key: null, headers: { cookie, 'x-csrf-token': csrf, origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    const created = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' }, { key: null, headers: { cookie, 'x-csrf-token': csrf, origin: s.url } });
    expect(created.status).toBe(201);
    const { rows } = await s.testDb.db.query<{ workspace_id: string }>('SELECT workspace_id FROM data_import_keys WHERE prefix = $1', [created.body.prefix]);
    expect(rows[0]!.workspace_id).toBe(s.workspaceId);
  });

  it('is not a REST key: non-admin routes refuse it, and a Bearer header is judged on its own', async () => {
    const { cookie } = await signIn();
    const track = await s.call('POST', '/users/track', { attributes: [{ external_id: 'x' }] }, { key: null, headers: { cookie } });
    expect(track.status).toBe(401);
    const badBearer = await s.call('GET', '/admin/cohorts', undefined, { key: 'rvk_not_a_key', headers: { cookie } });
    expect(badBearer.status).toBe(401);
    expect((await s.call('GET', '/admin/cohorts')).status).toBe(200);
  });

  it('ends at sign-out: the old cookie no longer works', async () => {
    const { cookie, csrf } = await signIn();
    const out = await s.call('DELETE', SESSION, undefined, { key: null, headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await s.call('GET', '/admin/cohorts', undefined, { key: null, headers: { cookie } })).status).toBe(401);
    expect((await s.call('GET', SESSION, undefined, { key: null, headers: { cookie } })).body).toEqual({ signed_in: false });
  });

  it('marks the cookie Secure with the __Host- prefix when the public URL is https', async () => {
    const secure = await startTestServer({ RIVULET_PUBLIC_URL: 'https://rivulet.example.com' });
    try {
      // Behind a proxy the Host header may be internal: the public URL's origin is accepted too, a foreign one is not.
      const foreign = await secure.call('POST', SESSION, { password: secure.rivulet.generatedAdminPassword }, { key: null, headers: { origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
      const res = await secure.call('POST', SESSION, { password: secure.rivulet.generatedAdminPassword }, { key: null, headers: { origin: 'https://rivulet.example.com' } });
      expect(String(res.headers['set-cookie'])).toMatch(/^__Host-rivulet_session=[^;]+; /);
      expect(cookieAttributes(String(res.headers['set-cookie']))).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict', 'Secure']);
      const page = await secure.call('GET', '/dashboard/', undefined, { key: null });
      expect(String(page.headers['strict-transport-security'])).toContain('max-age=31536000');
    } finally {
      await secure.close();
    }
  });
});

describe('GET /admin/users/lookup', () => {
  it('finds a profile by external id, alias or device id, with cohorts and recent events', async () => {
    await s.call('POST', '/users/track', {
      attributes: [{ external_id: 'look-1', plan: 'pro' }, { user_alias: { alias_name: 'a-1', alias_label: 'crm' }, _update_existing_only: false }],
      events: [{ external_id: 'look-1', name: 'played', time: new Date().toISOString() }],
    });
    const byId = await s.call('GET', '/admin/users/lookup?external_id=look-1');
    expect(byId.status).toBe(200);
    expect(byId.body.profile).toMatchObject({ external_id: 'look-1', custom_attributes: { plan: 'pro' } });
    expect(byId.body.recent_events).toMatchObject([{ event_type: 'users.behaviors.CustomEvent' }]);
    const byAlias = await s.call('GET', '/admin/users/lookup?alias_name=a-1&alias_label=crm');
    expect(byAlias.body.profile.user_aliases).toEqual([{ alias_name: 'a-1', alias_label: 'crm' }]);
    expect((await s.call('GET', '/admin/users/lookup?alias_name=a-1')).status).toBe(400);
    expect((await s.call('GET', '/admin/users/lookup?external_id=nobody')).status).toBe(404);
    expect((await s.call('GET', '/admin/users/lookup')).status).toBe(400);
  });
});

describe('serving the app', () => {
  it('sends index.html for client routes and honest 404s for assets and APIs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rivulet-dashboard-'));
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(join(root, 'assets', 'app-1234.js'), 'console.log(1)');
    const app = Fastify();
    await app.register(async (scope) => dashboardStatic(scope, { root: `${root}/` }));
    try {
      const page = await app.inject('/dashboard/cohorts/abc');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<title>app</title>');
      expect(page.headers['cache-control']).toBe('no-cache');
      const asset = await app.inject('/dashboard/assets/app-1234.js');
      expect(asset.headers['cache-control']).toContain('immutable');
      expect((await app.inject('/dashboard/assets/missing.js')).statusCode).toBe(404);
      expect((await app.inject('/dashboard/api/nope')).statusCode).toBe(404);
      expect((await app.inject('/')).headers.location).toBe('/dashboard/');
    } finally {
      await app.close();
      await rm(root, { recursive: true, force: true });
    }
    expect(isClientRoute('/dashboard/segments/new')).toBe(true);
    expect(isClientRoute('/dashboard/favicon.ico')).toBe(false);
  });

  it('puts a CSP and the other security headers on the dashboard, and leaves unknown API paths a JSON 404', async () => {
    const page = await s.call('GET', SESSION, undefined, { key: null });
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const api404 = await s.call('GET', '/admin/no-such-thing', undefined, { key: null });
    expect(api404.status).toBe(404);
    expect(api404.body.errors[0].type).toBe('no such route');
  });
});
