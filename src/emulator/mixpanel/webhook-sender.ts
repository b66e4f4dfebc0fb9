/**
 * Mixpanel's "Webhook" cohort destination, reproduced (docs/reference/mixpanel-apis.md §10): configured syncs
 * that POST a project's cohorts to a target URL, one-time or every N seconds. Each cohort keeps
 * the snapshot of its last successful export; a run that does not fully succeed leaves it alone,
 * so the next run diffs from the same place (or restarts from the top with a full `members`
 * export when the snapshot has expired). Replies decide the outcome: a non-transient one pauses the
 * sync and records a notification; a transient one is retried (2, 4, 8, 16, 30 s by default) and
 * then fails the run. Each cohort of a sync is its own export with its own snapshot.
 */
import { randomUUID } from 'node:crypto';
import type { CohortBook, CohortMember } from './cohorts.js';
import { deliverPage, type DeliveryRecord } from './webhook-delivery.js';
import {
  deliveryOrder,
  memberRecord,
  paginate,
  planRun,
  type DeliveryFaults,
  type SenderAction,
  type Snapshot,
  type WebhookMessage,
} from './webhook-messages.js';

export interface SenderSettings {
  /** Waits before each retry of a transiently failed page; its length is the number of retries. */
  retryDelaysMs: number[];
  /** A reply must arrive within this long, else the attempt is a transient failure. */
  timeoutMs: number;
  /** A snapshot older than this is ignored: the next run sends the whole cohort again. */
  snapshotTtlMs: number;
  pageSize: number;
  /** Runs whose messages are kept for a replay, at most this many members in total. */
  replayMaxMembers: number;
}

export const DEFAULT_SENDER_SETTINGS: Readonly<SenderSettings> = {
  retryDelaysMs: [2000, 4000, 8000, 16000, 30000],
  timeoutMs: 30_000,
  snapshotTtlMs: 3 * 24 * 3_600_000,
  pageSize: 1000,
  replayMaxMembers: 200_000,
};

export type SyncSchedule = { kind: 'one_time' } | { kind: 'every'; seconds: number };

export interface WebhookSyncConfig {
  projectId: string;
  url: string;
  basicAuth?: { username: string; password: string };
  cohortIds: string[];
  /** "Properties to Export", added to each member. */
  properties: string[];
  schedule: SyncSchedule;
  firstSync: 'members' | 'add_members';
  /** Per-sync overrides of the sender's settings. */
  pageSize?: number;
  retryDelaysMs?: number[];
  timeoutMs?: number;
  faults: DeliveryFaults;
  /** Run at once on creation (default true); false waits for a trigger or the schedule. */
  start: boolean;
}

export type { DeliveryRecord } from './webhook-delivery.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'paused' | 'stopped';

export interface SyncRun {
  run: number;
  trigger: 'schedule' | 'manual' | 'replay';
  startedAtMs: number;
  finishedAtMs: number | null;
  status: RunStatus;
  error: string | null;
  cohorts: Array<{ cohortId: string; full: boolean; actions: Array<{ action: SenderAction; sessionId: string; pages: number; members: number }> }>;
  deliveries: DeliveryRecord[];
}

export type SyncState = 'active' | 'paused' | 'done' | 'failed';

export interface WebhookSync {
  id: string;
  config: WebhookSyncConfig;
  state: SyncState;
  lastError: string | null;
  notifications: Array<{ atMs: number; message: string }>;
  snapshots: Map<string, Snapshot>;
  runs: SyncRun[];
  nextRunAtMs: number | null;
}

interface SyncRuntime {
  sync: WebhookSync;
  busy: Promise<unknown>;
  timer: NodeJS.Timeout | null;
  lastMessages: WebhookMessage[] | null;
}

const RUN_HISTORY = 50;
const DELIVERY_HISTORY = 2000;

class RunEnded extends Error {
  constructor(
    readonly status: Exclude<RunStatus, 'running' | 'succeeded'>,
    message: string,
  ) {
    super(message);
  }
}

export class WebhookSender {
  readonly settings: SenderSettings;
  private readonly syncs = new Map<string, SyncRuntime>();
  private readonly abort = new AbortController();
  private nextId = 1;

  constructor(
    private readonly book: CohortBook,
    private readonly now: () => number,
    settings: Partial<SenderSettings> = {},
  ) {
    this.settings = { ...DEFAULT_SENDER_SETTINGS, ...settings };
  }

  create(config: WebhookSyncConfig): WebhookSync {
    const id = `sync-${this.nextId++}`;
    const sync: WebhookSync = { id, config, state: 'active', lastError: null, notifications: [], snapshots: new Map(), runs: [], nextRunAtMs: null };
    this.syncs.set(id, { sync, busy: Promise.resolve(), timer: null, lastMessages: null });
    if (config.start) this.schedule(id, 0);
    return sync;
  }

  get(id: string): WebhookSync | undefined {
    return this.syncs.get(id)?.sync;
  }

  list(): WebhookSync[] {
    return [...this.syncs.values()].map((r) => r.sync);
  }

  /** Runs the sync now, after any run in progress; resolves with the run's record. */
  run(id: string, trigger: SyncRun['trigger'] = 'manual'): Promise<SyncRun> {
    const rt = this.runtime(id);
    const next = rt.busy.then(() => (trigger === 'replay' ? this.replayOnce(rt) : this.runOnce(rt, trigger)));
    rt.busy = next.catch(() => undefined);
    return next;
  }

  setFaults(id: string, faults: DeliveryFaults): WebhookSync {
    const rt = this.runtime(id);
    rt.sync.config.faults = { ...faults };
    return rt.sync;
  }

  /** Un-pauses a sync (clearing its error) and reschedules it. */
  resume(id: string): WebhookSync {
    const rt = this.runtime(id);
    rt.sync.state = 'active';
    rt.sync.lastError = null;
    if (rt.sync.config.schedule.kind === 'every') this.schedule(id, 0);
    return rt.sync;
  }

  /** Forgets the snapshots: the next run sends every cohort whole, as after expiry. */
  forgetSnapshots(id: string): WebhookSync {
    const rt = this.runtime(id);
    rt.sync.snapshots.clear();
    return rt.sync;
  }

  delete(id: string): boolean {
    const rt = this.syncs.get(id);
    if (!rt) return false;
    if (rt.timer) clearTimeout(rt.timer);
    this.syncs.delete(id);
    return true;
  }

  /** Stops every timer and aborts deliveries in flight. */
  close(): void {
    this.abort.abort();
    for (const rt of this.syncs.values()) if (rt.timer) clearTimeout(rt.timer);
  }

  reset(): void {
    for (const id of [...this.syncs.keys()]) this.delete(id);
  }

  private runtime(id: string): SyncRuntime {
    const rt = this.syncs.get(id);
    if (!rt) throw new UnknownSync(id);
    return rt;
  }

  private schedule(id: string, delayMs: number): void {
    const rt = this.syncs.get(id);
    if (!rt || this.abort.signal.aborted) return;
    if (rt.timer) clearTimeout(rt.timer);
    rt.sync.nextRunAtMs = this.now() + delayMs;
    rt.timer = setTimeout(() => {
      rt.timer = null;
      rt.sync.nextRunAtMs = null;
      this.run(id, 'schedule').catch(() => undefined);
    }, delayMs);
    rt.timer.unref();
  }

  private startRun(rt: SyncRuntime, trigger: SyncRun['trigger']): SyncRun {
    const run: SyncRun = { run: rt.sync.runs.length + 1, trigger, startedAtMs: this.now(), finishedAtMs: null, status: 'running', error: null, cohorts: [], deliveries: [] };
    rt.sync.runs.push(run);
    if (rt.sync.runs.length > RUN_HISTORY) rt.sync.runs.splice(0, rt.sync.runs.length - RUN_HISTORY);
    return run;
  }

  private async runOnce(rt: SyncRuntime, trigger: SyncRun['trigger']): Promise<SyncRun> {
    const { sync } = rt;
    const run = this.startRun(rt, trigger);
    const sent: WebhookMessage[] = [];
    let keptMembers = 0;
    try {
      for (const cohortId of sync.config.cohortIds) {
        const cohort = this.book.get(sync.config.projectId, cohortId);
        if (!cohort) throw new RunEnded('paused', `cohort ${cohortId} does not exist in project ${sync.config.projectId}`);
        const current = this.book.members(cohort);
        const plan = planRun({
          current,
          snapshot: sync.snapshots.get(cohortId),
          nowMs: this.now(),
          snapshotTtlMs: this.settings.snapshotTtlMs,
          firstSync: sync.config.firstSync,
          profileOf: (distinctId): CohortMember => ({ distinctId, properties: this.book.profile(sync.config.projectId, distinctId) }),
        });
        const summary: SyncRun['cohorts'][number] = { cohortId, full: plan.full, actions: [] };
        run.cohorts.push(summary);
        for (const { action, members } of plan.actions) {
          const sessionId = randomUUID();
          const pages = paginate(
            action,
            members.map((m) => memberRecord(m, sync.config.properties)),
            sync.config.pageSize ?? this.settings.pageSize,
            { projectId: sync.config.projectId, cohortId, cohortName: cohort.name, cohortDescription: cohort.description, sessionId },
          );
          summary.actions.push({ action, sessionId, pages: pages.length, members: members.length });
          keptMembers += members.length;
          if (keptMembers <= this.settings.replayMaxMembers) sent.push(...pages);
          for (const message of deliveryOrder(pages, sync.config.faults)) {
            const limit = sync.config.faults.stopAfterPage;
            if (limit !== undefined && run.deliveries.length >= limit) throw new RunEnded('stopped', `stopped after page ${limit} (fault injection)`);
            await this.deliverOrEnd(rt, run, cohortId, message);
          }
        }
        sync.snapshots.set(cohortId, { ids: new Set(current.map((m) => m.distinctId)), takenAtMs: this.now() });
      }
      run.status = 'succeeded';
      sync.state = sync.config.schedule.kind === 'one_time' ? 'done' : 'active';
      sync.lastError = null;
    } catch (err) {
      this.endRun(rt, run, err);
    }
    rt.lastMessages = keptMembers <= this.settings.replayMaxMembers ? sent : null;
    run.finishedAtMs = this.now();
    if (sync.state === 'active' && sync.config.schedule.kind === 'every' && this.syncs.has(sync.id)) this.schedule(sync.id, sync.config.schedule.seconds * 1000);
    return run;
  }

  /** Sends the last run's messages again, in order, as Mixpanel may after a restart from the top. */
  private async replayOnce(rt: SyncRuntime): Promise<SyncRun> {
    const run = this.startRun(rt, 'replay');
    try {
      if (!rt.lastMessages) throw new RunEnded('failed', 'no run to replay (none yet, or the last one was too large to keep)');
      for (const message of rt.lastMessages) await this.deliverOrEnd(rt, run, message.parameters.mixpanel_cohort_id, message);
      run.status = 'succeeded';
    } catch (err) {
      this.endRun(rt, run, err);
    }
    run.finishedAtMs = this.now();
    return run;
  }

  private endRun(rt: SyncRuntime, run: SyncRun, err: unknown): void {
    const { sync } = rt;
    const ended = err instanceof RunEnded ? err : new RunEnded('failed', err instanceof Error ? err.message : String(err));
    run.status = ended.status;
    run.error = ended.message;
    sync.lastError = ended.message;
    if (ended.status === 'paused') {
      sync.state = 'paused';
      sync.notifications.push({ atMs: this.now(), message: `Sync ${sync.id} paused: ${ended.message}` });
    } else if (sync.config.schedule.kind === 'one_time' && run.trigger !== 'replay') {
      sync.state = 'failed';
    }
  }

  private async deliverOrEnd(rt: SyncRuntime, run: SyncRun, cohortId: string, message: WebhookMessage): Promise<void> {
    const { config } = rt.sync;
    const record = await deliverPage(config, cohortId, message, {
      retryDelaysMs: config.retryDelaysMs ?? this.settings.retryDelaysMs,
      timeoutMs: config.timeoutMs ?? this.settings.timeoutMs,
      signal: this.abort.signal,
    });
    run.deliveries.push(record);
    if (run.deliveries.length > DELIVERY_HISTORY) run.deliveries.splice(0, run.deliveries.length - DELIVERY_HISTORY);
    if (record.outcome === 'non_transient') throw new RunEnded('paused', `${record.status ?? ''} ${record.error ?? ''}`.trim());
    if (record.outcome === 'transient') throw new RunEnded('failed', `gave up after ${record.attempts} attempts: ${record.error}`);
  }
}

export class UnknownSync extends Error {
  constructor(readonly id: string) {
    super(`unknown webhook sync ${id}`);
  }
}
