/** `rivulet keys create|list|revoke` and `rivulet migrate` as real processes, on both backends. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { runCli, serve } from './cli-process.js';

let env: Record<string, string>;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rivulet-cli-'));
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    env = { DATABASE_URL: created.url, RIVULET_DATA_DIR: dir };
    cleanup = async () => {
      await created.drop();
      await rm(dir, { recursive: true, force: true });
    };
  } else {
    env = { RIVULET_DATA_DIR: dir, DATABASE_URL: '' };
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
});
afterAll(() => cleanup());

// Each step is a fresh process that boots the store: slow on a loaded 2-core machine.
describe(`rivulet CLI on ${TEST_BACKEND}`, { timeout: 240_000 }, () => {
  it('migrates, creates a working key, lists it by prefix only, and revokes it', async () => {
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/applied: 001_core|up to date/);

    const created = await runCli(['keys', 'create', '--workspace', 'acme', '--name', 'ingest', '--permissions', 'users.track,users.export.ids'], env);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^rvk_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/);
    const prefix = key.split('_').slice(0, 2).join('_');

    const listed = await runCli(['keys', 'list', '--workspace', 'acme'], env);
    expect(listed.stdout).toContain(prefix);
    expect(listed.stdout).toContain('active');
    expect(listed.stdout).not.toContain(key);

    const bad = await runCli(['keys', 'create', '--permissions', 'users.fly'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown permission(s): users.fly');

    const server = await serve(env);
    const call = () =>
      fetch(`${server.url}/users/track`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ attributes: [{ external_id: 'cli-user' }] }),
      });
    expect((await call()).status).toBe(201);
    server.child.kill('SIGTERM');
    await server.exited;

    const revoked = await runCli(['keys', 'revoke', prefix], env);
    expect(revoked.stdout, revoked.stderr).toContain(`revoked ${prefix}`);
    expect((await runCli(['keys', 'list'], env)).stdout).toMatch(new RegExp(`${prefix}\\trevoked`));
    expect((await runCli(['keys', 'revoke', 'rvk_missing'], env)).code).toBe(1);
  });

  it('creates, rotates, lists and invalidates data import keys', async () => {
    const created = await runCli(['import-keys', 'create', '--partner', 'mixpanel'], env);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^dik_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/);
    const prefix = key.split('_').slice(0, 2).join('_');
    const rotated = await runCli(['import-keys', 'rotate', prefix], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = rotated.stdout.trim().split('\n').pop()!;
    expect(next).not.toBe(key);
    const nextPrefix = next.split('_').slice(0, 2).join('_');
    const invalidated = await runCli(['import-keys', 'invalidate', nextPrefix], env);
    expect(invalidated.stdout, invalidated.stderr).toContain(`invalidated ${nextPrefix}`);
    const listed = (await runCli(['import-keys', 'list'], env)).stdout;
    expect(listed).toMatch(new RegExp(`${prefix}\\tmixpanel\\trotated`));
    expect(listed).toMatch(new RegExp(`${nextPrefix}\\tmixpanel\\tinvalidated`));
    expect((await runCli(['import-keys', 'create', '--partner', 'nope'], env)).stderr).toContain('unknown partner nope');
  });
});
