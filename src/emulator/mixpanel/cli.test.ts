/** `rivulet mixpanel-emulator` as a process: prints its base URL as the last stdout line, serves, stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('rivulet mixpanel-emulator', () => {
  it('starts the whole emulator on the requested host and port and prints its URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mixpanel-emulator', '--port', '0', '--host', '127.0.0.1', '--project', '42', '--service-account', 'sa'], {
      cwd: ROOT,
      env: { ...process.env, MIXPANEL_SERVICE_ACCOUNT_SECRET: 'pw' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/^http:\/\/\S+\n/m.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = out.trim().split('\n').at(-1)!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(err).toContain('project 42: token');
      const projects = (await (await request(`${url}/_emulator/projects`)).body.json()) as any;
      expect(projects.projects[0]).toMatchObject({ project_id: '42', service_accounts: [{ username: 'sa', role: 'owner' }] });
      const engage = await request(`${url}/api/query/engage?project_id=42`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('sa:pw').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(engage.statusCode).toBe(200);
      await engage.body.dump();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses a secret on the command line, naming where it goes instead', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mixpanel-emulator', '--port', '0', '--project', '42', '--service-account', 'sa:pw'], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toContain('--service-account user:secret is refused');
    expect(err).toContain('MIXPANEL_SERVICE_ACCOUNT_SECRET');
  });
});
