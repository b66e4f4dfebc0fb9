/**
 * The sink's SMTP side (`smtp-server`): accepts every message, or answers a chosen recipient with
 * the 4xx / 5xx a rule gives, as a real receiving server would. Optional AUTH with one fixed
 * account, so a transport's credentials can be tested; no TLS (a local development sink).
 */
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import type { SinkStore } from './store.js';

export interface SmtpSinkOptions {
  /** When set, AUTH must use this account; otherwise AUTH is optional and any account passes. */
  auth?: { user: string; pass: string };
  /** Largest message accepted (bytes); larger ones get 552. */
  maxMessageBytes?: number;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

export function createSmtpSink(store: SinkStore, opts: SmtpSinkOptions = {}): SMTPServer {
  const maxBytes = opts.maxMessageBytes ?? 25 * 1024 * 1024;
  return new SMTPServer({
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    size: maxBytes,
    logger: false,
    banner: 'Rivulet mail sink',
    // A client holding a pooled connection open must not keep `close` waiting.
    closeTimeout: 1_000,
    onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback) {
      if (!opts.auth || (auth.username === opts.auth.user && auth.password === opts.auth.pass)) return callback(null, { user: auth.username });
      callback(smtpError('Invalid username or password', 535));
    },
    onMailFrom(_address, session, callback) {
      if (opts.auth && !session.user) return callback(smtpError('Authentication required', 530));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const failure = store.failureFor(address.address);
      callback(failure ? smtpError(failure.message, failure.code) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', callback);
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) return callback(smtpError(`Message exceeds the fixed limit of ${maxBytes} bytes`, 552));
        const mailFrom = session.envelope.mailFrom;
        const message = store.add({ from: mailFrom ? mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        callback(null, `Ok: queued as ${message.id}`);
      });
    },
  });
}
