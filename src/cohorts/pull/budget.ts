/**
 * The query budget of a Mixpanel project (docs/reference/cohort-import.md §5): Mixpanel allows 60 queries an
 * hour and 5 at once per project, and every engage page is one query. Rivulet keeps a rolling
 * window of the queries it sent per project in `mixpanel_query_ledger`, shared by every cohort and
 * connection on that project and by every process on the database, and never exceeds the budget.
 * A query is written to the ledger before it is sent, so a refused query counts too. Within this
 * process one query at a time is in flight per project; waits for budget are abortable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, Queryable } from '../../storage/index.js';
import { KeyedQueue } from '../queue.js';

export class QueryGate {
  private readonly inFlight = new KeyedQueue();

  constructor(
    private readonly db: Db,
    private readonly windowMs: number,
  ) {}

  /** Runs `query` as one query of the project, after its turn and once the budget allows. */
  run<T>(projectId: string, budget: number, signal: AbortSignal, query: () => Promise<T>): Promise<T> {
    return this.inFlight.run(projectId, async () => {
      for (;;) {
        signal.throwIfAborted();
        const waitMs = await this.spend(projectId, budget);
        if (waitMs === 0) break;
        await sleep(waitMs, undefined, { signal });
      }
      return query();
    });
  }

  /** Records one query when the window has room and answers 0; otherwise the ms until it will. */
  async spend(projectId: string, budget: number): Promise<number> {
    const windowSecs = this.windowMs / 1000;
    return this.db.transaction(async (tx) => {
      // Serialises the check-and-record per project across processes.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mixpanel-query-ledger:${projectId}`]);
      await tx.query('DELETE FROM mixpanel_query_ledger WHERE project_id = $1 AND at < now() - make_interval(secs => $2::float8)', [projectId, windowSecs]);
      const { rows } = await tx.query<{ used: number | string; wait_ms: number | string | null }>(
        `SELECT count(*)::int8 AS used,
                (extract(epoch FROM min(at) + make_interval(secs => $2::float8) - now()) * 1000)::float8 AS wait_ms
           FROM mixpanel_query_ledger WHERE project_id = $1`,
        [projectId, windowSecs],
      );
      if (Number(rows[0]!.used) < budget) {
        await tx.query('INSERT INTO mixpanel_query_ledger (project_id) VALUES ($1)', [projectId]);
        return 0;
      }
      return Math.max(20, Math.ceil(Number(rows[0]!.wait_ms ?? 0)) + 5);
    });
  }

  used(projectId: string): Promise<number> {
    return queriesInWindow(this.db, projectId, this.windowMs);
  }
}

/** Queries recorded for the project in the window ending now. */
export async function queriesInWindow(db: Queryable, projectId: string, windowMs: number): Promise<number> {
  const { rows } = await db.query<{ used: number | string }>(
    'SELECT count(*)::int8 AS used FROM mixpanel_query_ledger WHERE project_id = $1 AND at >= now() - make_interval(secs => $2::float8)',
    [projectId, windowMs / 1000],
  );
  return Number(rows[0]!.used);
}
