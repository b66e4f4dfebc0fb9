/**
 * A minimal SMTP client (RFC 5321) for the notification outbox: one plain-text message per
 * connection. It speaks EHLO, STARTTLS when the server offers it (or `smtps://` for implicit TLS),
 * AUTH PLAIN or LOGIN when the URL carries credentials, MAIL/RCPT/DATA with dot-stuffing, QUIT.
 * Written here rather than taken from nodemailer: Rivulet sends a handful of short text notices,
 * and ~200 lines with no dependency are easier to audit than a mail framework. The SMTP password
 * is never put in an error message.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
}

export interface SmtpTarget {
  host: string;
  port: number;
  secure: boolean;
  /** `required` fails when the server does not offer STARTTLS; `off` never upgrades. */
  starttls: 'auto' | 'required' | 'off';
  username: string | null;
  password: string | null;
  /** Accept self-signed certificates (`?tls_verify=off`); for test servers only. */
  verifyTls: boolean;
}

export class SmtpError extends Error {
  override name = 'SmtpError';
}

/** `smtp://[user:pass@]host[:port][?starttls=required|off&tls_verify=off]` or `smtps://…`. */
export function parseSmtpUrl(raw: string): SmtpTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SmtpError('SMTP_URL is not a URL');
  }
  const secure = url.protocol === 'smtps:';
  if (!secure && url.protocol !== 'smtp:') throw new SmtpError('SMTP_URL must start with smtp:// or smtps://');
  const starttls = url.searchParams.get('starttls') ?? 'auto';
  if (starttls !== 'auto' && starttls !== 'required' && starttls !== 'off') throw new SmtpError('SMTP_URL starttls must be auto, required or off');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 25,
    secure,
    starttls,
    username: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    verifyTls: url.searchParams.get('tls_verify') !== 'off',
  };
}

interface Reply {
  code: number;
  lines: string[];
}

/** Reads SMTP replies (multi-line `250-…` up to `250 …`) from a socket that may be swapped for TLS. */
class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private socket!: Socket | TLSSocket;

  constructor(socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new SmtpError(`SMTP connection error: ${err.message}`)));
    socket.on('close', () => this.fail(new SmtpError('SMTP connection closed')));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.lines.push(line);
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), lines: this.lines.map((l) => l.slice(4)) };
        this.lines = [];
        const waiter = this.waiting;
        this.waiting = null;
        waiter?.resolve(reply);
      }
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiter = this.waiting;
    this.waiting = null;
    waiter?.reject(err);
  }

  next(): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }
}

function encodeHeader(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

function checkAddress(address: string): string {
  if (!/^[^\s<>]+@[^\s<>]+$/.test(address)) throw new SmtpError(`invalid mail address`);
  return address;
}

/** The message in RFC 5322 form, CRLF line ends, dot-stuffed, without the final `.` line. */
export function formatMessage(m: MailMessage, date = new Date()): string {
  const domain = m.from.split('@')[1] ?? 'localhost';
  const headers = [
    `From: ${checkAddress(m.from)}`,
    `To: ${checkAddress(m.to)}`,
    `Subject: ${encodeHeader(m.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = m.text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  return `${headers.join('\r\n')}\r\n\r\n${body}${body.endsWith('\r\n') ? '' : '\r\n'}`;
}

export async function sendMail(target: SmtpTarget, message: MailMessage, timeoutMs = 30_000): Promise<void> {
  const socket: Socket | TLSSocket = target.secure
    ? tlsConnect({ host: target.host, port: target.port, servername: target.host, rejectUnauthorized: target.verifyTls })
    : netConnect({ host: target.host, port: target.port });
  let current: Socket | TLSSocket = socket;
  const timer = setTimeout(() => current.destroy(new Error('timed out')), timeoutMs);
  const reader = new ReplyReader(socket);
  const expect = async (codes: number[], what: string): Promise<Reply> => {
    const reply = await reader.next();
    if (!codes.includes(reply.code)) throw new SmtpError(`SMTP ${what} refused: ${reply.code} ${reply.lines.join(' ').slice(0, 200)}`);
    return reply;
  };
  const command = async (line: string, codes: number[], what = line.split(' ')[0]!): Promise<Reply> => {
    current.write(`${line}\r\n`);
    return expect(codes, what);
  };
  try {
    await expect([220], 'greeting');
    const helo = hostname() || 'localhost';
    let ehlo = await command(`EHLO ${helo}`, [250]);
    const offers = (capability: string) => ehlo.lines.some((l) => l.toUpperCase().startsWith(capability));
    if (!target.secure && target.starttls !== 'off' && offers('STARTTLS')) {
      await command('STARTTLS', [220]);
      reader.detach();
      const upgraded = tlsConnect({ socket: current as Socket, servername: target.host, rejectUnauthorized: target.verifyTls });
      await new Promise<void>((resolve, reject) => {
        upgraded.once('secureConnect', resolve);
        upgraded.once('error', reject);
      });
      current = upgraded;
      reader.attach(upgraded);
      ehlo = await command(`EHLO ${helo}`, [250]);
    } else if (!target.secure && target.starttls === 'required') {
      throw new SmtpError('the SMTP server does not offer STARTTLS');
    }
    if (target.username !== null) {
      const password = target.password ?? '';
      const auth = ehlo.lines.find((l) => l.toUpperCase().startsWith('AUTH'))?.toUpperCase() ?? '';
      if (auth.includes('PLAIN') || !auth.includes('LOGIN')) {
        const token = Buffer.from(`\u0000${target.username}\u0000${password}`, 'utf8').toString('base64');
        await command(`AUTH PLAIN ${token}`, [235], 'AUTH');
      } else {
        await command('AUTH LOGIN', [334], 'AUTH');
        await command(Buffer.from(target.username, 'utf8').toString('base64'), [334], 'AUTH');
        await command(Buffer.from(password, 'utf8').toString('base64'), [235], 'AUTH');
      }
    }
    await command(`MAIL FROM:<${checkAddress(message.from)}>`, [250]);
    await command(`RCPT TO:<${checkAddress(message.to)}>`, [250, 251]);
    await command('DATA', [354]);
    current.write(`${formatMessage(message)}.\r\n`);
    await expect([250], 'message');
    current.write('QUIT\r\n');
    await reader.next().catch(() => undefined);
  } finally {
    clearTimeout(timer);
    current.end();
    current.destroy();
  }
}
