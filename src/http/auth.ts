/**
 * Route-level authentication and rate limiting, declared in each route's `config`:
 * `{ permission: 'users.track', rateLimit: 'track' }`. Runs in `onRequest`, before the body is
 * read, so an unauthenticated client cannot make the server parse 4 MiB.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import type { KeyAuthenticator } from '../workspaces/authenticator.js';
import type { Permission } from '../workspaces/keys.js';
import type { ApiKeyRecord } from '../workspaces/store.js';
import type { AuthFailureThrottle } from './auth-throttle.js';
import { Errors } from './errors.js';
import { RateLimiter } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    /** Which configured limit this route counts against; routes sharing a name share a window. */
    rateLimit?: keyof Config['rateLimits'];
    /** The 400 message for a body that is not JSON (routes whose contract words it differently). */
    invalidBodyMessage?: string;
    /** The handler checks each item's strings itself (partial success), so the body is not refused whole. */
    itemStrings?: boolean;
  }
  interface FastifyRequest {
    apiKey: ApiKeyRecord | undefined;
  }
}

/**
 * Authenticates a request that carries no `Authorization` header on an `admin` route: the
 * dashboard's session cookie (src/web/server). Returns the key the session acts as, undefined for
 * no session, or throws (a CSRF failure). Registered per authenticator, so test servers in one
 * process stay apart.
 */
export type SessionAuthenticator = (request: FastifyRequest) => Promise<ApiKeyRecord | undefined>;
const sessionAuthenticators = new WeakMap<KeyAuthenticator, SessionAuthenticator>();

export function acceptDashboardSessions(authenticator: KeyAuthenticator, authenticate: SessionAuthenticator): void {
  sessionAuthenticators.set(authenticator, authenticate);
}

export interface AuthOptions {
  authenticator: KeyAuthenticator;
  throttle: AuthFailureThrottle;
  rateLimits: Config['rateLimits'];
  limiter?: RateLimiter;
}

/** The authenticated key of a route that declared a permission. */
export function requireKey(request: FastifyRequest): ApiKeyRecord {
  if (!request.apiKey) throw Errors.unauthorized();
  return request.apiKey;
}

export const authPlugin = fp(async function auth(app: FastifyInstance, opts: AuthOptions) {
  const limiter = opts.limiter ?? new RateLimiter();
  app.decorateRequest('apiKey', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const cfg = request.routeOptions.config;
    if (!cfg?.permission) return;
    opts.throttle.check(request.ip);
    let key = await opts.authenticator.authenticate(request.headers.authorization);
    if (!key && request.headers.authorization === undefined && cfg.permission === 'admin') {
      key = await sessionAuthenticators.get(opts.authenticator)?.(request);
    }
    if (!key) {
      opts.throttle.recordFailure(request.ip);
      throw Errors.unauthorized();
    }
    if (!key.permissions.includes(cfg.permission)) {
      throw Errors.forbidden(cfg.permission);
    }
    request.apiKey = key;
    if (cfg.rateLimit) {
      const decision = limiter.hit(`${key.id}:${cfg.rateLimit}`, opts.rateLimits[cfg.rateLimit]);
      reply.headers(decision.headers);
      if (!decision.allowed) throw Errors.rateLimited(decision.headers);
    }
  });
});
