/**
 * Secret scan across the whole product, with the real `rivulet serve` process logging at trace
 * level. Every kind of secret is created or configured — the seeded and a created REST key, data
 * import keys (created, rotated, invalidated), the partner API key, the dashboard admin password and
 * a session, the master key (a passphrase), connector credentials (service-account secret, project
 * API secret, project token), pull-connection credentials (created and changed), and the SMTP
 * password in SMTP_URL — and used on the routes that take it, right and wrong: failed sign-ins,
 * wrong and revoked keys, a connector whose secret Mixpanel refuses (so its failure notice goes to
 * an SMTP server that refuses the login), a pull whose secret Mixpanel refuses, invalid bodies that
 * carry secrets. Then the plaintext secrets (and their Base64 and hex forms) are searched in:
 * - the process output (stdout and stderr, startup included);
 * - every response body and header, error bodies included, except the one answer that shows a new
 *   key once (its creation or rotation) and the session cookie of the sign-in answer;
 * - `/metrics`, `/openapi.json` and `/docs/json`;
 * - every row of every table, as text.
 * Only hashes, ciphertext and four-character hints may be found. Per-area checks live beside their
 * code (test/currents-*.db.test.ts, src/http/http.db.test.ts, src/web/server/dashboard.db.test.ts);
 * this one holds all secrets at once and looks everywhere.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { openPglite, openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { serve, type ServeProcess } from './cli-process.js';
import { connectorBody, projectCreds, startEmulator, waitFor } from './currents-support.js';

const tag = () => randomBytes(9).toString('hex');
const P = projectCreds('5151');
const S = {
  seedKey: `seed-key-${tag()}`,
  adminPassword: `admin-pw-${tag()}`,
  partnerKey: `pk-partner-${tag()}`,
  masterKey: `master-passphrase-${tag()}`,
  smtpPassword: `smtp-pw-${tag()}`,
  wrongConnectorSecret: `wrong-sa-secret-${tag()}`,
  pullSecretWrong: `wrong-pull-secret-${tag()}`,
  pullSecretNew: `pull-secret-new-${tag()}`,
};
const SMTP_USER = 'notifier';

let mp: RunningMixpanelEmulator;
let smtp: Server;
let smtpPort = 0;
let smtpAuthAttempts = 0;
let dataDir: string;
let env: Record<string, string>;
let dropDb: () => Promise<void> = async () => {};

/** An SMTP server that offers AUTH PLAIN and refuses every login. */
function refusingSmtp(): Promise<void> {
  smtp = createServer((socket) => {
    socket.on('error', () => {});
    socket.write('220 refusing.smtp ready\r\n');
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl).toUpperCase();
        buffer = buffer.slice(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-refusing.smtp\r\n250 AUTH PLAIN\r\n');
        else if (line.startsWith('AUTH')) {
          smtpAuthAttempts++;
          socket.write('535 5.7.8 Authentication credentials invalid\r\n');
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('503 bad sequence\r\n');
      }
    });
  });
  return new Promise((r) => smtp.listen(0, '127.0.0.1', () => ((smtpPort = (smtp.address() as { port: number }).port), r())));
}

beforeAll(async () => {
  mp = await startEmulator([P]);
  await refusingSmtp();
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-secrets-'));
  env = {
    RIVULET_DATA_DIR: dataDir,
    RIVULET_API_KEY: S.seedKey,
    RIVULET_ADMIN_PASSWORD: S.adminPassword,
    RIVULET_PARTNER_API_KEY_MIXPANEL: S.partnerKey,
    RIVULET_MASTER_KEY: S.masterKey,
    SMTP_URL: `smtp://${SMTP_USER}:${S.smtpPassword}@127.0.0.1:${smtpPort}`,
    LOG_LEVEL: 'trace',
    RIVULET_CURRENTS_DELAY_SCALE: '0.002',
    RIVULET_CURRENTS_RECONCILE_MS: '200',
    RIVULET_CURRENTS_IDLE_POLL_MS: '50',
    RIVULET_CURRENTS_NOTIFICATION_POLL_MS: '200',
    DATABASE_URL: '',
  };
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    env.DATABASE_URL = created.url;
    dropDb = created.drop;
  }
});
afterAll(async () => {
  await mp?.close();
  await new Promise((r) => smtp?.close(r));
  await dropDb();
  await rm(dataDir, { recursive: true, force: true });
});

interface Answer {
  where: string;
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
}

describe(`no plaintext secret in logs, answers, metrics, OpenAPI or the database (${TEST_BACKEND})`, () => {
  it('finds only hashes, ciphertext and hints', { timeout: 120_000 }, async () => {
    const server: ServeProcess = await serve(env);
    const answers: Answer[] = [];
    /** Secrets each shown once, with the answer that shows them (excluded from the scan for that secret only). */
    const shownOnce = new Map<string, Answer>();
    const call = async (method: string, path: string, body?: unknown, opts: { key?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> => {
      const key = opts.key === undefined ? S.seedKey : opts.key;
      const res = await fetch(server.url + path, {
        method,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const answer: Answer = { where: `${method} ${path}`, status: res.status, headers: Object.fromEntries(res.headers), text, body: parsed };
      answers.push(answer);
      return answer;
    };
    const secrets: Record<string, string> = { ...S, saSecret: P.secret, apiSecret: P.apiSecret, projectToken: P.token };
    let sessionToken = '';
    try {
      // REST keys: a created key, used, mistyped, revoked and used again.
      const created = await call('POST', '/admin/keys', { name: 'scan', permissions: ['users.track', 'users.export.ids'] });
      expect(created.status).toBe(201);
      secrets.createdKey = created.body.key;
      shownOnce.set(secrets.createdKey!, created);
      expect((await call('POST', '/users/track', { attributes: [{ external_id: 'scan-1', email: 'scan@example.com' }] }, { key: secrets.createdKey! })).status).toBe(201);
      expect((await call('POST', '/users/track', { attributes: [] }, { key: `${secrets.createdKey}x` })).status).toBe(401);
      expect((await call('POST', '/users/track', { api_key: secrets.createdKey, attributes: [] })).status).toBe(400);
      expect((await call('POST', `/admin/keys/${created.body.prefix}/revoke`)).status).toBe(200);
      expect((await call('POST', '/users/export/ids', { external_ids: ['scan-1'] }, { key: secrets.createdKey! })).status).toBe(401);

      // Data import keys: created, rotated (the old one then fails), used on the partner API and the webhook, right and wrong.
      const ik = await call('POST', '/admin/import-keys', { partner: 'mixpanel' });
      expect(ik.status).toBe(201);
      secrets.importKey = ik.body.key;
      shownOnce.set(secrets.importKey!, ik);
      const rotated = await call('POST', `/admin/import-keys/${ik.body.prefix}/rotate`);
      expect(rotated.status).toBe(201);
      secrets.rotatedKey = rotated.body.key;
      shownOnce.set(secrets.rotatedKey!, rotated);
      const partner = (clientSecret: string, partnerKey = S.partnerKey) => ({ partner_api_key: partnerKey, client_secret: clientSecret, cohort_id: 'scan', name: 'Scan', created_at: '2026-01-01T00:00:00Z' });
      expect((await call('POST', '/partners/mixpanel/cohorts', partner(secrets.importKey!), { key: null })).status).toBe(401);
      expect((await call('POST', '/partners/mixpanel/cohorts', partner(secrets.rotatedKey!, `${S.partnerKey}x`), { key: null })).status).toBe(401);
      expect((await call('POST', '/partners/mixpanel/cohorts', partner(secrets.rotatedKey!), { key: null })).status).toBe(201);
      expect((await call('POST', '/partners/mixpanel/cohorts/users', { ...partner(secrets.rotatedKey!), cohort_changes: 'not an array' }, { key: null })).status).toBe(400);
      const hook = { action: 'members', parameters: { mixpanel_project_id: 1, mixpanel_cohort_id: '2', mixpanel_cohort_name: 'Hooked', mixpanel_session_id: 's', members: [{ mixpanel_distinct_id: 'scan-1' }] } };
      const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`mixpanel:${password}`).toString('base64')}` });
      expect((await call('POST', '/partners/mixpanel/webhook', hook, { key: null, headers: basic(secrets.rotatedKey!) })).status).toBe(200);
      expect((await call('POST', '/partners/mixpanel/webhook', hook, { key: null, headers: basic(secrets.importKey!) })).status).toBe(401);
      expect((await call('POST', `/admin/import-keys/${rotated.body.prefix}/invalidate`)).status).toBe(200);

      // The dashboard: a wrong password, a session, an admin call through it, sign-out.
      expect((await call('POST', '/dashboard/api/session', { password: `${S.adminPassword}x` }, { key: null, headers: { origin: server.url } })).status).toBe(401);
      const signIn = await call('POST', '/dashboard/api/session', { password: S.adminPassword }, { key: null, headers: { origin: server.url } });
      expect(signIn.status).toBe(200);
      const cookie = signIn.headers['set-cookie']!.split(';')[0]!;
      sessionToken = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
      expect(sessionToken.length).toBeGreaterThanOrEqual(32);
      secrets.sessionToken = sessionToken;
      expect((await call('GET', '/admin/cohorts', undefined, { key: null, headers: { cookie } })).status).toBe(200);
      expect((await call('POST', '/admin/import-keys', { partner: 'mixpanel' }, { key: null, headers: { cookie, 'x-csrf-token': 'forged', origin: server.url } })).status).toBe(403);
      expect((await call('DELETE', '/dashboard/api/session', undefined, { key: null, headers: { cookie, 'x-csrf-token': signIn.body.csrf_token, origin: server.url } })).status).toBeLessThan(300);

      // Connectors: service account, project API secret, a refused secret (→ failure notice → refusing SMTP), invalid bodies.
      const good = await call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Scan SA' }));
      expect(good.status).toBe(201);
      const legacy = await call('POST', '/admin/currents/mixpanel', { ...connectorBody(mp.url, P, { name: 'Scan API secret' }), credentials: { kind: 'api_secret', api_secret: P.apiSecret } });
      expect(legacy.status).toBe(201);
      const wrong = await call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, { ...P, secret: S.wrongConnectorSecret }, { name: 'Scan wrong' }));
      expect(wrong.status).toBe(201);
      expect((await call('POST', '/admin/currents/mixpanel/test', connectorBody(mp.url, { ...P, secret: S.wrongConnectorSecret }))).body).toMatchObject({ ok: false, status: 401 });
      expect((await call('POST', `/admin/currents/${wrong.body.id}/test`)).body).toMatchObject({ ok: false });
      expect((await call('POST', '/admin/currents/mixpanel', connectorBody('gopher://nowhere', P))).status).toBe(400);
      expect((await call('POST', '/admin/currents/mixpanel', { ...connectorBody(mp.url, P), credentials: { kind: 'service_account', username: P.username, secret: P.secret } })).status).toBe(400);
      for (const c of [good, legacy, wrong]) {
        await call('GET', `/admin/currents/${c.body.id}`);
        await call('GET', `/admin/currents/${c.body.id}/status`);
      }
      await call('GET', '/admin/currents');
      expect((await call('POST', '/users/track', { events: [{ external_id: 'scan-1', name: 'scanned', time: new Date(Date.now() - 60_000).toISOString() }] })).status).toBe(201);
      await waitFor(async () => (await call('GET', `/admin/currents/${wrong.body.id}/status`)).body.state === 'failed', 'the refused connector to fail', 30_000, 200);
      await waitFor(async () => smtpAuthAttempts > 0, 'the failure notice to be tried on SMTP', 30_000, 100);
      await waitFor(async () => {
        const n = (await call('GET', `/admin/currents/${wrong.body.id}/notifications`)).body.notifications as Array<{ attempts?: number; last_error?: string | null }>;
        return n.length > 0 && n.some((x) => (x.attempts ?? 0) > 0 || x.last_error) ? n : undefined;
      }, 'the refused SMTP login to be recorded', 30_000, 200);

      // Pull connections: a refused secret, a run, a change of secret.
      const pull = await call('POST', '/admin/mixpanel/connections', { name: 'Scan pull', project_id: P.projectId, base_url: mp.url, service_account: { username: P.username, secret: S.pullSecretWrong }, cohort_ids: [404], mode: 'one_time' });
      expect(pull.status).toBe(201);
      await call('POST', `/admin/mixpanel/connections/${pull.body.id}/run`);
      await waitFor(async () => ((await call('GET', `/admin/mixpanel/connections/${pull.body.id}`)).body.last_error ? true : undefined), 'the refused pull to record its error', 30_000, 200);
      expect((await call('PATCH', `/admin/mixpanel/connections/${pull.body.id}`, { service_account: { username: P.username, secret: S.pullSecretNew } })).status).toBe(200);
      expect((await call('PATCH', `/admin/mixpanel/connections/${pull.body.id}`, { service_account: { username: P.username, secret: S.pullSecretNew }, base_url: 'file:///etc/passwd' })).status).toBe(400);
      await call('GET', '/admin/mixpanel/connections');
      await call('GET', '/admin/cohort-syncs');
      await call('GET', '/admin/partners');
      await call('GET', '/admin/keys');
      await call('GET', '/admin/import-keys');

      // The operator endpoints.
      for (const path of ['/metrics', '/openapi.json', '/docs/json', '/healthz', '/readyz']) expect((await call('GET', path, undefined, { key: null })).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }

    // The forms a secret could leak in: plaintext, Base64 (Basic auth, AUTH PLAIN/LOGIN), hex (bytea).
    const forms = (name: string, value: string): Array<[string, string]> => [
      [name, value],
      [`${name} (base64)`, Buffer.from(value).toString('base64')],
      [`${name} (hex)`, Buffer.from(value).toString('hex')],
    ];
    const all: Array<[string, string]> = Object.entries(secrets).flatMap(([n, v]) => forms(n, v!));
    all.push(['smtp AUTH PLAIN', Buffer.from(`\u0000${SMTP_USER}\u0000${S.smtpPassword}`).toString('base64')]);
    all.push(['webhook Basic', Buffer.from(`mixpanel:${secrets.rotatedKey}`).toString('base64')]);

    const logs = server.output();
    expect(logs).toContain('incoming request'); // request logging was on
    expect(logs).toMatch(/notification|SMTP/i);
    const leaks: string[] = [];
    for (const [name, value] of all) {
      if (logs.includes(value)) leaks.push(`${name} in the process output`);
      for (const a of answers) {
        const headers = Object.entries(a.headers).filter(([h]) => !(h === 'set-cookie' && a.where === 'POST /dashboard/api/session' && a.status === 200));
        const text = `${a.text}\n${JSON.stringify(headers)}`;
        if (text.includes(value) && shownOnce.get(secrets[name] ?? '') !== a) leaks.push(`${name} in the answer to ${a.where} (${a.status})`);
      }
    }

    // The database, every row of every table as text.
    const db: Db = TEST_BACKEND === 'postgres' ? openPostgres({ connectionString: env.DATABASE_URL! }) : await openPglite(join(dataDir, 'pglite'));
    let rows = 0;
    try {
      const { rows: tables } = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
      expect(tables.length).toBeGreaterThan(20);
      for (const { table_name } of tables) {
        const { rows: dump } = await db.query<{ n: string; text: string | null }>(`SELECT count(*)::text AS n, string_agg(t::text, E'\\n') AS text FROM ${table_name} t`);
        rows += Number(dump[0]!.n);
        const text = dump[0]!.text ?? '';
        for (const [name, value] of all) if (text.includes(value)) leaks.push(`${name} in table ${table_name}`);
      }
      // What is stored instead: hashes and ciphertext.
      const stored = (await db.query<{ credentials: unknown }>('SELECT credentials FROM currents_connectors')).rows;
      expect(stored.length).toBe(3);
    } finally {
      await db.close();
    }
    console.log(`[secret scan ${TEST_BACKEND}] ${Object.keys(secrets).length} secrets in ${all.length} forms; ${answers.length} answers, ${logs.length.toLocaleString('en-US')} bytes of logs, ${rows} rows scanned`);
    expect(leaks).toEqual([]);
  });
});
