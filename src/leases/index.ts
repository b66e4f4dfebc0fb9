/**
 * Leases: which process does a piece of background work (a connector's export, a pull run, and
 * next the send pipeline's and journeys' claims), when several processes share one database
 * (docs/scaling.md#leases). A lease is two columns on the work's own row: the owner (a process id
 * string) and the time it runs out. The rules, for every user of this module:
 *
 * - Claim: take rows nobody holds or whose lease ran out (`claim`, `claimBatch`, the latter with
 *   `FOR UPDATE SKIP LOCKED`, so processes claiming at once take different rows and never wait).
 * - Renew: every `periodMs` (a third of the lease); `renew` answers which leases are still held. A
 *   lease not in the answer is lost: stop that work at once (LeaseKeeper does this), so a process
 *   that lost a lease stops within one renewal period.
 * - Fence: every write for the work checks the lease in the same transaction (`holds`, which also
 *   keeps the lease from being taken over until the transaction ends, or an `owner = $n` condition
 *   on the write itself), so a process that lost the lease commits nothing for it, even when it has
 *   not noticed yet.
 * - Release: give the lease back when the work ends or the process stops.
 * - Share: a process takes at most its fair share (`fairShare`) of a pool of work, counted over the
 *   processes that beat in `worker_heartbeats`, so a process that joins gets a share.
 */
import type { Queryable } from '../storage/index.js';

export { Ticker } from './ticker.js';

export interface LeaseColumns {
  table: string;
  key: string;
  owner: string;
  until: string;
}

export interface LeaseStore {
  /** Takes the lease on `id` if free, lapsed or already ours, and `condition` (SQL over the row) holds. */
  claim(q: Queryable, id: string, owner: string, leaseMs: number, condition?: string): Promise<boolean>;
  /** Takes up to `limit` free rows matching `condition`, skipping rows another claimer has locked. */
  claimBatch(q: Queryable, owner: string, leaseMs: number, limit: number, condition?: string, orderBy?: string): Promise<string[]>;
  /** Extends the leases `owner` still holds among `ids`; answers those (the others are lost). */
  renew(q: Queryable, ids: readonly string[], owner: string, leaseMs: number): Promise<Set<string>>;
  release(q: Queryable, id: string, owner: string): Promise<boolean>;
  /**
   * Inside a transaction: whether `owner` holds the lease on `id` (not lapsed); when it does, the row
   * is share-locked until the transaction ends, so no other process can take the lease over before
   * this transaction's writes commit.
   */
  holds(tx: Queryable, id: string, owner: string): Promise<boolean>;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

export function leaseStore(c: LeaseColumns): LeaseStore {
  for (const name of Object.values(c)) if (!IDENT.test(name)) throw new Error(`not an SQL identifier: ${name}`);
  const free = `(${c.owner} IS NULL OR ${c.owner} = $2 OR ${c.until} IS NULL OR ${c.until} < now())`;
  const until = `now() + make_interval(secs => $3::float8 / 1000)`;
  return {
    async claim(q, id, owner, leaseMs, condition) {
      const { rowCount } = await q.query(
        `UPDATE ${c.table} SET ${c.owner} = $2, ${c.until} = ${until} WHERE ${c.key} = $1 AND ${free}${condition ? ` AND (${condition})` : ''}`,
        [id, owner, leaseMs],
      );
      return rowCount === 1;
    },
    async claimBatch(q, owner, leaseMs, limit, condition, orderBy) {
      const { rows } = await q.query<{ id: string }>(
        `UPDATE ${c.table} SET ${c.owner} = $2, ${c.until} = ${until}
          WHERE ${c.key} IN (SELECT ${c.key} FROM ${c.table} WHERE ${free}${condition ? ` AND (${condition})` : ''}
                              ORDER BY ${orderBy ?? c.key} LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING ${c.key}::text AS id`,
        [limit, owner, leaseMs],
      );
      return rows.map((r) => r.id);
    },
    async renew(q, ids, owner, leaseMs) {
      if (!ids.length) return new Set();
      const { rows } = await q.query<{ id: string }>(
        `UPDATE ${c.table} SET ${c.until} = ${until}
          WHERE ${c.key}::text = ANY($1::text[]) AND ${c.owner} = $2 AND ${c.until} >= now() RETURNING ${c.key}::text AS id`,
        [ids, owner, leaseMs],
      );
      return new Set(rows.map((r) => r.id));
    },
    async release(q, id, owner) {
      const { rowCount } = await q.query(`UPDATE ${c.table} SET ${c.owner} = NULL, ${c.until} = NULL WHERE ${c.key} = $1 AND ${c.owner} = $2`, [id, owner]);
      return rowCount === 1;
    },
    async holds(tx, id, owner) {
      const { rows } = await tx.query(`SELECT 1 FROM ${c.table} WHERE ${c.key} = $1 AND ${c.owner} = $2 AND ${c.until} >= now() FOR SHARE`, [id, owner]);
      return rows.length === 1;
    },
  };
}

/** Thrown by a fenced write whose process no longer holds the lease: nothing of it was committed. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
  constructor(readonly id: string) {
    super(`lease on ${id} lost: another process has taken this work over`);
  }
}

/**
 * Renews the leases of the work a process runs, every `periodMs`, and calls `onLost` for each lease
 * the renewal no longer reports (at most one period after it was lost). A renewal that fails (the
 * store unreachable) reports nothing lost: the lease may still be ours, and fenced writes keep a
 * stale holder from committing.
 */
export class LeaseKeeper {
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly renew: (ids: string[]) => Promise<Set<string>>,
    private readonly periodMs: number,
    private readonly onLost: (id: string) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  track(id: string): void {
    this.held.add(id);
    if (!this.timer) {
      this.timer = setInterval(() => void this.renewNow(), this.periodMs);
      this.timer.unref();
    }
  }

  untrack(id: string): void {
    this.held.delete(id);
    if (!this.held.size && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Renews now (serialized with the timer's renewals); resolves once done. */
  renewNow(): Promise<void> {
    this.renewing = this.renewing.then(async () => {
      const ids = [...this.held];
      if (!ids.length) return;
      let still: Set<string>;
      try {
        still = await this.renew(ids);
      } catch (err) {
        this.onError(err);
        return;
      }
      for (const id of ids) {
        if (!still.has(id) && this.held.delete(id)) this.onLost(id);
      }
    });
    return this.renewing;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.held.clear();
  }
}

/**
 * A process's fair share of `total` pieces of a pool of work: total ÷ the processes working that pool
 * (those whose heartbeat is younger than `staleMs`, this one included), rounded up. Beats for
 * `owner` first; heartbeats older than ten times `staleMs` are removed.
 */
export async function fairShare(q: Queryable, pool: string, owner: string, total: number, staleMs: number): Promise<number> {
  const { rows } = await q.query<{ live: number }>(
    `WITH beat AS (
       INSERT INTO worker_heartbeats (pool, owner, beat_at) VALUES ($1, $2, now())
       ON CONFLICT (pool, owner) DO UPDATE SET beat_at = now()),
     gone AS (DELETE FROM worker_heartbeats WHERE pool = $1 AND beat_at < now() - make_interval(secs => $3::float8 / 100))
     SELECT count(*)::int8 + 1 AS live FROM worker_heartbeats
      WHERE pool = $1 AND owner <> $2 AND beat_at >= now() - make_interval(secs => $3::float8 / 1000)`,
    [pool, owner, staleMs],
  );
  return Math.max(1, Math.ceil(total / Math.max(1, rows[0]!.live)));
}

/** Forgets this process's heartbeat (on a clean stop), so the others' shares grow at once. */
export async function leaveHeartbeats(q: Queryable, pool: string, owner: string): Promise<void> {
  await q.query('DELETE FROM worker_heartbeats WHERE pool = $1 AND owner = $2', [pool, owner]);
}
