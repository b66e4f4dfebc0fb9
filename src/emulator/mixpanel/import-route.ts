/**
 * `POST /import` over HTTP. Checks run in the order of docs/reference/mixpanel-apis.md §2: injected faults
 * (they stand for the network and the load balancer, so they come first), auth, rate limit, then
 * the body. Auth and rate limit answer before the body is read; the body is collected raw, with
 * no parser, because size, encoding and format are the emulator's own checks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from './auth.js';
import { maxWireBytes } from './body.js';
import type { MixpanelEmulator } from './emulator.js';
import { handleImport, isStrict, legacyReply } from './import-handler.js';
import { importError, MESSAGES } from './responses.js';

interface ImportQuery {
  project_id?: string;
  strict?: string;
  /** The events of a `GET /import` (JSON or base64 of it). */
  data?: string;
  verbose?: string;
  /** The legacy way to pass a project's API secret (or token), used by the official Node client over plain HTTP. */
  api_key?: string;
}

const projectOf = new WeakMap<FastifyRequest, string>();

function faultMessage(status: number, maxBodyBytes: number): string {
  switch (status) {
    case 401:
      return MESSAGES.unauthorized;
    case 403:
      return MESSAGES.forbidden;
    case 413:
      return MESSAGES.tooLarge(maxBodyBytes);
    case 429:
      return MESSAGES.rateLimited;
    default:
      return MESSAGES.injected;
  }
}

function tooLargeError(): Error {
  return Object.assign(new Error('body too large'), { statusCode: 413 });
}

export async function importRoutes(app: FastifyInstance, opts: { emulator: MixpanelEmulator }): Promise<void> {
  const { emulator } = opts;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    const gzipped = /gzip/i.test(String(request.headers['content-encoding'] ?? ''));
    const limit = gzipped ? maxWireBytes(emulator.settings.maxBodyBytes) : emulator.settings.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      done(err, body);
    };
    payload.on('data', (chunk: Buffer) => {
      if (finished) return;
      size += chunk.length;
      if (size > limit) finish(tooLargeError());
      else chunks.push(chunk);
    });
    payload.on('end', () => finish(null, Buffer.concat(chunks, size)));
    payload.on('error', (err) => finish(err));
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode === 413 ? 413 : err.statusCode && err.statusCode < 500 ? 400 : 500;
    const message = status === 413 ? MESSAGES.tooLarge(emulator.settings.maxBodyBytes) : status === 400 ? err.message : 'internal error';
    if (status === 500) request.log.error(err);
    return reply.code(status).send(importError(status, message));
  });

  app.addHook('onResponse', async (request, reply) => {
    emulator.recordRequest(projectOf.get(request) ?? null, reply.statusCode);
  });

  const refuse = (reply: FastifyReply, status: number, error: string, retryAfter: string | null = null) => {
    if (retryAfter !== null) reply.header('retry-after', retryAfter);
    return reply.code(status).send(importError(status, error));
  };

  /** The Basic header, or one made from `?api_key=` when there is none (the key as username). */
  const authorizationOf = (request: FastifyRequest<{ Querystring: ImportQuery }>): string | undefined => {
    const header = request.headers.authorization;
    const key = request.query.api_key;
    if (header !== undefined || typeof key !== 'string' || key === '') return header;
    return `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  };

  const isOn = (value: unknown) => value === '1' || value === 'true';

  const options = {
    onRequest: async (request: FastifyRequest<{ Querystring: ImportQuery }>, reply: FastifyReply) => {
      const now = emulator.now();
      const auth = authenticate(emulator.registry, authorizationOf(request), request.query.project_id, now);
      if (auth.ok) projectOf.set(request, auth.projectId);
      const fault = emulator.faults.decide(auth.ok ? auth.projectId : null, now);
      if (fault.latencyMs > 0) await sleep(fault.latencyMs);
      if (fault.status !== null) return refuse(reply, fault.status, faultMessage(fault.status, emulator.settings.maxBodyBytes), fault.retryAfter);
      if (!auth.ok) return refuse(reply, auth.status, auth.status === 401 ? MESSAGES.unauthorized : MESSAGES.forbidden);
      if (emulator.rateLimit.exceeded(auth.projectId, emulator.now())) return refuse(reply, 429, MESSAGES.rateLimited);
    },
  };

  app.post<{ Querystring: ImportQuery }>('/import', options, async (request, reply) => {
    const result = await handleImport(emulator, {
      projectId: projectOf.get(request)!,
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      contentType: request.headers['content-type'],
      contentEncoding: request.headers['content-encoding'],
      strict: isStrict(request.query.strict),
    });
    if (result.form) return reply.code(result.status).send(legacyReply(result, isOn(request.query.verbose ?? result.form.get('verbose'))));
    return reply.code(result.status).send(result.body);
  });

  // The older form: the events, JSON or base64 of it, in `?data=`.
  app.get<{ Querystring: ImportQuery }>('/import', options, async (request, reply) => {
    const result = await handleImport(emulator, {
      projectId: projectOf.get(request)!,
      body: Buffer.alloc(0),
      contentType: undefined,
      contentEncoding: undefined,
      strict: isStrict(request.query.strict),
      queryData: typeof request.query.data === 'string' ? request.query.data : '',
    });
    return reply.code(result.status).send(legacyReply(result, isOn(request.query.verbose)));
  });
}
