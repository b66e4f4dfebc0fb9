/**
 * SMTP delivery through nodemailer's pooled transport, one pool per SMTP URL (docs/reference/email.md
 * §4). `SMTP_URL` is the default server; a workspace may name its own. Credentials live in the URL
 * and never reach a log.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { ComposedEmail } from './compose.js';
import { classifySmtp, type SmtpOutcome } from './outcome.js';

export interface SmtpSettings {
  /** `smtp://user:pass@host:port` or `smtps://…`. */
  url: string;
  /** Connections kept open to the server. */
  maxConnections?: number;
  /** Per-connection timeouts (ms). */
  timeoutMs?: number;
}

export class SmtpTransports {
  private readonly pools = new Map<string, Transporter>();

  get(settings: SmtpSettings): Transporter {
    let t = this.pools.get(settings.url);
    if (!t) {
      const timeout = settings.timeoutMs ?? 60_000;
      t = nodemailer.createTransport({
        url: settings.url,
        pool: true,
        maxConnections: settings.maxConnections ?? 5,
        maxMessages: Infinity,
        connectionTimeout: Math.min(timeout, 30_000),
        greetingTimeout: Math.min(timeout, 30_000),
        socketTimeout: timeout,
        logger: false,
      } as Parameters<typeof nodemailer.createTransport>[0]);
      this.pools.set(settings.url, t);
    }
    return t;
  }

  async send(settings: SmtpSettings, email: ComposedEmail): Promise<SmtpOutcome> {
    try {
      const info = await this.get(settings).sendMail({
        from: email.from.name ? { name: email.from.name, address: email.from.address } : email.from.address,
        to: email.to,
        replyTo: email.replyTo,
        subject: email.subject,
        text: email.text,
        html: email.html,
        messageId: email.messageId,
        headers: email.headers,
      });
      return classifySmtp(info as { response?: string });
    } catch (err) {
      return classifySmtp(undefined, err);
    }
  }

  close(): void {
    for (const t of this.pools.values()) t.close();
    this.pools.clear();
  }
}
