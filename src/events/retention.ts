/**
 * The event log's window (docs/scaling.md#the-event-logs-window). `event_batches` and the
 * publish API's `published_event_ids` are partitioned by `recorded_at` (migration 022); this module
 * keeps partitions ready ahead of time and drops whole expired partitions, never deleting rows:
 *
 * - A partition has expired when it ends at least `windowMs` ago.
 * - An expired partition of the log is dropped once every connector's cursor is past its last
 *   event. A connector whose cursor is still in or before an expired partition has fallen behind
 *   the window: it is marked `failed`, its last error naming the events it will miss (recorded
 *   from when to when, and until when they are kept). The partition is kept one more window for it,
 *   then dropped all the same (the error then says the events were dropped), so a stuck connector
 *   cannot make the log grow without bound: the log holds at most two windows.
 * - Expired partitions of `published_event_ids` are dropped at once: idempotency ids expire with
 *   the window.
 *
 * Every process runs this on a timer; an advisory lock makes one do it at a time. All functions take
 * `now`, so tests can move the clock.
 */
import type { Db, Queryable } from '../storage/index.js';
import { BATCH_SLOTS } from './log.js';

export interface RetentionOptions {
  /** How long the log keeps events (RIVULET_EVENT_LOG_RETENTION_SECONDS; 7 days by default). */
  windowMs: number;
  /** The time span of one partition (a seventh of the window by default). */
  partitionMs: number;
  /** Partitions kept ready ahead of `now`. */
  ahead?: number;
}

type Parent = 'event_batches' | 'published_event_ids';
const PARENTS: Parent[] = ['event_batches', 'published_event_ids'];
// An arbitrary constant: the advisory lock that lets one process at a time manage partitions.
const RETENTION_LOCK_ID = 7_313_022;

interface PartitionRow {
  name: string;
  parent: Parent;
  starts_at: Date | null;
  ends_at: Date;
}

/** Creates the partitions missing between the newest one and `now` + `ahead` partitions; returns their names. */
export async function ensurePartitions(db: Db, opts: RetentionOptions, now = new Date()): Promise<string[]> {
  const width = opts.partitionMs;
  const target = now.getTime() + (opts.ahead ?? 3) * width;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK_ID]);
    const created: string[] = [];
    for (const parent of PARENTS) {
      const { rows } = await tx.query<{ end: Date | null }>('SELECT max(ends_at) AS "end" FROM event_log_partitions WHERE parent = $1', [parent]);
      let start = rows[0]?.end ? new Date(rows[0].end).getTime() : Math.floor(now.getTime() / width) * width;
      // After a long stop (or a clock moved by a test), one partition covers the time that passed but
      // the last twelve partitions' worth.
      const recent = (Math.floor(now.getTime() / width) - 12) * width;
      if (recent - start > width) {
        created.push(await addPartition(tx, parent, start, recent));
        start = recent;
      }
      while (start < target) {
        let end = (Math.floor(start / width) + 1) * width;
        if (end - start < width / 2) end += width;
        created.push(await addPartition(tx, parent, start, end));
        start = end;
      }
    }
    return created;
  });
}

async function addPartition(tx: Queryable, parent: Parent, startMs: number, endMs: number): Promise<string> {
  const { rows } = await tx.query<{ name: string }>('SELECT event_log_add_partition($1, $2, $3) AS name', [parent, new Date(startMs), new Date(endMs)]);
  return rows[0]!.name;
}

export interface Gap {
  connectorId: string;
  partition: string;
  from: Date | null;
  to: Date;
  events: number;
  dropped: boolean;
}

export interface RetentionOutcome {
  dropped: string[];
  /** Connectors behind the window, with the events they miss (or will miss). */
  gaps: Gap[];
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : 'the beginning');

/** Drops the expired partitions that may go (see the module's comment); marks connectors that fell behind. */
export async function enforceRetention(db: Db, opts: RetentionOptions, now = new Date()): Promise<RetentionOutcome> {
  const expiredBefore = new Date(now.getTime() - opts.windowMs);
  const graceBefore = new Date(now.getTime() - 2 * opts.windowMs);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK_ID]);
    // Dropping a partition locks the whole table briefly: give up (and try again next round)
    // rather than queue every writer behind a long reader.
    await tx.query(`SELECT set_config('lock_timeout', '2000', true)`);
    const { rows: expired } = await tx.query<PartitionRow>(
      'SELECT name, parent, starts_at, ends_at FROM event_log_partitions WHERE ends_at <= $1 ORDER BY ends_at',
      [expiredBefore],
    );
    const outcome: RetentionOutcome = { dropped: [], gaps: [] };
    for (const p of expired) {
      if (p.parent === 'event_batches') {
        const last = await tx.query<{ txid: string; pos: number; events: number }>(
          `SELECT txid::text AS txid, seq * ${BATCH_SLOTS} + count - 1 AS pos,
                  (SELECT coalesce(sum(count), 0) FROM ${quoteIdent(p.name)})::int8 AS events
             FROM ${quoteIdent(p.name)} ORDER BY txid DESC, seq DESC LIMIT 1`,
        );
        const end = last.rows[0];
        if (end) {
          const { rows: behind } = await tx.query<{ id: string }>(
            `SELECT id FROM currents_connectors WHERE (cursor_txid, cursor_seq) < ($1::xid8, $2::bigint) ORDER BY id`,
            [end.txid, end.pos],
          );
          if (behind.length) {
            const dropped = new Date(p.ends_at).getTime() <= graceBefore.getTime();
            for (const b of behind) outcome.gaps.push({ connectorId: b.id, partition: p.name, from: p.starts_at, to: p.ends_at, events: end.events, dropped });
            if (!dropped) continue;
          }
        }
      }
      await tx.query(`DROP TABLE ${quoteIdent(p.name)}`);
      await tx.query('DELETE FROM event_log_partitions WHERE name = $1', [p.name]);
      outcome.dropped.push(p.name);
    }
    // One message per connector: what it missed, if anything was dropped, else the oldest gap.
    const byConnector = new Map<string, Gap[]>();
    for (const g of outcome.gaps) byConnector.set(g.connectorId, [...(byConnector.get(g.connectorId) ?? []), g]);
    for (const gaps of byConnector.values()) {
      const missed = gaps.filter((g) => g.dropped);
      const shown = missed.length ? missed : gaps.slice(0, 1);
      const gap: Gap = { ...shown[0]!, to: shown.at(-1)!.to, events: shown.reduce((n, g) => n + g.events, 0), partition: shown.map((g) => g.partition).join(', ') };
      await markBehind(tx, gap, new Date(new Date(gap.to).getTime() + opts.windowMs), opts.windowMs, now);
    }
    return outcome;
  });
}

async function markBehind(tx: Queryable, gap: Gap, keptUntil: Date, windowMs: number, now: Date): Promise<void> {
  const window = `${Math.round(windowMs / 3_600_000)} h`;
  const range = `events recorded from ${iso(gap.from)} to ${iso(gap.to)} (up to ${gap.events} events, partitions ${gap.partition})`;
  const message = gap.dropped
    ? `missed events: fell behind the event log's ${window} retention window; ${range} were dropped before this connector delivered them`
    : `behind the event log's ${window} retention window: ${range} are older than the window and are kept for this connector only until ${keptUntil.toISOString()}`;
  await tx.query(
    `UPDATE currents_connectors SET health = 'failed', incident_started_at = coalesce(incident_started_at, $3),
            last_error = $2, last_error_at = $3, updated_at = now()
      WHERE id = $1 AND last_error IS DISTINCT FROM $2`,
    [gap.connectorId, message, now],
  );
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`unexpected partition name ${name}`);
  return `"${name}"`;
}

/** What the log keeps now: the earliest recorded batch (null for an empty log). */
export async function logKeptSince(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ since: Date | null }>('SELECT min(recorded_at) AS since FROM event_batches');
  return rows[0]?.since ?? null;
}

/** Keeps partitions ready and drops expired ones every `everyMs`; returns a stop function. */
export function startRetention(db: Db, opts: RetentionOptions & { everyMs: number }, onError: (err: unknown) => void, onGap: (gap: Gap) => void = () => {}): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const round = () => {
    running = running.then(async () => {
      try {
        await ensurePartitions(db, opts);
        const out = await enforceRetention(db, opts);
        out.gaps.forEach(onGap);
      } catch (err) {
        onError(err);
      }
    });
  };
  const timer = setInterval(round, opts.everyMs);
  timer.unref();
  round();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
