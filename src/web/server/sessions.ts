/**
 * Signed-in dashboard sessions, kept server-side. The cookie carries a 256-bit random token; the
 * store keeps only its SHA-256, so reading the table does not let anyone act as the admin. The
 * CSRF token is derived from the session token (a keyed hash), so it needs no storage and an
 * attacker who cannot read the cookie cannot compute it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../../storage/index.js';
import type { Queryable } from '../../storage/index.js';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** `last_seen_at` is written at most this often per session (a read per request stays a read). */
const SEEN_EVERY_MS = 60_000;

export interface DashboardSession {
  /** Public id, for the session list and revocation; not a secret. */
  id: string;
  tokenHash: Buffer;
  expiresAt: Date;
}

export interface SessionInfo {
  id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  address: string | null;
  user_agent: string | null;
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

/**
 * Every read goes to the database (no cache), so a session ended by any process (sign-out,
 * revocation, password change) is refused by every process on its next request.
 */
export class SessionStore {
  constructor(
    private readonly db: Queryable,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  /** A new session; the token goes in the cookie and nowhere else. */
  async create(client: { address: string; userAgent: string | undefined }): Promise<{ id: string; token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.ttlMs);
    await this.db.query('DELETE FROM dashboard_sessions WHERE expires_at < now()');
    const { rows } = await this.db.query<{ id: string }>(
      'INSERT INTO dashboard_sessions (token_hash, expires_at, address, user_agent) VALUES ($1, $2, $3, $4) RETURNING id',
      [sha256(token), expiresAt, client.address, client.userAgent?.slice(0, 256) ?? null],
    );
    return { id: rows[0]!.id, token, expiresAt };
  }

  async find(token: string): Promise<DashboardSession | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const { rows } = await this.db.query<{ id: string; token_hash: Buffer; expires_at: Date; last_seen_at: Date }>(
      'SELECT id, token_hash, expires_at, last_seen_at FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > now()',
      [sha256(token)],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.last_seen_at.getTime() < Date.now() - SEEN_EVERY_MS) {
      this.db.query('UPDATE dashboard_sessions SET last_seen_at = now() WHERE id = $1', [row.id]).catch(() => {});
    }
    return { id: row.id, tokenHash: row.token_hash, expiresAt: row.expires_at };
  }

  async delete(token: string): Promise<void> {
    await this.db.query('DELETE FROM dashboard_sessions WHERE token_hash = $1', [sha256(token)]);
  }

  /** The live sessions, newest first. */
  async list(): Promise<SessionInfo[]> {
    const { rows } = await this.db.query<SessionInfo>(
      'SELECT id, created_at, last_seen_at, expires_at, address, user_agent FROM dashboard_sessions WHERE expires_at > now() ORDER BY created_at DESC, id',
    );
    return rows;
  }

  /** A page of the live sessions, newest first (GET /admin/sessions). */
  listPage(page: PageRequest): Promise<Page<SessionInfo>> {
    const keys = [{ expr: millis('created_at'), desc: true }, { expr: 'id' }];
    const select = 'SELECT id, created_at, last_seen_at, expires_at, address, user_agent FROM dashboard_sessions WHERE expires_at > now()';
    return queryPage<SessionInfo>(this.db, select, [], keys, page, (r) => [millisKey(r.created_at), r.id]);
  }

  /** Ends one session by id; false when there is no live session with that id. */
  async revoke(id: string): Promise<boolean> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return false;
    const { rowCount } = await this.db.query('DELETE FROM dashboard_sessions WHERE id = $1 AND expires_at > now()', [id]);
    return rowCount > 0;
  }
}

/** Ends every session except `keep` (the caller's own, when it has one); returns how many ended. */
export async function revokeOtherSessions(db: Queryable, keep: string | undefined): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM dashboard_sessions WHERE expires_at > now() AND id IS DISTINCT FROM $1::uuid', [keep ?? null]);
  return rowCount;
}
