/** `rivulet twilio-emulator` as a process: prints its URL, accepts the account from the environment, stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SID = 'AC' + 'e5'.repeat(16);
const TOKEN = 'cli-test-token-0000000001';

describe('rivulet twilio-emulator', () => {
  it('runs on the requested port with the account from the environment, and never prints the token', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'twilio-emulator', '--port', '0', '--latency-ms', '0'], {
      cwd: ROOT,
      env: { ...process.env, RIVULET_TWILIO_EMULATOR_ACCOUNTS: `${SID}:${TOKEN}` },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!/^http:\/\/\S+\n/m.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = out.trim().split('\n').at(-1)!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await request(`${url}/2010-04-01/Accounts/${SID}/Messages.json`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: '+15550100000', From: '+15550009999', Body: 'via cli' }).toString(),
      });
      expect(res.statusCode).toBe(201);
      expect(((await res.body.json()) as any).body).toBe('via cli');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out + err).not.toContain(TOKEN);
  }, 90_000);
});
