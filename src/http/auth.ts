/**
 * Route-level authentication and rate limiting, declared in each route's `config`:
 * `{ permission: 'users.track', rateLimitName: 'track' }`. Runs in `onRequest`, before the body is
 * read, so an unauthenticated client cannot make the server parse 4 MiB.
 *
 * A key found in the authenticator's cache passes without the failure throttle; any other Bearer
 * key takes a failure slot of (address, key prefix) first and gives it back when it is valid
 * (src/http/auth-throttle.ts, bearerKeys below). The rate limit is then counted per key
 * (src/http/rate-limit.ts).
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { bearerToken, type ApiKeyRecord, type KeyAuthenticator, type Permission } from '../workspaces/index.js';
import { credentialPrefix, type AuthFailureThrottle } from './auth-throttle.js';
import { Errors } from './errors.js';
import type { RateLimitName, RateLimits } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    /** Which configured limit this route counts against; routes sharing a name share a window. */
    rateLimitName?: RateLimitName;
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
 * process stay apart. Session cookies are not counted by the failure throttle: a stale cookie
 * after sign-out is ordinary, and must not throttle the fresh one of the next sign-in.
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
  limits: RateLimits;
}

/** The authenticated key of a route that declared a permission. */
export function requireKey(request: FastifyRequest): ApiKeyRecord {
  if (!request.apiKey) throw Errors.unauthorized();
  return request.apiKey;
}

/**
 * The key for a Bearer token. A cached valid key passes at once. Otherwise the check takes a failure
 * slot of (address, prefix), looks the key up and gives the slot back when it is valid. Requests
 * with the same token that arrive while one check runs wait for it, so the first parallel burst of
 * a valid key takes one slot, not one per request; only if that check fails does each make its own.
 */
function bearerKeys(opts: AuthOptions) {
  const inflight = new Map<string, Promise<ApiKeyRecord | undefined>>();
  const check = async (request: FastifyRequest, token: string | undefined) => {
    const slot = await opts.throttle.reserve(request.ip, credentialPrefix(token));
    const key = token === undefined ? undefined : await opts.authenticator.lookup(token);
    if (key) await slot.release();
    return key;
  };
  return async function bearerKey(request: FastifyRequest, token: string | undefined): Promise<ApiKeyRecord | undefined> {
    if (token === undefined) return check(request, token);
    const known = opts.authenticator.cached(token);
    if (known) return known;
    const running = inflight.get(token);
    if (running) {
      const key = await running.catch(() => undefined);
      if (key) return key;
      return check(request, token);
    }
    const attempt = check(request, token);
    inflight.set(token, attempt);
    attempt.then(
      () => inflight.delete(token),
      () => inflight.delete(token),
    );
    return attempt;
  };
}

export const authPlugin = fp(async function auth(app: FastifyInstance, opts: AuthOptions) {
  // Cookies are parsed for the whole app: the dashboard's session cookie is read here, in a hook
  // that runs outside the dashboard's plugin scope.
  await app.register(cookie);
  app.decorateRequest('apiKey', undefined);
  const bearerKey = bearerKeys(opts);
  app.addHook('onRequest', async (request, reply) => {
    const cfg = request.routeOptions.config;
    if (!cfg?.permission) return;
    const header = request.headers.authorization;
    let key: ApiKeyRecord | undefined;
    if (header !== undefined) key = await bearerKey(request, bearerToken(header));
    else if (cfg.permission === 'admin') key = await sessionAuthenticators.get(opts.authenticator)?.(request);
    if (!key) throw Errors.unauthorized();
    if (!key.permissions.includes(cfg.permission)) {
      throw Errors.forbidden(cfg.permission);
    }
    request.apiKey = key;
    if (cfg.rateLimitName) {
      const decision = await opts.limits.take(request, cfg.rateLimitName, opts.rateLimits[cfg.rateLimitName], key.id);
      reply.headers(decision.headers);
      if (!decision.allowed) throw Errors.rateLimited(decision.headers);
    }
  });
});
