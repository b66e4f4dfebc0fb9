/**
 * The dashboard on the server: the admin password, sessions, the sign-in routes, the built React
 * app with its security headers, and the admin routes only the dashboard needs (user lookup).
 * `prepareDashboard` runs after migrations; its `routes` is a capability plugin like the others.
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { AppServices, CapabilityPlugin } from '../../http/index.js';
import { acceptDashboardSessions } from '../../http/index.js';
import type { ProfileExtension } from '../../identity/index.js';
import type { Db } from '../../storage/index.js';
import { DEFAULT_WORKSPACE, ensureWorkspace } from '../../workspaces/index.js';
import { sessionCookieName } from './cookies.js';
import { markAdminPasswordShown, resolveAdminPassword, type AdminPassword } from './password.js';
import { sessionKey } from './session-auth.js';
import { sessionAdminRoutes } from './session-admin-routes.js';
import { sessionRoutes } from './session-routes.js';
import { SessionStore } from './sessions.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { dashboardStatic } from './static.js';
import { userLookupRoutes } from './user-routes.js';

export { DASHBOARD_DIR, DASHBOARD_PREFIX } from './static.js';
export { hashPassword, verifyPassword, resolveAdminPassword, markAdminPasswordShown, type AdminPassword } from './password.js';

export interface Dashboard {
  routes: CapabilityPlugin;
  /** The admin password when it was generated at this start: print it once to the terminal, then call passwordShown. */
  generatedPassword: string | undefined;
  /** Why a password was generated again, or why none is shown: a line for the terminal. */
  passwordNotice: string | undefined;
  /** Records that the generated password was printed (a start that fails before this replaces it next time). */
  passwordShown(): Promise<void>;
}

export interface DashboardOptions {
  profileExtensions?: readonly ProfileExtension[];
  /** Where the built app is; default `RIVULET_DASHBOARD_DIR`, else `dist/dashboard`. */
  assetsDir?: string;
  /** The admin password as resolved at start under the migration lock (`prepareStore`). */
  password?: AdminPassword;
}

/** Content-Security-Policy for Vite's build: module scripts and stylesheets from this origin only. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

export async function prepareDashboard(db: Db, config: Config, opts: DashboardOptions = {}): Promise<Dashboard> {
  const password = opts.password ?? (await resolveAdminPassword(db, config.adminPassword));
  const workspace = await ensureWorkspace(db, DEFAULT_WORKSPACE);
  const secure = config.publicUrl.startsWith('https://');
  const sessions = new SessionStore(db);
  const ctx = { sessions, cookieName: sessionCookieName(secure), workspaceId: workspace.id, publicHost: new URL(config.publicUrl).host };

  const routes: CapabilityPlugin = async (app: FastifyInstance, services: AppServices) => {
    const throttle = new SignInThrottle(services.counters, config.signIn);
    acceptDashboardSessions(services.authenticator, sessionKey(ctx));
    await userLookupRoutes(opts.profileExtensions ?? [])(app, services);
    await sessionAdminRoutes({ sessions, throttle, workspaceId: workspace.id, passwordFromEnvironment: password.source === 'environment' })(app, services);
    await app.register(async (web) => {
      await web.register(helmet, {
        contentSecurityPolicy: { useDefaults: false, directives: { ...CSP_DIRECTIVES, ...(secure ? { upgradeInsecureRequests: [] } : {}) } },
        hsts: secure ? { maxAge: 31_536_000, includeSubDomains: true } : false,
        crossOriginEmbedderPolicy: false,
        referrerPolicy: { policy: 'same-origin' },
      });
      await sessionRoutes(web, { ...ctx, db, secureCookie: secure, throttle });
      const root = opts.assetsDir ?? config.dashboardDir;
      await dashboardStatic(web, root ? { root: root.endsWith('/') ? root : `${root}/` } : {});
    });
  };
  const notice = password.replacedUnshown
    ? 'The admin password generated at an earlier start was never shown (that start failed before printing it), so nobody knows it: it is replaced by this new one.'
    : password.pendingElsewhere
      ? `An admin password was generated at ${password.pendingElsewhere.toISOString()} by another process starting on this database, which prints it. If that start failed, restart this one in two minutes to generate a new one, or set RIVULET_ADMIN_PASSWORD.`
      : undefined;
  return {
    routes,
    generatedPassword: password.generated,
    passwordNotice: notice,
    passwordShown: async () => {
      if (password.generated) await markAdminPasswordShown(db, password.hash);
    },
  };
}
