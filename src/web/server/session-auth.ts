/**
 * Turns a dashboard session cookie into the key it acts as: an admin of the default workspace.
 * State-changing requests must also carry the session's CSRF token in `x-csrf-token` and, when the
 * browser names an origin, come from this one; with the SameSite=Strict cookie that is two
 * independent barriers against cross-site requests.
 *
 * The CSRF check stays hand-written rather than @fastify/csrf-protection: the token is derived
 * from the session's own secret (sessions.ts), so it is bound to the session, needs no second
 * cookie and no server-wide HMAC key that every process would have to share, and it is checked
 * here, inside the authentication hook, which runs outside the dashboard's plugin scope.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../http/index.js';
import type { ApiKeyRecord } from '../../workspaces/index.js';
import { csrfMatches, type SessionStore } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionContext {
  sessions: SessionStore;
  cookieName: string;
  workspaceId: string;
  /** The public host (RIVULET_PUBLIC_URL), accepted as an origin besides the request's Host (a proxy may rewrite Host). */
  publicHost: string;
}

export function sessionToken(request: FastifyRequest, cookieName: string): string | undefined {
  return request.cookies[cookieName] || undefined;
}

const SESSION_KEY_ID = 'dashboard-session:';

/** The id of the dashboard session a request acts through, if it does. */
export function sessionIdOf(key: ApiKeyRecord): string | undefined {
  return key.id.startsWith(SESSION_KEY_ID) ? key.id.slice(SESSION_KEY_ID.length) : undefined;
}

/** Refuses a request whose browser says it comes from a page of another origin. */
export function checkOrigin(request: FastifyRequest, publicHost: string): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || (host !== request.headers.host && host !== publicHost)) throw new ApiError(403, 'Cross-origin request refused');
}

/** Refuses a state-changing request that a page of another origin could have sent. */
export function checkCrossSite(request: FastifyRequest, token: string, publicHost: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  checkOrigin(request, publicHost);
  const presented = request.headers[CSRF_HEADER];
  if (!csrfMatches(token, typeof presented === 'string' ? presented : undefined)) {
    throw new ApiError(403, 'Missing or wrong CSRF token', [{ type: `send the session's CSRF token in ${CSRF_HEADER}` }]);
  }
}

export function sessionKey(ctx: SessionContext) {
  return async function authenticate(request: FastifyRequest): Promise<ApiKeyRecord | undefined> {
    const token = sessionToken(request, ctx.cookieName);
    if (!token) return undefined;
    const session = await ctx.sessions.find(token);
    if (!session) return undefined;
    checkCrossSite(request, token, ctx.publicHost);
    return {
      id: `${SESSION_KEY_ID}${session.id}`,
      workspace_id: ctx.workspaceId,
      name: 'dashboard session',
      prefix: 'dashboard',
      permissions: ['admin'],
      created_at: new Date(session.expiresAt.getTime()),
      last_used_at: null,
      revoked_at: null,
    };
  };
}
