/**
 * Backfill: re-export the events of a time range (by event time, `[from, to)`) to one connector,
 * through the same pipeline, mapping and `$insert_id` as the live export, so Mixpanel's dedup
 * absorbs any event it already has. It neither moves nor waits for the connector's cursor, keeps
 * its own counters in `currents_backfills`, and does not change the connector's health: a
 * backfill that meets a 401 waits and retries like the live export, and says so through `onProgress`.
 */
import { randomUUID } from 'node:crypto';
import { cursorAfter, LOG_START, readLogPage, type LogCursor } from '../../events/index.js';
import { logKeptSince } from '../../events/index.js';
import type { SecretBox } from '../../secrets/index.js';
import type { Db } from '../../storage/index.js';
import type { CurrentsConfig } from '../config.js';
import { getConnector, openSecrets } from '../connectors/store.js';
import type { SettledRun } from '../delivery/ack-window.js';
import { recordDeadLetters } from '../delivery/dead-letters.js';
import { HealthTracker } from '../delivery/health.js';
import { importClientFor } from '../delivery/live-export.js';
import { DeliveryPipeline } from '../delivery/pipeline.js';
import type { CurrentsLog } from '../log.js';
import { MAX_EVENTS_PER_BATCH } from '../mixpanel/batching.js';

/** A backfill walks the whole log in log order and sends the events of its time range. */
export type BackfillPosition = LogCursor;

export interface BackfillProgress {
  id: string;
  total: number;
  /** Events behind the committed position. */
  done: number;
  sent: number;
  skipped: number;
  deadLettered: number;
  retries: number;
  health: 'ok' | 'failed' | 'degraded';
  lastError: string | null;
  /**
   * How far back the log reaches (its retention window, src/events/retention.ts): events recorded
   * before it are no longer kept, so a range reaching further back finds only what is.
   */
  reach?: string;
}

export interface BackfillOptions {
  db: Db;
  box: SecretBox;
  config: CurrentsConfig;
  connectorId: string;
  fromSeconds: number;
  toSeconds: number;
  log: CurrentsLog;
  onProgress?: (p: BackfillProgress) => void;
  /** Aborting stops the backfill; what was committed stays counted. */
  signal?: AbortSignal;
}

export class BackfillError extends Error {
  override name = 'BackfillError';
}

/** Events of the workspace with `from <= time < to`, counted batch by batch (whole batches inside the range count as they are). */
async function countRange(db: Db, workspaceId: string, from: number, to: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT coalesce(sum(CASE WHEN min_time >= $2 AND max_time < $3 THEN count
                         ELSE (SELECT count(*) FROM json_array_elements(events) e
                                WHERE (e ->> 'time')::bigint >= $2 AND (e ->> 'time')::bigint < $3) END), 0)::int8 AS n
       FROM event_batches WHERE workspace_id = $1 AND max_time >= $2 AND min_time < $3`,
    [workspaceId, from, to],
  );
  return rows[0]!.n;
}

export async function runBackfill(opts: BackfillOptions): Promise<BackfillProgress & { state: 'done' | 'stopped' }> {
  const { db, config, log } = opts;
  if (!(opts.fromSeconds < opts.toSeconds)) throw new BackfillError('--from must be before --to');
  const connector = await getConnector(db, opts.connectorId);
  if (!connector) throw new BackfillError(`no connector ${opts.connectorId}`);
  const secrets = await openSecrets(db, opts.box, connector.id);
  const total = await countRange(db, connector.workspaceId, opts.fromSeconds, opts.toSeconds);
  const id = randomUUID();
  const since = await logKeptSince(db);
  const reach = since
    ? `the event log keeps events recorded since ${new Date(since).toISOString()} (its retention window); events recorded earlier are no longer there to re-export`
    : 'the event log is empty';
  const progress: BackfillProgress = { id, total, done: 0, sent: 0, skipped: 0, deadLettered: 0, retries: 0, health: 'ok', lastError: null, reach };
  await db.query('INSERT INTO currents_backfills (id, connector_id, from_time, to_time, total) VALUES ($1, $2, $3, $4, $5)', [
    id,
    connector.id,
    opts.fromSeconds,
    opts.toSeconds,
    progress.total,
  ]);

  const client = importClientFor(connector, secrets, config);
  const health = new HealthTracker({
    initial: 'ok',
    degradedAfterMs: config.degradedAfterMs * config.delayScale,
    persist: async (t) => {
      progress.health = t.to;
      opts.onProgress?.(progress);
    },
  });
  const pipeline = new DeliveryPipeline<BackfillPosition>({
    start: LOG_START,
    positionOf: cursorAfter,
    source: {
      // Every committed event, not only the settled ones: a past range does not wait for the horizon.
      read: (after, limit) =>
        readLogPage(db, after, limit, connector.workspaceId, { fromTime: opts.fromSeconds, toTime: opts.toSeconds, includeUnsettled: true }),
    },
    checkpoint: {
      commit: async (run: SettledRun<BackfillPosition>) => {
        const sent = run.tallies.total('sent');
        const skipped = run.tallies.total('skipped');
        const dead = run.tallies.total('dead_lettered');
        await db.query(
          `UPDATE currents_backfills SET read = read + $2, sent = sent + $3, skipped = skipped + $4, dead_lettered = dead_lettered + $5 WHERE id = $1`,
          [id, run.events, sent, skipped, dead],
        );
        Object.assign(progress, { done: progress.done + run.events, sent: progress.sent + sent, skipped: progress.skipped + skipped, deadLettered: progress.deadLettered + dead });
        opts.onProgress?.(progress);
        return true;
      },
      deadLetter: (letters) => recordDeadLetters(db, connector.id, 'backfill', letters),
    },
    mapping: { selectedTypes: new Set(connector.eventTypes), token: secrets.projectToken, partnerId: connector.partnerId },
    limits: { maxEvents: MAX_EVENTS_PER_BATCH, maxBytes: connector.batchByteCap },
    maxInFlight: connector.maxInFlight,
    pageSize: config.pageSize,
    send: {
      send: (body, signal) => client.send(body, signal),
      health,
      delayScale: config.delayScale,
      authRetryMs: config.authRetryMs,
      onRetry: (verdict) => {
        progress.retries += 1;
        progress.lastError = verdict.detail;
        opts.onProgress?.(progress);
      },
    },
    drain: true,
    idlePollMs: config.idlePollMs,
    onError: (err, where) => log.error({ backfill: id, where, err: { message: (err as Error).message } }, 'backfill error'),
  });

  const onAbort = () => void pipeline.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await pipeline.run();
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await client.close();
  }
  const state = pipeline.stopped ? 'stopped' : 'done';
  await db.query(`UPDATE currents_backfills SET state = $2, finished_at = now(), last_error = $3 WHERE id = $1`, [id, state, progress.lastError]);
  return { ...progress, state };
}
