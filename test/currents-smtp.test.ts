/**
 * Connector notices by mail: the outbox transport sends over real SMTP (nodemailer) to the mail
 * sink, with AUTH; a refused recipient fails without the password in the error; with SMTP_URL unset
 * the notice is logged instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationTransport } from '../src/currents/notifications/sender.js';
import { startMailSink, type RunningMailSink } from '../src/emulator/mail-sink/index.js';

let sink: RunningMailSink;
const notice = { id: 7, connectorId: 'c', workspaceId: 'w', kind: 'connector_recovered' as const, recipient: 'ops@example.com', subject: 'Recovered', body: 'Delivering again.\n.\nStill here.', attempts: 0 };
const quiet = (into: unknown[]) => ({ info: (o: unknown) => into.push(o), warn() {}, error() {} });

beforeAll(async () => {
  sink = await startMailSink({ auth: { user: 'mailer', pass: 'TOPSECRET' } });
});
afterAll(() => sink?.close());

describe('connector notices by mail', () => {
  it('mails outbox notices over SMTP with AUTH when SMTP_URL is set, and never logs the password', async () => {
    const logged: unknown[] = [];
    const url = sink.smtpUrl.replace('smtp://', 'smtp://mailer:TOPSECRET@');
    const deliver = notificationTransport({ smtpUrl: url, smtpFrom: 'rivulet@example.com', pollMs: 1000 }, quiet(logged));
    expect(await deliver(notice)).toBe('smtp');
    const [m] = sink.store.list({ to: 'ops@example.com', limit: 1 }).messages;
    expect(m).toMatchObject({ from: 'rivulet@example.com', subject: 'Recovered' });
    expect(m!.raw!.toString()).toContain('Delivering again.\r\n.\r\nStill here.'); // a lone dot survives (dot-stuffing)
    expect(JSON.stringify(logged)).not.toContain('TOPSECRET');
  });

  it('fails on a refused recipient or a wrong password without putting the password in the error', async () => {
    sink.store.setRules([{ address: 'gone@example.com', code: 550, message: 'No such user' }]);
    const url = sink.smtpUrl.replace('smtp://', 'smtp://mailer:TOPSECRET@');
    const refused = await notificationTransport({ smtpUrl: url, smtpFrom: 'r@example.com', pollMs: 1000 }, quiet([]))({ ...notice, recipient: 'gone@example.com' }).catch((e: Error) => e);
    expect(String(refused)).toContain('550');
    expect(String(refused)).not.toContain('TOPSECRET');
    const wrong = await notificationTransport({ smtpUrl: sink.smtpUrl.replace('smtp://', 'smtp://mailer:WRONGSECRET@'), smtpFrom: 'r@example.com', pollMs: 1000 }, quiet([]))(notice).catch((e: Error) => e);
    expect(String(wrong)).toContain('535');
    expect(String(wrong)).not.toContain('WRONGSECRET');
    await expect(notificationTransport({ smtpUrl: 'smtp://127.0.0.1:1', smtpFrom: 'r@example.com', pollMs: 1000 }, quiet([]))(notice)).rejects.toThrow(/SMTP delivery failed/);
    sink.store.setRules([]);
  });

  it('logs notices when SMTP_URL is unset', async () => {
    const logged: unknown[] = [];
    const deliver = notificationTransport({ smtpUrl: undefined, smtpFrom: 'r@x', pollMs: 1000 }, quiet(logged));
    const via = await deliver({ ...notice, id: 1, kind: 'connector_failed', subject: 'S', body: 'B' });
    expect(via).toBe('log');
    expect(logged).toEqual([{ notification: { id: 1, kind: 'connector_failed', to: 'ops@example.com', subject: 'S', body: 'B' } }]);
  });
});
