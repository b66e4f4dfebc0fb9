/**
 * Drains the notification outbox on a timer: by SMTP when `SMTP_URL` is set, otherwise into the
 * log, so an operator without a mail server still sees every notice (docs/reference/operations.md).
 * Mail goes through nodemailer, the transport email campaigns use too (STARTTLS when offered;
 * `smtps://` for implicit TLS); credentials stay in the URL and out of logs and errors.
 */
import type { Queryable } from '../../storage/index.js';
import type { CurrentsLog } from '../log.js';
import { drainDue, type OutboxMessage } from './outbox.js';
import nodemailer from 'nodemailer';

export interface NotificationSenderOptions {
  smtpUrl: string | undefined;
  smtpFrom: string;
  pollMs: number;
}

export function notificationTransport(opts: NotificationSenderOptions, log: CurrentsLog): (m: OutboxMessage) => Promise<'smtp' | 'log'> {
  if (!opts.smtpUrl) {
    return async (m) => {
      log.info({ notification: { id: m.id, kind: m.kind, to: m.recipient, subject: m.subject, body: m.body } }, 'notification (SMTP_URL is unset, so it is logged instead of mailed)');
      return 'log';
    };
  }
  const transport = nodemailer.createTransport({ url: opts.smtpUrl, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000, logger: false } as Parameters<typeof nodemailer.createTransport>[0]);
  return async (m) => {
    try {
      await transport.sendMail({ from: opts.smtpFrom, to: m.recipient, subject: m.subject, text: m.body });
    } catch (err) {
      // nodemailer's errors carry the server's reply, never the URL's password; keep only that.
      const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
      throw new Error(`SMTP delivery failed: ${e.response ?? e.code ?? e.message ?? 'unknown error'}`);
    }
    log.info({ notification: { id: m.id, kind: m.kind, to: m.recipient } }, 'notification mailed');
    return 'smtp';
  };
}

/** Starts the drain loop; the returned function stops it and waits for a drain in progress. */
export function startNotificationSender(db: Queryable, opts: NotificationSenderOptions, log: CurrentsLog): () => Promise<void> {
  const deliver = notificationTransport(opts, log);
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    running = drainDue(db, deliver)
      .then((r) => {
        if (r.failed > 0) log.warn({ failed: r.failed }, 'notifications could not be sent; will retry');
      })
      .catch((err: unknown) => log.error({ err: { message: (err as Error).message } }, 'notification outbox drain failed'));
  };
  const timer = setInterval(tick, opts.pollMs);
  timer.unref();
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
