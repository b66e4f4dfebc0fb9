/**
 * The live export of one connector: the delivery pipeline over the event log from the connector's
 * durable cursor, its own HTTP pool, its own health and auth gate. Nothing here is shared with
 * another connector, which is what keeps a failing one from slowing a healthy one (docs/reference/currents.md §3,
 * "Isolation"). Writes go through `checkpoint.ts`, conditional on this process's lease.
 */
import { cursorAfter, readLogPage, type LogCursor } from '../../events/index.js';
import type { Db } from '../../storage/index.js';
import type { CurrentsConfig } from '../config.js';
import type { SealedSecrets } from '../connectors/settings.js';
import { ingestionBaseUrl } from '../connectors/settings.js';
import type { Connector } from '../connectors/store.js';
import type { CurrentsLog } from '../log.js';
import { MAX_EVENTS_PER_BATCH } from '../mixpanel/batching.js';
import { MixpanelImportClient } from '../mixpanel/client.js';
import { noticeFor } from '../notifications/notices.js';
import { commitDeadLetters, commitHealth, ProgressCommitter } from './checkpoint.js';
import { HealthTracker } from './health.js';
import { DeliveryPipeline } from './pipeline.js';
import type { HistoryRecorder } from '../history/recorder.js';

export interface LiveExportOptions {
  db: Db;
  connector: Connector;
  secrets: SealedSecrets;
  config: CurrentsConfig;
  /** This process's lease owner id. */
  owner: string;
  log: CurrentsLog;
  /** Replaces the HTTP client (tests, benchmarks). */
  client?: MixpanelImportClient;
  /** Where outcomes, request latencies and failures go for the per-minute history. */
  history?: HistoryRecorder;
}

export function importClientFor(connector: Pick<Connector, 'region' | 'baseUrl' | 'maxInFlight'>, secrets: SealedSecrets, config: CurrentsConfig): MixpanelImportClient {
  return new MixpanelImportClient({
    baseUrl: ingestionBaseUrl(connector),
    secrets,
    connections: connector.maxInFlight,
    timeoutMs: config.requestTimeoutMs,
    gzipLevel: config.gzipLevel,
  });
}

export class LiveExport {
  readonly connectorId: string;
  readonly version: number;
  readonly health: HealthTracker;
  private readonly pipeline: DeliveryPipeline<LogCursor>;
  private readonly client: MixpanelImportClient;
  private retries = 0;
  private running: Promise<void> | null = null;

  constructor(opts: LiveExportOptions) {
    const { db, connector, secrets, config, owner, log, history } = opts;
    this.connectorId = connector.id;
    this.version = connector.version;
    this.client = opts.client ?? importClientFor(connector, secrets, config);
    const tag = { connector: connector.id };

    this.health = new HealthTracker({
      initial: connector.health,
      degradedAfterMs: config.degradedAfterMs * config.delayScale,
      persist: async (t) => {
        const notice = noticeFor(connector, t.from, t.to, t.detail, t.at);
        log.warn({ ...tag, from: t.from, to: t.to, detail: t.detail }, 'Mixpanel export health changed');
        try {
          await commitHealth(db, connector, owner, { ...t, notice });
        } catch (err) {
          log.error({ ...tag, err: { message: (err as Error).message } }, 'could not record a health change');
        }
      },
    });

    const committer = new ProgressCommitter(db, connector.id, owner);
    this.pipeline = new DeliveryPipeline<LogCursor>({
      start: connector.cursor,
      positionOf: cursorAfter,
      source: {
        read: (after, limit) => readLogPage(db, after, limit, connector.workspaceId),
      },
      checkpoint: {
        commit: async (run) => {
          const retries = this.retries;
          const ok = await committer.commit({
            end: run.end,
            tallies: run.tallies.list(),
            retries,
            lastError: this.health.lastError,
          });
          if (ok) this.retries -= retries;
          return ok;
        },
        deadLetter: (letters) => commitDeadLetters(db, connector.id, owner, letters),
      },
      mapping: { selectedTypes: new Set(connector.eventTypes), token: secrets.projectToken, partnerId: connector.partnerId },
      limits: { maxEvents: MAX_EVENTS_PER_BATCH, maxBytes: connector.batchByteCap },
      maxInFlight: connector.maxInFlight,
      pageSize: config.pageSize,
      send: {
        send: history
          ? async (body, signal) => {
              const began = performance.now();
              const answer = await this.client.send(body, signal);
              history.request(connector.id, performance.now() - began);
              return answer;
            }
          : (body, signal) => this.client.send(body, signal),
        health: this.health,
        delayScale: config.delayScale,
        authRetryMs: config.authRetryMs,
        onRetry: (verdict) => {
          this.retries += 1;
          history?.failure(connector.id);
          log.info({ ...tag, action: verdict.action, status: verdict.status, detail: verdict.detail }, 'Mixpanel import will be retried');
        },
        onUnlocatedRecords: (records) =>
          log.warn({ ...tag, records: records.length }, 'Mixpanel reported failed records that match no event of the batch'),
      },
      drain: false,
      idlePollMs: config.idlePollMs,
      onCommitted: history ? (run) => history.outcomes(connector.id, run.tallies.list()) : undefined,
      onError: (err, where) => log.error({ ...tag, where, err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'Mixpanel export error'),
    });
  }

  /** Runs until stopped or until the lease is lost; resolves then. */
  start(): Promise<void> {
    this.running ??= this.pipeline.run().finally(async () => {
      await this.health.flushed();
      await this.client.close();
    });
    return this.running;
  }

  async stop(): Promise<void> {
    await this.pipeline.stop();
    await this.running;
  }

  get inFlightEvents(): number {
    return this.pipeline.inFlightEvents;
  }

  get stopped(): boolean {
    return this.pipeline.stopped;
  }
}
