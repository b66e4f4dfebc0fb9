/**
 * The mail sink: an SMTP server and an HTTP API in one, to develop and test email against as the
 * Mixpanel emulator is for Mixpanel (docs/reference/mail-sink.md). `rivulet mail-sink` runs it.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildMailSinkApp } from './app.js';
import { createSmtpSink, type SmtpSinkOptions } from './smtp.js';
import { DEFAULT_RAW_LIMIT, SinkStore } from './store.js';

export { SinkStore, indexHeaders, type FailureRule, type SinkMessage } from './store.js';
export { linksOf } from './app.js';

export interface StartMailSinkOptions extends SmtpSinkOptions {
  host?: string;
  /** 0 picks a free port (both default to 0). */
  smtpPort?: number;
  httpPort?: number;
  /** Keep the raw text of this many newest messages. */
  rawLimit?: number;
}

export interface RunningMailSink {
  /** `smtp://host:port`, to give a transport. */
  smtpUrl: string;
  smtpPort: number;
  /** The HTTP API's base URL. */
  url: string;
  store: SinkStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startMailSink(opts: StartMailSinkOptions = {}): Promise<RunningMailSink> {
  const host = opts.host ?? '127.0.0.1';
  const store = new SinkStore(opts.rawLimit ?? DEFAULT_RAW_LIMIT);
  const smtp = createSmtpSink(store, opts);
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(opts.smtpPort ?? 0, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  const app = buildMailSinkApp(store);
  try {
    await app.listen({ port: opts.httpPort ?? 0, host });
  } catch (err) {
    await new Promise<void>((r) => smtp.close(() => r()));
    throw err;
  }
  const httpPort = (app.server.address() as AddressInfo).port;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    smtpUrl: `smtp://${h}:${smtpPort}`,
    smtpPort,
    url: `http://${h}:${httpPort}`,
    store,
    app,
    async close() {
      await app.close();
      await new Promise<void>((r) => smtp.close(() => r()));
    },
  };
}
