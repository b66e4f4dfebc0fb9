/**
 * The minimal SMTP client against a fake SMTP server on loopback: the dialogue, AUTH PLAIN and
 * LOGIN, dot-stuffing, refusal handling, and the outbox transport that logs when SMTP_URL is unset.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { notificationTransport } from '../src/currents/notifications/sender.js';
import { formatMessage, parseSmtpUrl, sendMail } from '../src/currents/notifications/smtp.js';

interface Session {
  commands: string[];
  data: string;
}

function fakeSmtp(opts: { auth?: 'PLAIN' | 'LOGIN'; refuseRcpt?: boolean } = {}): Promise<{ server: Server; port: number; sessions: Session[] }> {
  const sessions: Session[] = [];
  const server = createServer((socket: Socket) => {
    const session: Session = { commands: [], data: '' };
    sessions.push(session);
    let inData = false;
    let buffer = '';
    let loginStep = 0;
    socket.write('220 fake.smtp ready\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            socket.write('250 queued\r\n');
          } else session.data += `${line}\r\n`;
          continue;
        }
        session.commands.push(line);
        if (loginStep === 1) {
          loginStep = 2;
          socket.write('334 UGFzc3dvcmQ6\r\n');
          continue;
        }
        if (loginStep === 2) {
          loginStep = 0;
          socket.write('235 ok\r\n');
          continue;
        }
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') socket.write(`250-fake.smtp\r\n250-8BITMIME\r\n${opts.auth ? `250-AUTH ${opts.auth}\r\n` : ''}250 SIZE 1000000\r\n`);
        else if (verb === 'AUTH' && line.startsWith('AUTH PLAIN')) socket.write('235 ok\r\n');
        else if (verb === 'AUTH') {
          loginStep = 1;
          socket.write('334 VXNlcm5hbWU6\r\n');
        } else if (verb === 'MAIL') socket.write('250 ok\r\n');
        else if (verb === 'RCPT') socket.write(opts.refuseRcpt ? '550 no such user\r\n' : '250 ok\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.write('221 bye\r\n');
          socket.end();
        } else socket.write('500 what\r\n');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, sessions })));
}

let open: Server | undefined;
afterEach(() => new Promise<void>((r) => (open ? open.close(() => r()) : r())));

const message = { from: 'rivulet@example.com', to: 'ops@example.com', subject: 'Export "Prod" has failed ✗', text: 'line one\n.starts with a dot\nend' };

describe('SMTP client', () => {
  it('delivers a message with AUTH PLAIN and dot-stuffing', async () => {
    const fake = await fakeSmtp({ auth: 'PLAIN' });
    open = fake.server;
    await sendMail(parseSmtpUrl(`smtp://mailer:p%40ss@127.0.0.1:${fake.port}`), message);
    const s = fake.sessions[0]!;
    expect(s.commands.map((c) => c.split(' ')[0])).toEqual(['EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'QUIT']);
    expect(Buffer.from(s.commands[1]!.split(' ')[2]!, 'base64').toString()).toBe('\u0000mailer\u0000p@ss');
    expect(s.commands[2]).toBe('MAIL FROM:<rivulet@example.com>');
    expect(s.commands[3]).toBe('RCPT TO:<ops@example.com>');
    expect(s.data).toContain('Subject: =?UTF-8?B?');
    expect(s.data).toContain('\r\n\r\nline one\r\n..starts with a dot\r\nend\r\n');
  });

  it('speaks AUTH LOGIN when that is all the server offers', async () => {
    const fake = await fakeSmtp({ auth: 'LOGIN' });
    open = fake.server;
    await sendMail(parseSmtpUrl(`smtp://mailer:pw@127.0.0.1:${fake.port}`), message);
    expect(fake.sessions[0]!.commands.slice(1, 4)).toEqual(['AUTH LOGIN', Buffer.from('mailer').toString('base64'), Buffer.from('pw').toString('base64')]);
  });

  it('fails on a refused recipient without putting the password in the error', async () => {
    const fake = await fakeSmtp({ refuseRcpt: true });
    open = fake.server;
    const err = await sendMail(parseSmtpUrl(`smtp://mailer:TOPSECRET@127.0.0.1:${fake.port}`), message).catch((e: Error) => e);
    expect(String(err)).toContain('550');
    expect(String(err)).not.toContain('TOPSECRET');
  });

  it('fails when STARTTLS is required but not offered, and on an unreachable server', async () => {
    const fake = await fakeSmtp();
    open = fake.server;
    await expect(sendMail(parseSmtpUrl(`smtp://127.0.0.1:${fake.port}?starttls=required`), message)).rejects.toThrow(/STARTTLS/);
    await expect(sendMail(parseSmtpUrl('smtp://127.0.0.1:1'), message, 2000)).rejects.toThrow();
  });

  it('formats a message with headers and CRLF line ends', () => {
    const text = formatMessage({ ...message, subject: 'plain' }, new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
    expect(text).toMatch(/^From: rivulet@example.com\r\nTo: ops@example.com\r\nSubject: plain\r\nDate: Fri, 02 Jan 2026 03:04:05 \+0000\r\n/);
    expect(() => formatMessage({ ...message, to: 'evil@x.com>\r\nRCPT TO:<other@x.com' })).toThrow();
  });

  it('mails outbox notices when SMTP_URL is set', async () => {
    const fake = await fakeSmtp({ auth: 'PLAIN' });
    open = fake.server;
    const logged: unknown[] = [];
    const deliver = notificationTransport({ smtpUrl: `smtp://u:pw@127.0.0.1:${fake.port}`, smtpFrom: 'rivulet@example.com', pollMs: 1000 }, { info: (o) => logged.push(o), warn() {}, error() {} });
    const via = await deliver({ id: 7, connectorId: 'c', workspaceId: 'w', kind: 'connector_recovered', recipient: 'ops@example.com', subject: 'Recovered', body: 'Delivering again.', attempts: 0 });
    expect(via).toBe('smtp');
    expect(fake.sessions[0]!.data).toContain('Subject: Recovered');
    expect(fake.sessions[0]!.data).toContain('Delivering again.');
    expect(JSON.stringify(logged)).not.toContain('pw@');
  });

  it('logs notices when SMTP_URL is unset', async () => {
    const logged: unknown[] = [];
    const deliver = notificationTransport({ smtpUrl: undefined, smtpFrom: 'r@x', pollMs: 1000 }, { info: (o) => logged.push(o), warn() {}, error() {} });
    const via = await deliver({ id: 1, connectorId: 'c', workspaceId: 'w', kind: 'connector_failed', recipient: 'ops@example.com', subject: 'S', body: 'B', attempts: 0 });
    expect(via).toBe('log');
    expect(logged).toEqual([{ notification: { id: 1, kind: 'connector_failed', to: 'ops@example.com', subject: 'S', body: 'B' } }]);
  });
});
