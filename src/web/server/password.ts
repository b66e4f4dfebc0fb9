/**
 * The dashboard's admin password. It comes from `RIVULET_ADMIN_PASSWORD`, or is generated once at
 * first start, stored only as a scrypt hash in the store, and handed back to the caller to print
 * once on the terminal (never through the logger). scrypt, not SHA-256: unlike a random API key, a
 * password may be guessable, so each guess must cost real work.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Db, Queryable } from '../../storage/index.js';
import { revokeOtherSessions } from './sessions.js';

const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: self-describing, so parameters can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEY_LENGTH, { ...PARAMS, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** 20 characters from an alphabet without look-alikes (~115 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(20);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Shortest admin password the admin API accepts (a generated one has 20 characters). */
export const MIN_PASSWORD_LENGTH = 12;

export interface AdminPassword {
  /** The scrypt hash in force at start. Sign-ins read the stored one (currentPasswordHash). */
  hash: string;
  /** Set only when the password was generated at this start: print it once, then forget it. */
  generated: string | undefined;
  source: 'environment' | 'store';
  /**
   * Set with `generated` when it replaces a generated password that was stored but never shown
   * (the start that generated it failed before printing it): say so when printing the new one.
   */
  replacedUnshown?: boolean;
  /** A generated password another process is starting with has not been shown yet (several processes on PostgreSQL). */
  pendingElsewhere?: Date;
}

/** How long a generated, unshown password is left to the process that generated it (unless the store is exclusive). */
const UNSHOWN_GRACE_MS = 120_000;

/**
 * The password in force: the environment's when set (stored as its hash when the stored one is
 * another password: a change, which ends every session); else the stored hash; else a new one,
 * generated, stored (first writer wins when several processes start at once) and returned. The
 * caller prints it, then calls markAdminPasswordShown; one stored but never shown is replaced.
 */
export async function resolveAdminPassword(
  db: Db,
  fromEnv: string | undefined,
  opts: { exclusive?: boolean } = {},
): Promise<AdminPassword & { sessionsEnded?: number }> {
  // Exclusive: the caller holds the embedded store's lock, so no other process shares this database.
  const exclusive = opts.exclusive ?? false;
  const existing = await db.query<{ password_hash: string; generated_at: Date | null; shown_at: Date | null }>(
    'SELECT password_hash, generated_at, shown_at FROM dashboard_admin',
  );
  const row = existing.rows[0];
  const stored = row?.password_hash;
  if (fromEnv) {
    if (stored && (await verifyPassword(fromEnv, stored))) return { hash: stored, generated: undefined, source: 'environment' };
    const hash = await hashPassword(fromEnv);
    const sessionsEnded = await setAdminPassword(db, hash, undefined);
    return { hash, generated: undefined, source: 'environment', sessionsEnded };
  }
  if (stored && row.generated_at && !row.shown_at) {
    // Generated and stored, never shown: nobody knows it. The process holding the embedded store
    // is the only one, so that start failed; on PostgreSQL another process may be starting now,
    // and gets a grace period to print it.
    const age = Date.now() - new Date(row.generated_at).getTime();
    if (!exclusive && age < UNSHOWN_GRACE_MS) return { hash: stored, generated: undefined, source: 'store', pendingElsewhere: new Date(row.generated_at) };
    const generated = generatePassword();
    const hash = await hashPassword(generated);
    const replaced = await db.query(
      `UPDATE dashboard_admin SET password_hash = $1, generated_at = now(), shown_at = NULL, changed_at = now()
        WHERE password_hash = $2 AND shown_at IS NULL RETURNING 1`,
      [hash, stored],
    );
    if (replaced.rows.length) return { hash, generated, source: 'store', replacedUnshown: true };
    return resolveAdminPassword(db, fromEnv, opts);
  }
  if (stored) return { hash: stored, generated: undefined, source: 'store' };
  const generated = generatePassword();
  const hash = await hashPassword(generated);
  const inserted = await db.query<{ password_hash: string }>(
    'INSERT INTO dashboard_admin (password_hash, generated_at) VALUES ($1, now()) ON CONFLICT (singleton) DO NOTHING RETURNING password_hash',
    [hash],
  );
  if (inserted.rows[0]) return { hash, generated, source: 'store' };
  const winner = await db.query<{ password_hash: string }>('SELECT password_hash FROM dashboard_admin');
  return { hash: winner.rows[0]!.password_hash, generated: undefined, source: 'store' };
}

/** Records that the generated password was printed: from now on it is the admin's to keep. */
export async function markAdminPasswordShown(db: Queryable, hash: string): Promise<void> {
  await db.query('UPDATE dashboard_admin SET shown_at = now() WHERE password_hash = $1 AND shown_at IS NULL', [hash]);
}

/** The stored hash every sign-in is checked against: a change by any process counts at once. */
export async function currentPasswordHash(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ password_hash: string }>('SELECT password_hash FROM dashboard_admin');
  return rows[0]?.password_hash;
}

/**
 * Replaces the admin password and, in the same transaction, ends every session but `keepSession`
 * (the one that made the change). Returns how many sessions ended.
 */
export async function setAdminPassword(db: Db, hash: string, keepSession: string | undefined): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO dashboard_admin (password_hash, changed_at) VALUES ($1, now())
       ON CONFLICT (singleton) DO UPDATE SET password_hash = EXCLUDED.password_hash, changed_at = now(), generated_at = NULL, shown_at = NULL`,
      [hash],
    );
    return revokeOtherSessions(tx, keepSession);
  });
}
