/**
 * The cursor rule of docs/reference/currents.md §3: a connector's cursor moves only past a contiguous run of
 * acknowledged work. Each page read from the log is a segment, acknowledged when every batch cut
 * from it is sent, skipped or dead-lettered; batches may finish in any order. Pure bookkeeping
 * (no I/O), with the per-reason tallies that are committed together with the cursor, so that
 * `read = sent + skipped + dead_lettered + in_flight` holds at every instant.
 */

/**
 * What became of an event, plus `fitted`: not an outcome of its own but the count of changes made to
 * sent events to fit Mixpanel's limits, by reason (docs/reference/currents.md §2.4). A `fitted` tally
 * counts changes, not events, and is left out of `read`.
 */
export type Outcome = 'sent' | 'skipped' | 'dead_lettered' | 'fitted';

export interface Tally {
  outcome: Outcome;
  eventType: string;
  reason: string;
  count: number;
}

/** Counts keyed by outcome, event type and reason. */
export class Tallies {
  private readonly counts = new Map<string, Tally>();

  add(outcome: Outcome, eventType: string, reason = '', count = 1): void {
    if (count === 0) return;
    const key = `${outcome}\u0000${eventType}\u0000${reason}`;
    const t = this.counts.get(key);
    if (t) t.count += count;
    else this.counts.set(key, { outcome, eventType, reason, count });
  }

  merge(other: Tallies): void {
    for (const t of other.list()) this.add(t.outcome, t.eventType, t.reason, t.count);
  }

  list(): Tally[] {
    return [...this.counts.values()];
  }

  total(outcome?: Outcome): number {
    let n = 0;
    for (const t of this.counts.values()) if (outcome === undefined || t.outcome === outcome) n += t.count;
    return n;
  }
}

export interface Segment<P> {
  readonly end: P;
  /** Events read in this segment. */
  readonly events: number;
  /** Batches cut from it that have not reached an outcome yet. */
  pending: number;
  readonly tallies: Tallies;
}

export interface SettledRun<P> {
  /** The position the cursor may move to. */
  end: P;
  events: number;
  tallies: Tallies;
}

export class AckWindow<P> {
  private readonly segments: Segment<P>[] = [];
  private inFlight = 0;

  /** Opens a segment for a page ending at `end`; its batches are announced with `pending`. */
  open(end: P, events: number, pending: number): Segment<P> {
    const segment: Segment<P> = { end, events, pending, tallies: new Tallies() };
    this.segments.push(segment);
    this.inFlight += events;
    return segment;
  }

  /** One batch of `segment` reached its outcome. */
  settleBatch(segment: Segment<P>): void {
    if (segment.pending <= 0) throw new Error('ack-window: segment has no pending batch');
    segment.pending -= 1;
  }

  /** Removes the leading run of settled segments, merged; `null` when the head is still pending. */
  takeSettled(): SettledRun<P> | null {
    let run: SettledRun<P> | null = null;
    while (this.segments.length > 0 && this.segments[0]!.pending === 0) {
      const s = this.segments.shift()!;
      this.inFlight -= s.events;
      if (!run) run = { end: s.end, events: s.events, tallies: s.tallies };
      else {
        run.end = s.end;
        run.events += s.events;
        run.tallies.merge(s.tallies);
      }
    }
    return run;
  }

  /** Events read but not yet behind the cursor. */
  get inFlightEvents(): number {
    return this.inFlight;
  }

  get openSegments(): number {
    return this.segments.length;
  }
}
