/**
 * The push emulator's HTTP API (docs/reference/push.md §5). A push service's side of RFC 8030:
 * `POST /push/{id}` with `TTL`, `Content-Encoding: aes128gcm` and `Authorization: vapid t=…, k=…`
 * (RFC 8292) → the JWT is verified (signature, `aud` = this origin, `exp`, `sub`), the body is
 * decrypted with the subscription's private key, the message kept, 201 with its Location.
 * Control routes under /emulator: hand out subscriptions (what the browser's PushManager would),
 * unsubscribe, list messages and requests, set faults and latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { decryptAes128gcm, DecryptError, makeSubscriptionKeys, verifyVapid } from './crypto.js';
import { PushStore, type EmulatedSubscription, type PushFaultRule } from './store.js';

/** RFC 8030 lets a service refuse larger bodies; 4096 is what every service must accept (RFC 8291 §4). */
export const MAX_PUSH_BODY = 4096;

const view = (store: PushStore, s: EmulatedSubscription) => ({
  id: s.id,
  gone: s.gone,
  subscription: { endpoint: store.endpointOf(s.id), expirationTime: null, keys: { p256dh: s.keys.publicKey.toString('base64url'), auth: s.keys.auth.toString('base64url') } },
});

export function buildPushApp(store: PushStore): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  // Push bodies are binary (aes128gcm); every other content type is read as bytes too.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, (body as string).length ? JSON.parse(body as string) : {});
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const refuse = (reply: FastifyReply, id: string, status: number, reason: string) => {
    store.record(id, status, reason);
    return reply.code(status).send({ code: status, errno: status, error: reason, message: reason });
  };

  app.post<{ Params: { id: string } }>('/push/:id', async (request, reply) => {
    const { id } = request.params;
    if (store.latencyMs > 0) await sleep(store.latencyMs);
    const sub = store.subscriptions.get(id);
    if (!sub) return refuse(reply, id, 404, 'no such subscription');
    if (sub.gone) return refuse(reply, id, 410, 'the subscription has expired or was unsubscribed');
    const fault = store.takeFault(id);
    if (fault) {
      if (fault.retry_after !== undefined) reply.header('retry-after', String(fault.retry_after));
      return refuse(reply, id, fault.status, `injected fault ${fault.status}`);
    }
    const vapid = verifyVapid(request.headers.authorization, Math.floor(Date.now() / 1000));
    if (!vapid.ok) return refuse(reply, id, 401, vapid.error);
    if (vapid.claims.aud !== store.origin) return refuse(reply, id, 403, `the JWT aud ${vapid.claims.aud} is not this push service's origin ${store.origin}`);
    if (sub.applicationServerKey && sub.applicationServerKey !== vapid.claims.publicKey) return refuse(reply, id, 403, 'k is not the applicationServerKey this subscription was made for');
    const ttlHeader = request.headers.ttl;
    const ttl = typeof ttlHeader === 'string' && /^\d+$/.test(ttlHeader) ? Number(ttlHeader) : NaN;
    if (!Number.isFinite(ttl)) return refuse(reply, id, 400, 'the TTL header is required (RFC 8030 §5.2)');
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (body.length > MAX_PUSH_BODY) return refuse(reply, id, 413, `the body has ${body.length} bytes; at most ${MAX_PUSH_BODY}`);
    let payload = '';
    if (body.length > 0) {
      if (request.headers['content-encoding'] !== 'aes128gcm') return refuse(reply, id, 415, 'Content-Encoding must be aes128gcm (RFC 8291)');
      try {
        payload = decryptAes128gcm(body, sub.keys).toString('utf8');
      } catch (err) {
        if (err instanceof DecryptError) return refuse(reply, id, 400, `cannot decrypt: ${err.message}`);
        throw err;
      }
    }
    const urgency = request.headers.urgency;
    const topic = request.headers.topic;
    const message = {
      id: randomUUID(),
      subscription_id: id,
      received_at: new Date().toISOString(),
      ttl,
      urgency: typeof urgency === 'string' ? urgency : null,
      topic: typeof topic === 'string' ? topic : null,
      payload,
      vapid: { aud: vapid.claims.aud, sub: vapid.claims.sub, exp: vapid.claims.exp, public_key: vapid.claims.publicKey },
    };
    store.messages.push(message);
    store.record(id, 201, null);
    return reply.code(201).header('location', `${store.origin}/emulator/messages/${message.id}`).send();
  });

  app.post('/emulator/subscriptions', async (request, reply) => {
    const body = (request.body ?? {}) as { application_server_key?: unknown };
    const key = body.application_server_key;
    if (key !== undefined && (typeof key !== 'string' || Buffer.from(key, 'base64url').length !== 65)) {
      return reply.code(400).send({ message: 'application_server_key must be base64url of a 65-byte P-256 public key' });
    }
    const s = store.add(makeSubscriptionKeys(), typeof key === 'string' ? Buffer.from(key, 'base64url').toString('base64url') : null);
    return reply.code(201).send(view(store, s));
  });

  app.get('/emulator/subscriptions', async () => ({ subscriptions: [...store.subscriptions.values()].map((s) => view(store, s)) }));

  app.delete<{ Params: { id: string } }>('/emulator/subscriptions/:id', async (request, reply) => {
    const s = store.subscriptions.get(request.params.id);
    if (!s) return reply.code(404).send({ message: 'no such subscription' });
    s.gone = true;
    return reply.code(204).send();
  });

  app.get<{ Querystring: { subscription?: string } }>('/emulator/messages', async (request) => {
    const sub = request.query.subscription;
    return { messages: sub ? store.messages.filter((m) => m.subscription_id === sub) : store.messages };
  });

  app.get<{ Params: { id: string } }>('/emulator/messages/:id', async (request, reply) => {
    const m = store.messages.find((x) => x.id === request.params.id);
    return m ?? reply.code(404).send({ message: 'no such message' });
  });

  app.get<{ Querystring: { subscription?: string } }>('/emulator/requests', async (request) => {
    const sub = request.query.subscription;
    return { requests: sub ? store.requests.filter((r) => r.subscription_id === sub) : store.requests };
  });

  app.get('/emulator/faults', async () => ({ rules: store.faults, latency_ms: store.latencyMs }));

  app.put('/emulator/faults', async (request, reply) => {
    const body = (request.body ?? {}) as { rules?: unknown; latency_ms?: unknown };
    const rules = body.rules ?? [];
    if (!Array.isArray(rules)) return reply.code(400).send({ message: 'rules must be an array' });
    const checked: PushFaultRule[] = [];
    for (const [i, r] of rules.entries()) {
      const rule = r as Partial<PushFaultRule>;
      if (typeof rule.subscription !== 'string' || !Number.isInteger(rule.status) || rule.status! < 400 || rule.status! > 599) {
        return reply.code(400).send({ message: `rules[${i}]: needs subscription (an id) and status (400-599)` });
      }
      if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 0)) return reply.code(400).send({ message: `rules[${i}].times must be a non-negative integer` });
      checked.push({ subscription: rule.subscription, status: rule.status!, ...(rule.times !== undefined ? { times: rule.times } : {}), ...(typeof rule.retry_after === 'number' ? { retry_after: rule.retry_after } : {}) });
    }
    if (body.latency_ms !== undefined && (!Number.isInteger(body.latency_ms) || (body.latency_ms as number) < 0 || (body.latency_ms as number) > 600_000)) {
      return reply.code(400).send({ message: 'latency_ms must be an integer between 0 and 600000' });
    }
    store.faults = checked;
    if (body.latency_ms !== undefined) store.latencyMs = body.latency_ms as number;
    return { rules: store.faults, latency_ms: store.latencyMs };
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ message: 'not found' }));
  return app;
}
