/**
 * `/dashboard/api/session`: sign in (POST, the admin password), who am I (GET, the CSRF token for
 * this session) and sign out (DELETE). Every sign-in try is counted before the password is checked
 * (sign-in-throttle.ts); the password is read from the store at each try, so a change made by any
 * process counts at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../http/index.js';
import type { Queryable } from '../../storage/index.js';
import { clearSessionCookie, setSessionCookie } from './cookies.js';
import { currentPasswordHash, verifyPassword } from './password.js';
import { checkCrossSite, checkOrigin, sessionToken, type SessionContext } from './session-auth.js';
import { csrfTokenFor, SESSION_TTL_MS } from './sessions.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import { SessionState } from './contract.js';

export const SESSION_PATH = '/dashboard/api/session';

export interface SessionRouteOptions extends SessionContext {
  db: Queryable;
  secureCookie: boolean;
  throttle: SignInThrottle;
}

const SignInBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const hidden = { hide: true } as const;

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store');
}

/** Checks the admin password, one counted try; throws 429 (no try left) or `wrong` (a wrong password). */
export async function checkAdminPassword(opts: Pick<SessionRouteOptions, 'db' | 'throttle'>, request: FastifyRequest, password: string, wrong: ApiError): Promise<void> {
  const attempt = await opts.throttle.take(request.ip);
  const hash = await currentPasswordHash(opts.db);
  if (!hash || !(await verifyPassword(password, hash))) {
    request.log.warn({ ip: request.ip }, 'dashboard password check failed');
    throw wrong;
  }
  await attempt.succeeded();
}

export async function sessionRoutes(app: FastifyInstance, opts: SessionRouteOptions): Promise<void> {
  const current = async (request: FastifyRequest) => {
    const token = sessionToken(request, opts.cookieName);
    return token && (await opts.sessions.find(token)) ? token : undefined;
  };

  app.get(SESSION_PATH, { schema: { ...hidden, response: { 200: SessionState } } }, async (request, reply) => {
    const token = await current(request);
    noStore(reply);
    return token ? { signed_in: true, csrf_token: csrfTokenFor(token) } : { signed_in: false };
  });

  app.post(SESSION_PATH, { schema: { ...hidden, body: SignInBody, response: { 200: SessionState } } }, async (request, reply) => {
    noStore(reply);
    checkOrigin(request, opts.publicHost);
    const { password } = request.body as { password: string };
    await checkAdminPassword(opts, request, password, new ApiError(401, 'Wrong password'));
    const session = await opts.sessions.create({ address: request.ip, userAgent: request.headers['user-agent'] });
    setSessionCookie(reply, opts.cookieName, session.token, { secure: opts.secureCookie, maxAgeSeconds: SESSION_TTL_MS / 1000 });
    return { signed_in: true, csrf_token: csrfTokenFor(session.token), expires_at: session.expiresAt.toISOString() };
  });

  app.delete(SESSION_PATH, { schema: { ...hidden, response: { 200: SessionState } } }, async (request, reply) => {
    noStore(reply);
    const token = await current(request);
    if (token) {
      checkCrossSite(request, token, opts.publicHost);
      await opts.sessions.delete(token);
    }
    clearSessionCookie(reply, opts.cookieName, opts.secureCookie);
    return { signed_in: false };
  });
}
