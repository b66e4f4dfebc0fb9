/**
 * Fastify assembly: parsers and limits, the error catalogue, auth, metrics, OpenAPI, health, and
 * the capability plugins. `buildApp` returns a ready-to-listen instance; `src/server.ts` runs it.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { isStoreUnavailable, type Db } from '../storage/index.js';
import { KeyAuthenticator } from '../workspaces/authenticator.js';
import { ApiError, Errors, type ErrorEntry } from './errors.js';
import { authPlugin } from './auth.js';
import { AuthFailureThrottle } from './auth-throttle.js';
import { metricsPlugin } from './metrics.js';
import { formatValidationErrors } from './validation-errors.js';

export interface AppServices {
  db: Db;
  config: Config;
  authenticator: KeyAuthenticator;
  /** Shared by every route that checks a secret, so failures anywhere count together. */
  authThrottle: AuthFailureThrottle;
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
    bodyLimit: config.limits.bodyBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    connectionTimeout: config.limits.requestTimeoutMs,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: true } },
    schemaErrorFormatter: (errors, dataVar) => formatValidationErrors(errors, dataVar),
  });
  // Only JSON is accepted; Fastify's default text/plain parser would let a string body through.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: FastifyError | ApiError | Error, request, reply) => {
    const apiError = toApiError(err, request.routeOptions.config?.invalidBodyMessage);
    if (apiError.statusCode >= 500 && apiError.statusCode !== 503) {
      request.log.error({ err }, 'unhandled error');
    } else if (apiError.statusCode === 503) {
      request.log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'store unavailable');
    }
    reply.headers(apiError.headers).status(apiError.statusCode).send(apiError.body());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ message: 'Not found', errors: [{ type: 'no such route', path: `${request.method} ${request.url.split('?')[0]}` }] });
  });

  const authenticator = new KeyAuthenticator(db);
  const authThrottle = new AuthFailureThrottle(config.limits.authFailuresPerMinute);
  const services: AppServices = { db, config, authenticator, authThrottle };

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
  await app.register(authPlugin, { authenticator, throttle: authThrottle, rateLimits: config.rateLimits });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await db.query('SELECT 1');
      return { status: 'ready', store: db.kind };
    } catch {
      return reply.status(503).send({ message: 'Service temporarily unavailable', errors: [{ type: 'store unreachable' }] });
    }
  });

  for (const capability of opts.capabilities) {
    await app.register(async (scope) => capability(scope, services));
  }
  return app;
}

function toApiError(err: FastifyError | ApiError | Error, invalidBodyMessage?: string): ApiError {
  if (err instanceof ApiError) return err;
  if (isStoreUnavailable(err)) return Errors.unavailable();
  const fe = err as FastifyError & { validation?: unknown; validationContext?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? Errors.unsupportedMediaType() : Errors.badRequest('Invalid Content-Length');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.tooLarge();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidBody(invalidBodyMessage, fe.message);
  }
  if ((fe as { notAnObject?: boolean }).notAnObject) return invalidBody(invalidBodyMessage, 'the body must be a JSON object');
  if (fe.validation && Array.isArray(fe.validation)) {
    const entries = (fe as { entries?: ErrorEntry[] }).entries;
    return new ApiError(400, fe.message, entries ?? [{ type: fe.message }]);
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

function invalidBody(message: string | undefined, detail: string): ApiError {
  if (message) return new ApiError(400, message, [{ type: message }]);
  return Errors.invalidJson(detail.replace(/^Body is not valid JSON but content-type is set to 'application\/json'$/, 'empty body'));
}
