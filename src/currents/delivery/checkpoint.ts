/**
 * What the live export writes to the database, each in one transaction: the cursor moving past a
 * settled run together with that run's counters (so every logged event is counted exactly once,
 * crash or not), and a health change together with its notice. Every write is conditional on this
 * process holding the connector's lease; a `false` answer means another process has it (or the
 * connector was deleted) and this exporter must stop.
 */
import type { LogCursor } from '../../events/index.js';
import { LeaseLost, leaseStore } from '../../leases/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import type { ConnectorHealth } from '../connectors/store.js';
import { enqueueNotice } from '../notifications/outbox.js';
import type { Notice } from '../notifications/notices.js';
import type { Tally } from './ack-window.js';
import { recordDeadLetters, type DeadLetterInput } from './dead-letters.js';

export async function upsertCounters(tx: Queryable, connectorId: string, given: readonly Tally[]): Promise<void> {
  // One row per key: ON CONFLICT DO UPDATE cannot touch the same row twice in one statement.
  const merged = new Map<string, Tally>();
  for (const t of given) {
    const key = `${t.outcome}\u0000${t.eventType}\u0000${t.reason}`;
    const seen = merged.get(key);
    if (seen) seen.count += t.count;
    else merged.set(key, { ...t });
  }
  const tallies = [...merged.values()].filter((t) => t.count !== 0);
  if (tallies.length === 0) return;
  await tx.query(
    `INSERT INTO currents_counters (connector_id, outcome, event_type, reason, count)
     SELECT $1, r.outcome, r.event_type, r.reason, r.count
       FROM jsonb_to_recordset($2::jsonb) AS r(outcome text, event_type text, reason text, count bigint)
     ON CONFLICT (connector_id, outcome, event_type, reason) DO UPDATE SET count = currents_counters.count + EXCLUDED.count`,
    [connectorId, JSON.stringify(tallies.map((t) => ({ outcome: t.outcome, event_type: t.eventType, reason: t.reason, count: t.count })))],
  );
}

export interface Progress {
  end: LogCursor;
  tallies: readonly Tally[];
  retries: number;
  lastError: { message: string; at: Date } | null;
}

/** Moves the cursor and adds the counters, if this process still holds the lease. */
export async function commitProgress(db: Db, connectorId: string, owner: string, p: Progress): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `UPDATE currents_connectors SET cursor_txid = $3::xid8, cursor_seq = $4, cursor_moved_at = now(), retries = retries + $5,
              last_error = COALESCE($6, last_error), last_error_at = COALESCE($7, last_error_at)
        WHERE id = $1 AND lease_owner = $2 AND (cursor_txid, cursor_seq) <= ($3::xid8, $4::bigint)`,
      [connectorId, owner, p.end.txid, p.end.seq, p.retries, p.lastError?.message ?? null, p.lastError?.at ?? null],
    );
    if (rowCount !== 1) return false;
    await upsertCounters(tx, connectorId, p.tallies);
    return true;
  });
}

/**
 * Commits progress for one connector, safe against a COMMIT whose answer was lost (the connection
 * dropped after PostgreSQL applied it, or not). The pipeline keeps a run it could not commit and
 * retries it merged with the runs settled since, so when the lost commit was in fact applied, its
 * counters and retries must be left out of every later attempt until one succeeds. Before the next
 * attempt the connector's cursor tells which: it stands exactly at the doubtful run's end only if
 * that commit was applied, since every run moves the cursor forward.
 */
export class ProgressCommitter {
  private inDoubt: { end: LogCursor; tallies: Tally[]; retries: number } | null = null;
  /** Counters and retries already in the database that the pipeline still holds as uncommitted. */
  private applied: { tallies: Tally[]; retries: number } = { tallies: [], retries: 0 };

  constructor(
    private readonly db: Db,
    private readonly connectorId: string,
    private readonly owner: string,
  ) {}

  /** `p.tallies` and `p.retries` are cumulative since the last commit that succeeded. */
  async commit(p: Progress): Promise<boolean> {
    if (this.inDoubt) {
      const { rows } = await this.db.query<{ txid: string; seq: string }>(
        'SELECT cursor_txid::text AS txid, cursor_seq::text AS seq FROM currents_connectors WHERE id = $1 AND lease_owner = $2',
        [this.connectorId, this.owner],
      );
      const at = rows[0];
      if (at && at.txid === String(this.inDoubt.end.txid) && Number(at.seq) === Number(this.inDoubt.end.seq)) {
        this.applied = { tallies: this.inDoubt.tallies, retries: this.inDoubt.retries };
      }
      this.inDoubt = null;
    }
    const cumulative = p.tallies.map((t) => ({ ...t }));
    const net: Progress = {
      ...p,
      tallies: [...cumulative, ...this.applied.tallies.map((t) => ({ ...t, count: -t.count }))],
      retries: p.retries - this.applied.retries,
    };
    try {
      const ok = await commitProgress(this.db, this.connectorId, this.owner, net);
      if (ok) this.applied = { tallies: [], retries: 0 };
      return ok;
    } catch (err) {
      this.inDoubt = { end: p.end, tallies: cumulative, retries: p.retries };
      throw err;
    }
  }
}

export interface HealthChange {
  from: ConnectorHealth;
  to: ConnectorHealth;
  detail: string | null;
  at: Date;
  notice: Notice | null;
}

/** Records a health change and its notice, once, if this process holds the lease and the change still applies. */
export async function commitHealth(
  db: Db,
  connector: { id: string; workspaceId: string; contactEmail: string },
  owner: string,
  change: HealthChange,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `UPDATE currents_connectors SET health = $3,
              incident_started_at = CASE WHEN $3 = 'ok' THEN NULL ELSE COALESCE(incident_started_at, $5) END,
              last_error = COALESCE($4, last_error), last_error_at = CASE WHEN $4 IS NULL THEN last_error_at ELSE $5 END
        WHERE id = $1 AND lease_owner = $2 AND health = $6`,
      [connector.id, owner, change.to, change.detail, change.at, change.from],
    );
    if (rowCount !== 1) return false;
    if (change.notice) await enqueueNotice(tx, { connectorId: connector.id, workspaceId: connector.workspaceId, recipient: connector.contactEmail }, change.notice);
    return true;
  });
}

/** A connector's lease (src/leases): which process delivers for it, `lease_owner` until `lease_expires_at`. */
export const connectorLeases = leaseStore({ table: 'currents_connectors', key: 'id', owner: 'lease_owner', until: 'lease_expires_at' });

/** Takes the connector for this process when nobody holds it, the lease lapsed, or it is already ours. */
export function claimLease(db: Queryable, connectorId: string, owner: string, leaseMs: number): Promise<boolean> {
  return connectorLeases.claim(db, connectorId, owner, leaseMs, 'NOT paused');
}

/** Renews the leases this process holds; returns the ids it still holds. */
export function renewLeases(db: Queryable, connectorIds: readonly string[], owner: string, leaseMs: number): Promise<Set<string>> {
  return connectorLeases.renew(db, connectorIds, owner, leaseMs);
}

export async function releaseLease(db: Queryable, connectorId: string, owner: string): Promise<void> {
  await connectorLeases.release(db, connectorId, owner);
}

/** Stores dead letters if this process still holds the connector's lease; throws LeaseLost otherwise. */
export async function commitDeadLetters(db: Db, connectorId: string, owner: string, letters: readonly DeadLetterInput[]): Promise<void> {
  if (!letters.length) return;
  await db.transaction(async (tx) => {
    if (!(await connectorLeases.holds(tx, connectorId, owner))) throw new LeaseLost(connectorId);
    await recordDeadLetters(tx, connectorId, 'live', letters);
  });
}

export interface CounterRow {
  /** `fitted` counts changes made to fit Mixpanel's limits, not events (ack-window.ts, `Outcome`). */
  outcome: 'sent' | 'skipped' | 'dead_lettered' | 'fitted';
  event_type: string;
  reason: string;
  count: number;
}

export async function readCounters(db: Queryable, connectorId?: string): Promise<Array<CounterRow & { connector_id: string }>> {
  const { rows } = await db.query<CounterRow & { connector_id: string }>(
    `SELECT connector_id, outcome, event_type, reason, count FROM currents_counters
      WHERE count <> 0 ${connectorId ? 'AND connector_id = $1' : ''} ORDER BY connector_id, outcome, event_type, reason`,
    connectorId ? [connectorId] : [],
  );
  return rows;
}
