/**
 * Fastify assembly: parsers and limits, the error catalogue, auth, metrics, OpenAPI, health, and
 * the capability plugins. `buildApp` returns a ready-to-listen instance; `src/server.ts` runs it.
 */
import http from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { isStoreUnavailable, type Db } from '../storage/index.js';
import { KeyAuthenticator } from '../workspaces/index.js';
import { DomainError } from '../errors/index.js';
import { ApiError, apiErrorOf, Errors, type ErrorEntry } from './errors.js';
import { authPlugin } from './auth.js';
import { AuthFailureThrottle } from './auth-throttle.js';
import { CredentialChanges } from './credential-changes.js';
import { metricsPlugin } from './metrics.js';
import { RateLimits } from './rate-limit.js';
import { SharedCounters } from './shared-counters.js';
import { findUnstorableString, UNSTORABLE_MESSAGE, unstorableType } from './storable-strings.js';
import { formatValidationErrors } from './validation-errors.js';
import { checkArrayLimits } from './array-limits.js';
import { ErrorResponses } from './contract.js';

export interface AppServices {
  db: Db;
  config: Config;
  authenticator: KeyAuthenticator;
  /** Shared by every route that checks a secret, so failures anywhere count together. */
  authThrottle: AuthFailureThrottle;
  /** Counters in the database, shared by every process (limits and throttles). */
  counters: SharedCounters;
  /** The REST rate limits (and the partner cohort limit), counted in `counters`. */
  limits: RateLimits;
  /** Revocations made by any process on this database (LISTEN/NOTIFY): drop cached credentials. */
  credentialChanges: CredentialChanges;
}

export type CapabilityPlugin = (app: FastifyInstance, services: AppServices) => Promise<void>;

export interface BuildAppOptions {
  db: Db;
  config: Config;
  /** Capability route plugins, registered in order. */
  capabilities: CapabilityPlugin[];
  logger?: FastifyServerOptions['logger'];
}

/** Paths of secrets that must never reach a log line. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-rivulet-local-admin"]',
  'res.headers["set-cookie"]',
  '*.client_secret',
  '*.partner_api_key',
  '*.api_secret',
  '*.secret',
  '*.password',
  '*.key',
];

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return { level, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } };
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { db, config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    // Behind a load balancer: the client address the throttles count comes from X-Forwarded-For,
    // believed only from these proxies (RIVULET_TRUSTED_PROXIES,
    // docs/access-control.md#failed-authentication).
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: config.limits.bodyBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    connectionTimeout: config.limits.requestTimeoutMs,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: true } },
    schemaErrorFormatter: (errors, dataVar) => formatValidationErrors(errors, dataVar),
    serverFactory: (handler) => createHttpServer(handler, config.limits.requestTimeoutMs),
    // Errors Fastify raises before routing (a URL that does not decode) get the catalogue's shape.
    frameworkErrors: (err, _request, reply) => {
      void (reply as FastifyReply).code(400).send({ message: 'Bad request', errors: [{ type: err.message }] });
    },
    clientErrorHandler: answerClientError,
  });
  // Every route answers errors with the one error body (src/http/contract.ts): declared here once
  // for the routes that do not declare their own, so the OpenAPI document lists it for all of them.
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {});
    const response = (schema.response ??= {}) as Record<string, unknown>;
    for (const [range, body] of Object.entries(ErrorResponses)) {
      const first = range[0]!;
      if (!Object.keys(response).some((code) => code.startsWith(first))) response[range] = body;
    }
  });
  // Only JSON is accepted; Fastify's default text/plain parser would let a string body through.
  app.removeContentTypeParser('text/plain');

  // Bodies with strings PostgreSQL cannot hold are refused whole, unless the route checks its items
  // one by one (partial-success batch routes) and opted out with `itemStrings`.
  app.addHook('preValidation', async (request) => {
    const at =
      findUnstorableString(request.params, 'params') ??
      findUnstorableString(request.query, 'query') ??
      (request.body === undefined || request.routeOptions.config?.itemStrings ? undefined : findUnstorableString(request.body));
    if (at !== undefined) throw new ApiError(400, UNSTORABLE_MESSAGE, [{ type: unstorableType(at), path: at }]);
    // An array over its schema's maxItems, before Ajv walks every item of it (src/http/array-limits.ts).
    if (request.body !== undefined) checkArrayLimits(request.routeOptions.schema?.body, request.body);
  });

  app.setErrorHandler((err: FastifyError | ApiError | Error, request, reply) => {
    const apiError = toApiError(err, request.routeOptions.config?.invalidBodyMessage);
    if (apiError.statusCode >= 500 && apiError.statusCode !== 503) {
      request.log.error({ err }, 'unhandled error');
    } else if (apiError.statusCode === 503) {
      request.log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'store unavailable');
    }
    reply.headers(apiError.headers).status(apiError.statusCode).send(apiError.body());
  });
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    reply.status(404).send({ message: 'Not found', errors: [{ type: 'no such route', path: `${request.method} ${request.url.split('?')[0]}` }] });
  app.setNotFoundHandler(notFound);
  // Answer an unknown route before its body is read: nobody gets the server to parse 4 MiB for nothing.
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return notFound(request, reply);
  });

  const authenticator = new KeyAuthenticator(db);
  const counters = new SharedCounters(db);
  app.addHook('onClose', async () => counters.close());
  const authThrottle = new AuthFailureThrottle(counters, config.limits.authFailuresPerMinute);
  const credentialChanges = await CredentialChanges.watch(db, app.log);
  credentialChanges.on((table) => {
    if (table === undefined || table === 'api_keys') authenticator.invalidate();
  });
  app.addHook('onClose', () => credentialChanges.close());
  const limits = await RateLimits.register(app, counters);
  const services: AppServices = { db, config, authenticator, authThrottle, credentialChanges, counters, limits };

  await app.register(metricsPlugin);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Rivulet API',
        version: '0.1.0',
        description: 'Braze-shaped REST API, partner cohort endpoints, Currents publish API and admin API of Rivulet.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(authPlugin, { authenticator, throttle: authThrottle, rateLimits: config.rateLimits, limits });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  // Not ready while the store cannot take writes (a full disk, a WAL that cannot grow, a lost
  // connection: db.health) or does not answer a SELECT within the store timeout.
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const notReady = (type: string) =>
      reply.status(503).header('retry-after', '1').send({ message: 'Service temporarily unavailable', errors: [{ type }], store: db.kind });
    if (db.health && !db.health.ready) return notReady(`store not ready: ${db.health.reason}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        db.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), config.store.timeoutMs))),
      ]);
      return { status: 'ready', store: db.kind };
    } catch (err) {
      return notReady(err instanceof Error && err.name === 'StoreUnavailableError' ? err.message : 'store unreachable');
    } finally {
      clearTimeout(timer);
    }
  });

  for (const capability of opts.capabilities) {
    await app.register(async (scope) => capability(scope, services));
  }
  return app;
}

/**
 * Node's HTTP server with the slow-client limits enforced promptly: the whole request (headers
 * included) must arrive within `timeoutMs`, checked every quarter of it, not Node's default 30 s.
 */
function createHttpServer(handler: http.RequestListener, timeoutMs: number): http.Server {
  const server = http.createServer(
    {
      requestTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeoutMs / 4))),
      keepAliveTimeout: 72_000,
    },
    handler,
  );
  // Node answers an unknown `Expect` with an empty 417 by itself; give it the catalogue's shape.
  server.on('checkExpectation', (req, res) => {
    const body = JSON.stringify({ message: 'Expectation failed', errors: [{ type: `unsupported Expect: ${String(req.headers.expect).slice(0, 100)}` }] });
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  return server;
}

const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request header fields too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout'],
};

/** Malformed HTTP never reaches Fastify's handlers; answer it in the catalogue's JSON shape too. */
function answerClientError(err: Error & { code?: string }, socket: import('node:net').Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERROR_STATUS[err.code ?? ''] ?? [400, 'Bad request'];
  const body = JSON.stringify({ message, errors: [{ type: err.code ? `malformed request (${err.code})` : 'malformed request' }] });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function toApiError(err: FastifyError | ApiError | Error, invalidBodyMessage?: string): ApiError {
  if (err instanceof ApiError || err instanceof DomainError) return apiErrorOf(err);
  if (isStoreUnavailable(err)) return storeUnavailable(err);
  const fe = err as FastifyError & { validation?: unknown; validationContext?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? Errors.unsupportedMediaType() : Errors.badRequest('Invalid Content-Length');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.tooLarge();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidBody(invalidBodyMessage, 'the body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY': {
      // The parser's own reason (a syntax error, a forbidden __proto__ key) is the useful part.
      const cause = (fe as { cause?: { message?: unknown } }).cause?.message;
      return invalidBody(invalidBodyMessage, typeof cause === 'string' ? cause.slice(0, 200) : 'the body does not parse');
    }
  }
  if ((fe as { notAnObject?: boolean }).notAnObject) return invalidBody(invalidBodyMessage, 'the body must be a JSON object');
  if (fe.validation && Array.isArray(fe.validation)) {
    const { entries, errorCount } = fe as { entries?: ErrorEntry[]; errorCount?: number };
    return new ApiError(400, fe.message, entries ?? [{ type: fe.message }], {}, errorCount);
  }
  // Fastify's JSON parser reports syntax errors and prototype poisoning with a 400.
  if (fe.statusCode === 400 || err instanceof SyntaxError) return invalidBody(invalidBodyMessage, fe.message);
  if (fe.statusCode === 413) return Errors.tooLarge();
  if (fe.statusCode === 415) return Errors.unsupportedMediaType();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, fe.message);
  }
  return new ApiError(500, 'Internal server error');
}

/** 503 with the reason when it is one the operator can act on (disk full, store not answering). */
function storeUnavailable(err: Error): ApiError {
  const code = (err as { code?: unknown }).code;
  const reason =
    err.name === 'StoreUnavailableError'
      ? err.message
      : code === '53100'
        ? 'the store is out of disk space'
        : code === '57014'
          ? 'the store did not answer in time (statement timeout)'
          : undefined;
  if (!reason) return Errors.unavailable();
  return new ApiError(503, 'Service temporarily unavailable', [{ type: `${reason}; retry later` }], { 'retry-after': '1' });
}

function invalidBody(message: string | undefined, detail: string): ApiError {
  if (message) return new ApiError(400, message, [{ type: message }]);
  return Errors.invalidJson(detail);
}
