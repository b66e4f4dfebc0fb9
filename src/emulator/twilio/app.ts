/**
 * The emulator's HTTP API (docs/reference/twilio-emulator.md): Twilio's Messages API under
 * /2010-04-01 with Basic auth and Twilio's validation and errors, and control routes under
 * /emulator to add accounts, inject faults and latency, read what was sent and send inbound texts.
 * Unknown routes answer Twilio's 404 shape and never echo the request (nor its credentials).
 */
import { timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { driveStatuses, postSigned } from './callbacks.js';
import { sid, type EmulatedMessage, type FaultRule, TwilioStore } from './store.js';
import { E164, segmentsOf, twilioError, validateSend, type TwilioError } from './validation.js';

const sendError = (reply: FastifyReply, e: TwilioError) => reply.code(e.status).send(e);

function present(m: EmulatedMessage) {
  return {
    sid: m.sid,
    account_sid: m.account_sid,
    to: m.to,
    from: m.from,
    messaging_service_sid: m.messaging_service_sid,
    body: m.body,
    status: m.status,
    num_segments: String(segmentsOf(m.body)),
    num_media: '0',
    direction: 'outbound-api',
    api_version: '2010-04-01',
    price: null,
    price_unit: 'USD',
    error_code: m.error_code,
    error_message: null,
    date_created: m.date_created,
    date_updated: new Date().toUTCString(),
    date_sent: null,
    uri: `/2010-04-01/Accounts/${m.account_sid}/Messages/${m.sid}.json`,
  };
}

const eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function buildTwilioApp(store: TwilioStore): { app: FastifyInstance; stop(): void } {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
  const stopping = new AbortController();
  // Every message in flight waits on this signal.
  setMaxListeners(0, stopping.signal);
  const pending = new Set<Promise<void>>();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));

  /** The account the Basic credentials authenticate for `accountSid`, or a 401 20003 sent. */
  const authenticate = (request: FastifyRequest, reply: FastifyReply, accountSid: string): boolean => {
    const header = request.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon > 0 ? decoded.slice(0, colon) : '';
    const token = store.accounts.get(user);
    if (token === undefined || !eq(token, decoded.slice(colon + 1)) || user !== accountSid) {
      void sendError(reply.header('www-authenticate', 'Basic realm="Twilio API"'), twilioError(401, 20003, 'Authenticate'));
      return false;
    }
    return true;
  };

  app.post<{ Params: { account: string } }>('/2010-04-01/Accounts/:account/Messages.json', async (request, reply) => {
    const { account } = request.params;
    if (!authenticate(request, reply, account)) return reply;
    const form = (request.body ?? {}) as Record<string, string>;
    if (typeof form !== 'object' || request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') !== true) return sendError(reply, twilioError(400, 21602, 'Message body is required.'));
    const checked = validateSend(form);
    if (!checked.ok) return sendError(reply, checked.error);
    const fault = store.faultFor(checked.send.to);
    if (fault?.outcome === 'reject') return sendError(reply, twilioError(400, fault.error_code ?? 21610, 'Attempt to send to unsubscribed recipient'));
    const m: EmulatedMessage = {
      sid: sid('SM'),
      account_sid: account,
      to: checked.send.to,
      from: checked.send.from,
      messaging_service_sid: checked.send.messagingServiceSid,
      body: checked.send.body,
      status: checked.send.messagingServiceSid && !checked.send.from ? 'accepted' : 'queued',
      error_code: null,
      status_callback: checked.send.statusCallback,
      statuses: [],
      date_created: new Date().toUTCString(),
    };
    m.statuses.push(m.status);
    store.add(m);
    const run = driveStatuses(store, m, fault, stopping.signal).finally(() => pending.delete(run));
    pending.add(run);
    return reply.code(201).send(present(m));
  });

  app.get<{ Params: { account: string; message: string } }>('/2010-04-01/Accounts/:account/Messages/:message', async (request, reply) => {
    const { account } = request.params;
    if (!authenticate(request, reply, account)) return reply;
    const m = store.messages.get(request.params.message.replace(/\.json$/, ''));
    if (!m || m.account_sid !== account) return sendError(reply, twilioError(404, 20404, 'The requested resource was not found'));
    return present(m);
  });

  // Control routes (loopback tooling, like the mail sink's API).
  app.post<{ Body: { account_sid?: string; auth_token?: string } }>('/emulator/accounts', async (request, reply) => {
    const { account_sid, auth_token } = request.body ?? {};
    if (typeof account_sid !== 'string' || !/^AC[0-9a-fA-F]{32}$/.test(account_sid)) return reply.code(400).send({ message: 'account_sid: must be AC followed by 32 hexadecimal digits' });
    if (typeof auth_token !== 'string' || auth_token.length < 16) return reply.code(400).send({ message: 'auth_token: must be at least 16 characters' });
    store.accounts.set(account_sid, auth_token);
    return reply.code(201).send({ account_sid });
  });

  app.get<{ Querystring: { to?: string } }>('/emulator/messages', async (request) => {
    const all = [...store.messages.values()].filter((m) => !request.query.to || m.to === request.query.to);
    return { messages: all.map((m) => ({ ...present(m), statuses: m.statuses })) };
  });

  app.get('/emulator/callbacks', async () => ({ callbacks: store.callbacks }));

  app.put<{ Body: { rules?: FaultRule[]; latency_ms?: number } }>('/emulator/faults', async (request, reply) => {
    const b = request.body ?? {};
    const rules = b.rules ?? [];
    if (!Array.isArray(rules) || rules.some((r) => !r || !['failed', 'undelivered', 'reject'].includes(r.outcome) || (r.to !== undefined && !E164.test(r.to)) || (r.count !== undefined && !(Number.isInteger(r.count) && r.count > 0)) || (r.error_code !== undefined && !Number.isInteger(r.error_code)))) {
      return reply.code(400).send({ message: 'rules: each needs outcome failed|undelivered|reject, optional E.164 to, positive integer count, integer error_code' });
    }
    if (b.latency_ms !== undefined && !(Number.isInteger(b.latency_ms) && b.latency_ms >= 0 && b.latency_ms <= 600_000)) return reply.code(400).send({ message: 'latency_ms: must be an integer from 0 to 600000' });
    store.rules = rules.map((r) => ({ ...r }));
    if (b.latency_ms !== undefined) store.latencyMs = b.latency_ms;
    return { rules: store.rules, latency_ms: store.latencyMs };
  });

  app.post<{ Body: { account_sid?: string; from?: string; to?: string; body?: string; url?: string } }>('/emulator/inbound', async (request, reply) => {
    const b = request.body ?? {};
    const token = typeof b.account_sid === 'string' ? store.accounts.get(b.account_sid) : undefined;
    if (token === undefined) return reply.code(400).send({ message: 'account_sid: not an account of this emulator' });
    if (typeof b.from !== 'string' || !E164.test(b.from)) return reply.code(400).send({ message: 'from: must be an E.164 number' });
    if (typeof b.to !== 'string' || !E164.test(b.to)) return reply.code(400).send({ message: 'to: must be an E.164 number' });
    if (typeof b.body !== 'string' || b.body.length > 1600) return reply.code(400).send({ message: 'body: must be a string of at most 1600 characters' });
    let url: URL;
    try {
      url = new URL(String(b.url));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      return reply.code(400).send({ message: 'url: must be the http(s) URL of the inbound webhook' });
    }
    const messageSid = sid('SM');
    const params = { AccountSid: b.account_sid!, ApiVersion: '2010-04-01', MessageSid: messageSid, SmsMessageSid: messageSid, SmsSid: messageSid, From: b.from, To: b.to, Body: b.body, NumMedia: '0', NumSegments: String(segmentsOf(b.body)) };
    const r = await postSigned(url.toString(), token, params);
    return { message_sid: messageSid, http_status: r.status, ...(r.error ? { error: r.error } : {}) };
  });

  app.setNotFoundHandler((_request, reply) => sendError(reply, twilioError(404, 20404, 'The requested resource was not found')));
  app.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return sendError(reply, twilioError(status, status === 500 ? 20500 : 20001, status === 500 ? 'Internal Server Error' : 'Invalid request'));
  });

  return {
    app,
    stop() {
      stopping.abort();
    },
  };
}
