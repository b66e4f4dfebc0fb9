/**
 * HTTP Basic authentication of emulated Mixpanel requests (docs/reference/mixpanel-apis.md §2): a service
 * account with `?project_id=`, or a project token or legacy API secret as the username without it.
 * Pure over the registry and a clock, so each API can decide which forms it accepts.
 */
import type { ProjectRegistry } from './projects.js';

export type CredentialKind = 'service_account' | 'token' | 'api_secret';

export type AuthResult = { ok: true; projectId: string; kind: CredentialKind } | { ok: false; status: 401 | 403 };

const WRITE_ROLES = new Set(['owner', 'admin']);

function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  if (!header) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * With `projectId`, only a service account with Owner or Admin on that project passes (unknown
 * credentials 401, a known account without the role 403). Without it, the username must be a
 * project token or API secret among `accept`.
 */
export function authenticate(
  registry: ProjectRegistry,
  authorization: string | undefined,
  projectId: string | undefined,
  nowMs: number,
  accept: ReadonlySet<CredentialKind> = new Set(['service_account', 'token', 'api_secret']),
): AuthResult {
  const credentials = basicCredentials(authorization);
  if (!credentials) return { ok: false, status: 401 };
  if (projectId !== undefined) {
    const account = registry.serviceAccount(credentials.username);
    if (!accept.has('service_account') || !account || account.secret !== credentials.password) return { ok: false, status: 401 };
    if (account.expiresAtMs !== null && nowMs >= account.expiresAtMs) return { ok: false, status: 401 };
    const role = account.roles.get(projectId);
    if (!role || !WRITE_ROLES.has(role) || !registry.project(projectId)) return { ok: false, status: 403 };
    return { ok: true, projectId, kind: 'service_account' };
  }
  const byToken = accept.has('token') ? registry.projectByToken(credentials.username) : undefined;
  if (byToken) return { ok: true, projectId: byToken.id, kind: 'token' };
  const bySecret = accept.has('api_secret') ? registry.projectBySecret(credentials.username) : undefined;
  if (bySecret) return { ok: true, projectId: bySecret.id, kind: 'api_secret' };
  return { ok: false, status: 401 };
}
