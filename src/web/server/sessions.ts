/**
 * Signed-in dashboard sessions, kept server-side. The cookie carries a 256-bit random token; the
 * store keeps only its SHA-256, so reading the table does not let anyone act as the admin. The
 * CSRF token is derived from the session token (a keyed hash), so it needs no storage and an
 * attacker who cannot read the cookie cannot compute it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../../storage/index.js';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface DashboardSession {
  tokenHash: Buffer;
  expiresAt: Date;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`rivulet-dashboard-csrf:${sessionToken}`, 'utf8').digest('base64url');
}

export function csrfMatches(sessionToken: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export class SessionStore {
  constructor(
    private readonly db: Queryable,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  /** A new session; the token goes in the cookie and nowhere else. */
  async create(): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.ttlMs);
    await this.db.query('DELETE FROM dashboard_sessions WHERE expires_at < now()');
    await this.db.query('INSERT INTO dashboard_sessions (token_hash, expires_at) VALUES ($1, $2)', [sha256(token), expiresAt]);
    return { token, expiresAt };
  }

  async find(token: string): Promise<DashboardSession | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const { rows } = await this.db.query<{ token_hash: Buffer; expires_at: Date }>(
      'SELECT token_hash, expires_at FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > now()',
      [sha256(token)],
    );
    const row = rows[0];
    return row ? { tokenHash: row.token_hash, expiresAt: row.expires_at } : undefined;
  }

  async delete(token: string): Promise<void> {
    await this.db.query('DELETE FROM dashboard_sessions WHERE token_hash = $1', [sha256(token)]);
  }
}
