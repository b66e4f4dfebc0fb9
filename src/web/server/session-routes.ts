/**
 * `/dashboard/api/session`: sign in (POST, the admin password), who am I (GET, the CSRF token for
 * this session) and sign out (DELETE). Failed sign-ins are throttled per address.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../http/errors.js';
import { clearedCookie, sessionCookie } from './cookies.js';
import { verifyPassword } from './password.js';
import { checkCrossSite, checkOrigin, sessionToken, type SessionContext } from './session-auth.js';
import { csrfTokenFor, SESSION_TTL_MS } from './sessions.js';
import type { SignInThrottle } from './sign-in-throttle.js';

export const SESSION_PATH = '/dashboard/api/session';

export interface SessionRouteOptions extends SessionContext {
  passwordHash: string;
  secureCookie: boolean;
  throttle: SignInThrottle;
}

const SignInBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const hidden = { hide: true } as const;

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store');
}

export async function sessionRoutes(app: FastifyInstance, opts: SessionRouteOptions): Promise<void> {
  const current = async (request: FastifyRequest) => {
    const token = sessionToken(request, opts.cookieName);
    return token && (await opts.sessions.find(token)) ? token : undefined;
  };

  app.get(SESSION_PATH, { schema: hidden }, async (request, reply) => {
    const token = await current(request);
    noStore(reply);
    return token ? { signed_in: true, csrf_token: csrfTokenFor(token) } : { signed_in: false };
  });

  app.post(SESSION_PATH, { schema: { ...hidden, body: SignInBody } }, async (request, reply) => {
    noStore(reply);
    checkOrigin(request, opts.publicHost);
    const wait = opts.throttle.retryAfterSeconds(request.ip);
    if (wait > 0) {
      throw new ApiError(429, 'Too many failed sign-ins; try again later', [{ type: `retry in ${wait} s` }], { 'retry-after': String(wait) });
    }
    const { password } = request.body as { password: string };
    if (!(await verifyPassword(password, opts.passwordHash))) {
      opts.throttle.recordFailure(request.ip);
      request.log.warn({ ip: request.ip }, 'dashboard sign-in failed');
      throw new ApiError(401, 'Wrong password');
    }
    opts.throttle.recordSuccess(request.ip);
    const session = await opts.sessions.create();
    reply.header('set-cookie', sessionCookie(opts.cookieName, session.token, { secure: opts.secureCookie, maxAgeSeconds: SESSION_TTL_MS / 1000 }));
    return { signed_in: true, csrf_token: csrfTokenFor(session.token), expires_at: session.expiresAt.toISOString() };
  });

  app.delete(SESSION_PATH, { schema: hidden }, async (request, reply) => {
    noStore(reply);
    const token = await current(request);
    if (token) {
      checkCrossSite(request, token, opts.publicHost);
      await opts.sessions.delete(token);
    }
    reply.header('set-cookie', clearedCookie(opts.cookieName, opts.secureCookie));
    return { signed_in: false };
  });
}
