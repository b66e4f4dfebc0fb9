/**
 * The delivery pipeline of one connector: read a page of the log, map every event (skip, dead-letter
 * or send, docs/reference/currents.md §2), cut the sendable ones into batches (≤ 2,000 events and the byte cap),
 * keep up to `maxInFlight` batches in flight, and commit the position past each contiguous run of
 * settled pages. The same pipeline serves the live export (a cursor over the log that never
 * drains) and backfill (a time range that ends); they differ only in their source and checkpoint.
 */
import type { StoredEvent } from '../../events/index.js';
import { batchSerialized, type BatchLimits } from '../mixpanel/batching.js';
import type { FitChanges } from '../mixpanel/limits.js';
import { mapForImport, type MixpanelMappingSettings } from '../mixpanel/mapping.js';
import { AckWindow, type Segment, type SettledRun } from './ack-window.js';
import type { DeadLetterInput } from './dead-letters.js';
import { deliverBatch, packBody, PackedDeliverable, type BatchResult, type Deliverable, type SendEnvironment } from './send-batch.js';
import { isAbort, Signal, sleep } from './waiting.js';

export interface PipelineSource<P> {
  /**
   * Scans up to `limit` rows after `after`: the events among them that are this pipeline's, the
   * position after the last row scanned, and how many were scanned (0 means "nothing yet", or
   * "done" when draining).
   */
  read(after: P, limit: number): Promise<{ events: StoredEvent[]; end: P; scanned: number }>;
}

export interface PipelineCheckpoint<P> {
  /** Persists a settled run; false means this pipeline lost the right to deliver and must stop. */
  commit(run: SettledRun<P>): Promise<boolean>;
  /** Stores dead letters before their batch counts as settled. */
  deadLetter(letters: DeadLetterInput[]): Promise<void>;
}

export interface PipelineOptions<P> {
  start: P;
  /** The position just after one event (what the cursor holds once that event is settled). */
  positionOf: (event: StoredEvent) => P;
  source: PipelineSource<P>;
  checkpoint: PipelineCheckpoint<P>;
  mapping: MixpanelMappingSettings;
  limits: BatchLimits;
  maxInFlight: number;
  pageSize: number;
  /** Everything the batch sender needs but the abort signal, which the pipeline owns. */
  send: Omit<SendEnvironment, 'signal'>;
  /** Stop when the source has nothing more (backfill); otherwise poll every `idlePollMs`. */
  drain: boolean;
  idlePollMs: number;
  /** How long settled pages may wait before their commit (commits are batched). */
  commitDelayMs?: number;
  onError: (err: unknown, where: string) => void;
  /** Called with each run right after it is committed. */
  onCommitted?: (run: SettledRun<P>) => void;
}

interface Job<P> {
  segment: Segment<P>;
  items: Deliverable[];
  /** The request body of `items` as UTF-8 bytes; their `json` is read from it. */
  body: Buffer;
}

const STORE_RETRY_MS = 1000;

export class DeliveryPipeline<P> {
  private readonly window = new AckWindow<P>();
  private readonly jobs: Job<P>[] = [];
  private readonly changed = new Signal();
  private readonly abort = new AbortController();
  private readerDone = false;
  private active = 0;
  private position: P;
  private uncommitted: SettledRun<P> | null = null;
  private committing: Promise<void> = Promise.resolve();
  private commitTimer: NodeJS.Timeout | null = null;
  private finished: Promise<void> | null = null;
  private lostOwnership = false;
  /** Events read since start (for progress), and the position committed last. */
  read = 0;
  committed: P;

  private readonly readAhead: number;

  constructor(private readonly opts: PipelineOptions<P>) {
    this.readAhead = Math.max(1, Math.ceil(opts.maxInFlight / 4));
    this.position = opts.start;
    this.committed = opts.start;
  }

  /** Events read but not yet behind the committed position. */
  get inFlightEvents(): number {
    return this.window.inFlightEvents + (this.uncommitted?.events ?? 0);
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Runs until drained (backfill), stopped, or ownership is lost. */
  run(): Promise<void> {
    this.finished ??= this.runAll();
    return this.finished;
  }

  /** Stops reading and sending; batches in flight are abandoned (they are re-read next start); settled ones are committed. */
  async stop(): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort(new DOMException('delivery stopped', 'AbortError'));
    this.changed.notify();
    await this.run();
  }

  private async runAll(): Promise<void> {
    const workers = Array.from({ length: this.opts.maxInFlight }, () => this.worker());
    await this.reader();
    await Promise.all(workers);
    if (this.commitTimer) clearTimeout(this.commitTimer);
    await this.commitSettled(true);
  }

  private async reader(): Promise<void> {
    const { signal } = this.abort;
    try {
      while (!signal.aborted) {
        // Read ahead only as far as keeps every sender busy: memory stays bounded by the batches in
        // flight, not by how far the log runs ahead.
        while (this.jobs.length >= this.readAhead && !signal.aborted) await this.changed.wait(signal);
        let page: { events: StoredEvent[]; end: P; scanned: number };
        try {
          page = await this.opts.source.read(this.position, this.opts.pageSize);
        } catch (err) {
          if (isAbort(err, signal)) break;
          this.opts.onError(err, 'reading the event log');
          await sleep(STORE_RETRY_MS, signal);
          continue;
        }
        if (page.scanned === 0) {
          if (this.opts.drain) break;
          await this.changed.wait(signal, this.opts.idlePollMs);
          continue;
        }
        await this.takePage(page.events, page.end);
        this.position = page.end;
        this.read += page.events.length;
      }
    } catch (err) {
      if (!isAbort(err, signal)) this.opts.onError(err, 'delivery reader');
    } finally {
      this.readerDone = true;
      this.changed.notify();
    }
  }

  /**
   * Maps one page into skips, dead letters and batches, and queues the batches. Each batch is its
   * own segment of the log (up to its last event, with the skipped events around it), so the
   * cursor can move batch by batch and a crash re-sends only what was in flight.
   */
  private async takePage(events: StoredEvent[], end: P): Promise<void> {
    const sends: PackedDeliverable[] = [];
    const sendIndex: number[] = [];
    const outcomes: Array<{ outcome: 'skipped' | 'dead_lettered'; reason: string } | null> = [];
    /** Changes made to fit Mixpanel's limits, by the index of the event. */
    const fits = new Map<number, FitChanges>();
    const deadLetters: DeadLetterInput[] = [];
    for (let index = 0; index < events.length; index++) {
      const e = events[index]!;
      const m = mapForImport(e, this.opts.mapping);
      if (m.outcome === 'skip') {
        outcomes.push({ outcome: 'skipped', reason: m.reason });
      } else if (m.outcome === 'send') {
        sends.push(new PackedDeliverable(e.id, this.typeName(e.event_type), m.insertId, m.json, m.bytes));
        sendIndex.push(index);
        outcomes.push(null);
        if (m.changes) fits.set(index, m.changes);
      } else {
        deadLetters.push({ eventId: e.id, eventType: e.event_type, insertId: m.insertId, reason: m.reason, field: null, message: null, event: m.event });
        outcomes.push({ outcome: 'dead_lettered', reason: m.reason });
      }
    }
    if (deadLetters.length > 0) await this.storeDeadLetters(deadLetters);
    const batches = batchSerialized(sends, this.opts.limits);

    let from = 0;
    let sent = 0;
    const openSegment = (to: number, segmentEnd: P, pending: number): Segment<P> => {
      const segment = this.window.open(segmentEnd, to - from, pending);
      for (let i = from; i < to; i++) {
        const o = outcomes[i];
        if (o) segment.tallies.add(o.outcome, events[i]!.event_type, o.reason);
        const fit = fits.get(i);
        if (fit) for (const [reason, n] of Object.entries(fit)) segment.tallies.add('fitted', events[i]!.event_type, reason, n);
      }
      from = to;
      return segment;
    };
    batches.forEach((b, k) => {
      sent += b.items.length;
      const last = k === batches.length - 1;
      const to = last ? events.length : sendIndex[sent - 1]! + 1;
      const segment = openSegment(to, last ? end : this.opts.positionOf(events[to - 1]!), 1);
      this.jobs.push({ segment, items: b.items, body: packBody(b.items, b.bytes) });
    });
    if (batches.length === 0) {
      openSegment(events.length, end, 0);
      this.scheduleCommit();
    }
    this.changed.notify();
  }

  /** One string per event type (a queued event then holds no type name of its own). */
  private readonly typeNames = new Map<string, string>();
  private typeName(type: string): string {
    const known = this.typeNames.get(type);
    if (known !== undefined) return known;
    this.typeNames.set(type, type);
    return type;
  }

  private async worker(): Promise<void> {
    const { signal } = this.abort;
    const env: SendEnvironment = { ...this.opts.send, signal };
    for (;;) {
      const job = this.jobs.shift();
      if (!job) {
        if (this.readerDone || signal.aborted) return;
        try {
          await this.changed.wait(signal);
        } catch {
          return;
        }
        continue;
      }
      this.changed.notify();
      this.active += 1;
      try {
        const result = await deliverBatch(job.items, env, job.body);
        await this.settle(job, result);
      } catch (err) {
        if (!isAbort(err, signal)) {
          this.opts.onError(err, 'delivering a batch');
          // Not settled: put it back so the cursor cannot pass it.
          this.jobs.unshift(job);
          await sleep(STORE_RETRY_MS, signal).catch(() => undefined);
        }
      } finally {
        this.active -= 1;
      }
    }
  }

  private async settle(job: Job<P>, result: BatchResult): Promise<void> {
    if (result.deadLetters.length > 0) await this.storeDeadLetters(result.deadLetters);
    // Counted per type first: one tally update per type instead of one per event.
    const sentByType = new Map<string, number>();
    for (const item of result.sent) sentByType.set(item.eventType, (sentByType.get(item.eventType) ?? 0) + 1);
    for (const [eventType, n] of sentByType) job.segment.tallies.add('sent', eventType, '', n);
    for (const dl of result.deadLetters) job.segment.tallies.add('dead_lettered', dl.eventType, dl.reason);
    this.window.settleBatch(job.segment);
    this.scheduleCommit();
  }

  /** Dead letters must be stored before their batch settles; a store outage holds the batch, never drops it. */
  private async storeDeadLetters(letters: DeadLetterInput[]): Promise<void> {
    for (;;) {
      try {
        await this.opts.checkpoint.deadLetter(letters);
        return;
      } catch (err) {
        if ((err as Error).name === 'LeaseLost') this.loseOwnership();
        if (this.abort.signal.aborted) throw err;
        this.opts.onError(err, 'storing dead letters');
        await sleep(STORE_RETRY_MS, this.abort.signal);
      }
    }
  }

  private scheduleCommit(): void {
    if (this.commitTimer || this.lostOwnership) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      void this.commitSettled(false);
    }, this.opts.commitDelayMs ?? 50);
  }

  /** Another process delivers now: stop, and commit nothing more. */
  private loseOwnership(): void {
    this.lostOwnership = true;
    if (!this.abort.signal.aborted) this.abort.abort(new DOMException('connector lease lost', 'AbortError'));
    this.changed.notify();
  }

  /** Commits the settled prefix (serialized); a failed commit keeps the run and tries again later. */
  private commitSettled(final: boolean): Promise<void> {
    this.committing = this.committing.then(async () => {
      const run = this.window.takeSettled();
      if (run) {
        if (!this.uncommitted) this.uncommitted = run;
        else {
          this.uncommitted.end = run.end;
          this.uncommitted.events += run.events;
          this.uncommitted.tallies.merge(run.tallies);
        }
      }
      const pending = this.uncommitted;
      if (!pending || this.lostOwnership) return;
      try {
        const ok = await this.opts.checkpoint.commit(pending);
        if (!ok) {
          this.loseOwnership();
          return;
        }
        this.uncommitted = null;
        this.committed = pending.end;
        this.opts.onCommitted?.(pending);
      } catch (err) {
        this.opts.onError(err, 'committing the cursor');
        if (!final) setTimeout(() => void this.commitSettled(false), STORE_RETRY_MS).unref();
      }
    });
    return this.committing;
  }
}
