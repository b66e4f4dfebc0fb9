/**
 * The dashboard's sessions and password through the admin API (docs/access-control.md#sessions):
 * `GET /admin/sessions` lists the live sessions, `DELETE /admin/sessions/:id` ends one,
 * `PUT /admin/password` changes the admin password and ends every other session. For admins of
 * the default workspace, whose admin the dashboard signs in as (a session or a REST key).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { ApiError, Errors } from '../../http/index.js';
import { PageQuery, pageRequest } from '../../http/index.js';
import type { ApiKeyRecord } from '../../workspaces/index.js';
import { hashPassword, MIN_PASSWORD_LENGTH, setAdminPassword } from './password.js';
import { checkAdminPassword } from './session-routes.js';
import { sessionIdOf } from './session-auth.js';
import type { SessionStore } from './sessions.js';
import type { SignInThrottle } from './sign-in-throttle.js';

export interface SessionAdminOptions {
  sessions: SessionStore;
  throttle: SignInThrottle;
  /** The default workspace: the dashboard's admin is its admin. */
  workspaceId: string;
  /** RIVULET_ADMIN_PASSWORD is set: the password is changed there, not through the API. */
  passwordFromEnvironment: boolean;
}

const admin = { permission: 'admin' as const };
const ErrorBody = Type.Object({
  message: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  error_count: Type.Optional(Type.Integer()),
});
const Session = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  address: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'the session this request was made with' }),
});
const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const PasswordBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 1024 }),
    new_password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export function sessionAdminRoutes(opts: SessionAdminOptions) {
  const dashboardAdmin = (request: FastifyRequest): ApiKeyRecord => {
    const key = requireKey(request);
    if (key.workspace_id !== opts.workspaceId) {
      throw new ApiError(403, "The dashboard's sessions and password belong to the default workspace's admins");
    }
    return key;
  };

  return async function routes(app: FastifyInstance, { db }: AppServices): Promise<void> {
    app.get(
      '/admin/sessions',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          summary: 'A page of the signed-in dashboard sessions, newest first',
          querystring: PageQuery,
          response: { 200: Type.Object({ sessions: Type.Array(Session), next_cursor: Type.Union([Type.String(), Type.Null()]) }), 403: ErrorBody },
        },
      },
      async (request) => {
        const current = sessionIdOf(dashboardAdmin(request));
        const page = await opts.sessions.listPage(pageRequest(request.query));
        return { sessions: page.items.map((s) => ({ ...s, current: s.id === current })), next_cursor: page.next_cursor };
      },
    );

    app.delete(
      '/admin/sessions/:id',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          summary: 'End one dashboard session at once, on every process',
          params: SessionParams,
          response: { 200: Type.Object({ id: Type.String(), revoked: Type.Boolean() }), 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        dashboardAdmin(request);
        const { id } = request.params as { id: string };
        if (!(await opts.sessions.revoke(id))) throw Errors.notFound('session');
        return { id, revoked: true };
      },
    );

    app.put(
      '/admin/password',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          summary: 'Change the dashboard admin password; every other session ends',
          body: PasswordBody,
          response: { 200: Type.Object({ changed: Type.Boolean(), sessions_revoked: Type.Integer() }), 403: ErrorBody, 409: ErrorBody, 429: ErrorBody },
        },
      },
      async (request) => {
        const key = dashboardAdmin(request);
        if (opts.passwordFromEnvironment) {
          throw new ApiError(409, 'The admin password is set by RIVULET_ADMIN_PASSWORD; change it there and restart', [{ type: 'set by the environment' }]);
        }
        const body = request.body as { current_password: string; new_password: string };
        const wrong = new ApiError(403, 'Wrong current password', [{ type: 'wrong password', path: 'current_password' }]);
        await checkAdminPassword({ db, throttle: opts.throttle }, request, body.current_password, wrong);
        const ended = await setAdminPassword(db, await hashPassword(body.new_password), sessionIdOf(key));
        request.log.info({ sessions_revoked: ended }, 'dashboard admin password changed');
        return { changed: true, sessions_revoked: ended };
      },
    );
  };
}
