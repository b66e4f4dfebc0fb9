/**
 * Dashboard sessions and the sign-in throttle across two instances on one database
 * (docs/access-control.md): sessions listed and revoked one by one through the admin API; sign-out,
 * revocation and a password change (through the API, or a new RIVULET_ADMIN_PASSWORD at a restart)
 * end sessions on every instance at once, the changing session excepted; and parallel password
 * guesses, split over both instances and many addresses, get no more than the documented tries
 * checked per address and for the account.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../../test-support/db.js';
import { startSecondInstance, type SecondInstance } from '../../test-support/second-instance.js';
import { startTestServer, type TestServer } from '../../test-support/server.js';

const SESSION = '/dashboard/api/session';
const WINDOW_MS = 15 * 60_000;
const env = { RIVULET_TRUSTED_PROXIES: '127.0.0.1', RIVULET_SIGNIN_TRIES_PER_ACCOUNT: '30' };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

describe(`dashboard sessions on two instances on one database (${TEST_BACKEND})`, () => {
  let a: TestServer;
  let b: SecondInstance;
  let password: string;
  let nextAddress = 1;

  beforeAll(async () => {
    a = await startTestServer(env);
    password = a.rivulet.generatedAdminPassword!;
    b = await startSecondInstance(a, env);
  }, 240_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const call = async (url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await request(url + path, {
      method: method as 'GET',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  /** A sign-in from its own client address (the instances trust 127.0.0.1 as a proxy). */
  const signIn = async (url: string, pw = password, agent = 'test-agent') => {
    const res = await call(url, 'POST', SESSION, { password: pw }, { 'x-forwarded-for': `192.0.2.${nextAddress++}`, 'user-agent': agent });
    return { status: res.status, cookie: String(res.headers['set-cookie'] ?? '').split(';')[0]!, csrf: res.body?.csrf_token as string };
  };
  const adminAs = (url: string, session: { cookie: string; csrf: string }, method: string, path: string, body?: unknown) =>
    call(url, method, path, body, { cookie: session.cookie, 'x-csrf-token': session.csrf });
  const canRead = async (url: string, session: { cookie: string }) => (await call(url, 'GET', '/admin/cohorts', undefined, { cookie: session.cookie })).status;

  it('lists sessions and revokes one; a sign-out or a revocation through one instance ends the session on the other at once', { timeout: 240_000 }, async () => {
    const s1 = await signIn(a.url, password, 'browser-one');
    const s2 = await signIn(a.url);
    const s3 = await signIn(b.url);
    expect([s1.status, s2.status, s3.status]).toEqual([200, 200, 200]);
    const listed = await adminAs(b.url, s1, 'GET', '/admin/sessions');
    expect(listed.status).toBe(200);
    const mine = listed.body.sessions.find((s: { current: boolean }) => s.current);
    expect(mine).toMatchObject({ user_agent: 'browser-one', address: expect.stringMatching(/^192\.0\.2\./) });
    expect(listed.body.sessions).toHaveLength(3);
    const others = listed.body.sessions.filter((s: { current: boolean }) => !s.current);

    // s2 ended through B with a REST key: refused on A on the next request.
    expect(await canRead(a.url, s2)).toBe(200);
    const s2Id = (await adminAs(a.url, s2, 'GET', '/admin/sessions')).body.sessions.find((s: { current: boolean }) => s.current).id;
    expect(others.map((s: { id: string }) => s.id)).toContain(s2Id);
    expect((await a.call('DELETE', `/admin/sessions/${s2Id}`)).body).toEqual({ id: s2Id, revoked: true });
    expect(await canRead(b.url, s2)).toBe(401);
    expect(await canRead(a.url, s2)).toBe(401);
    expect((await a.call('DELETE', `/admin/sessions/${s2Id}`)).status).toBe(404);
    expect((await a.call('DELETE', '/admin/sessions/not-a-uuid')).status).toBe(404);

    // s3 signs out on B: refused on A.
    expect(await canRead(a.url, s3)).toBe(200);
    expect((await adminAs(b.url, s3, 'DELETE', SESSION)).status).toBe(200);
    expect(await canRead(a.url, s3)).toBe(401);

    // An admin of another workspace does not reach the dashboard's sessions.
    const foreign = await a.createKey(['admin'], 'another-workspace');
    expect((await a.call('GET', '/admin/sessions', undefined, { key: foreign })).status).toBe(403);
    expect((await a.call('DELETE', `/admin/sessions/${mine.id}`, undefined, { key: foreign })).status).toBe(403);
    expect(await canRead(a.url, s1)).toBe(200);
  });

  it('changing the password through one instance ends every other session on both, keeps the changing one, and the new password counts on both', { timeout: 240_000 }, async () => {
    const changer = await signIn(a.url);
    const onA = await signIn(a.url);
    const onB = await signIn(b.url);
    const newPassword = 'a brand new admin password';
    const short = await adminAs(a.url, changer, 'PUT', '/admin/password', { current_password: password, new_password: 'short' });
    expect(short.status).toBe(400);
    const wrong = await adminAs(a.url, changer, 'PUT', '/admin/password', { current_password: 'not it', new_password: newPassword });
    expect(wrong).toMatchObject({ status: 403, body: { message: 'Wrong current password' } });
    expect(await canRead(b.url, onB)).toBe(200);

    const changed = await adminAs(a.url, changer, 'PUT', '/admin/password', { current_password: password, new_password: newPassword });
    expect(changed.status).toBe(200);
    expect(changed.body.changed).toBe(true);
    expect(changed.body.sessions_revoked).toBeGreaterThanOrEqual(2);
    for (const url of [a.url, b.url]) {
      expect(await canRead(url, onA)).toBe(401);
      expect(await canRead(url, onB)).toBe(401);
      expect(await canRead(url, changer)).toBe(200);
    }
    expect((await adminAs(b.url, changer, 'GET', '/admin/sessions')).body.sessions).toHaveLength(1);
    expect((await signIn(b.url, password)).status).toBe(401);
    expect((await signIn(b.url, newPassword)).status).toBe(200);
    password = newPassword;
  });

  it('a new RIVULET_ADMIN_PASSWORD at a restart is a change: every session ends, and the API defers to the environment', { timeout: 240_000 }, async () => {
    const before = await signIn(a.url);
    expect(await canRead(a.url, before)).toBe(200);
    await b.restart({ ...env, RIVULET_ADMIN_PASSWORD: 'the password from the environment' });
    expect(await canRead(a.url, before)).toBe(401);
    expect((await signIn(a.url, password)).status).toBe(401);
    const after = await signIn(b.url, 'the password from the environment');
    expect(after.status).toBe(200);
    const refused = await adminAs(b.url, after, 'PUT', '/admin/password', { current_password: 'the password from the environment', new_password: 'yet another password' });
    expect(refused.status).toBe(409);
    // Started again with the same environment: nothing changes, sessions live on.
    await b.restart({ ...env, RIVULET_ADMIN_PASSWORD: 'the password from the environment' });
    expect(await canRead(a.url, after)).toBe(200);
    password = 'the password from the environment';
  });

  it('checks at most the documented tries per address and for the account, however many guesses arrive at once on both instances', { timeout: 240_000 }, async () => {
    // Windows are fixed (aligned to the epoch): keep the bursts inside one.
    const intoWindow = Date.now() % WINDOW_MS;
    if (intoWindow > WINDOW_MS - 60_000) await new Promise((r) => setTimeout(r, WINDOW_MS - intoWindow + 1_000));
    const guess = (i: number, address: string) => call(i % 2 ? b.url : a.url, 'POST', SESSION, { password: `guess-${i}` }, { 'x-forwarded-for': address });
    const count = (replies: Reply[]) => replies.reduce<Record<number, number>>((c, r) => ({ ...c, [r.status]: (c[r.status] ?? 0) + 1 }), {});

    // One address: 10 tries per window (the default), whatever the concurrency.
    const oneAddress = await Promise.all(Array.from({ length: 200 }, (_, i) => guess(i, '198.51.100.1')));
    expect(count(oneAddress)).toEqual({ 401: 10, 429: 190 });
    const right = await call(a.url, 'POST', SESSION, { password }, { 'x-forwarded-for': '198.51.100.1' });
    expect(right.status).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);

    // Many addresses: the account's 30 tries (configured here), some spent above and by the tests before.
    const accountTries = async () =>
      Number((await a.testDb.db.query<{ hits: number }>("SELECT hits FROM rate_limit_counters WHERE bucket = 'signin:account:admin'")).rows[0]!.hits);
    const spent = await accountTries();
    expect(spent).toBeGreaterThanOrEqual(10);
    const manyAddresses = await Promise.all(Array.from({ length: 100 }, (_, i) => guess(i, `198.51.100.${10 + i}`)));
    expect(count(manyAddresses)).toEqual({ 401: 30 - spent, 429: 70 + spent });
    // A fresh address with the right password: the account has no try left in this window.
    expect((await call(b.url, 'POST', SESSION, { password }, { 'x-forwarded-for': '198.51.100.250' })).status).toBe(429);
  });
});
