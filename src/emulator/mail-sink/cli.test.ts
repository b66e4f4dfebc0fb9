/** `rivulet mail-sink` as a process: prints its SMTP and HTTP URLs, receives mail, stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('rivulet mail-sink', () => {
  it('runs the sink on the requested ports, with the account from the environment', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mail-sink', '--smtp-port', '0', '--http-port', '0', '--auth'], {
      cwd: ROOT,
      env: { ...process.env, RIVULET_MAIL_SINK_AUTH: 'dev:s3cret' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!/^http:\/\/\S+\n/m.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const [smtpUrl, httpUrl] = out.trim().split('\n').slice(-2);
      expect(smtpUrl).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+$/);
      await nodemailer.createTransport({ url: smtpUrl, auth: { user: 'dev', pass: 's3cret' }, ignoreTLS: true } as any).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 'via cli', text: 't' });
      const list = (await (await request(`${httpUrl}/messages`)).body.json()) as any;
      expect(list.messages[0]).toMatchObject({ subject: 'via cli', to: ['b@x.test'] });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 90_000);
});
