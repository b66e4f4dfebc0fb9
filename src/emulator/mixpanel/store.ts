/**
 * What the emulated Mixpanel holds: every stored record per project, plus the two dedup views of
 * mixpanel-import.md §6. Records are kept as their JSON text and the views as maps from a hashed
 * key to a record position, so a few million small events fit in memory.
 */
import { hash } from 'node:crypto';
import type { DedupKey, ImportRecord } from './validation.js';

export type EventView = 'raw' | 'dedup' | 'dedup_daily';
export const EVENT_VIEWS: readonly EventView[] = ['raw', 'dedup', 'dedup_daily'];

const DAY_MS = 86_400_000;

interface ProjectEvents {
  raw: string[];
  /** Records received, retained or not. */
  received: number;
  /** (event, distinct_id, time in ms, $insert_id) → position of the latest record. */
  dedup: Map<string, number>;
  /** (event, distinct_id, $insert_id, UTC day) → position of the latest record. */
  daily: Map<string, number>;
}

export interface EventPage {
  total: number;
  /** The records of the page, each as its JSON text. */
  records: string[];
}

function digest(parts: readonly (string | number)[]): string {
  return hash('md5', JSON.stringify(parts), 'base64');
}

export class EventStore {
  private readonly projects = new Map<string, ProjectEvents>();

  /**
   * `retainRecords: false` keeps only the counts and the dedup keys, not the records: for runs of
   * millions of events that only need the views' sizes (benchmarks). Pages then hold no records.
   */
  constructor(private readonly retainRecords = true) {}

  add(projectId: string, record: ImportRecord, key: DedupKey): void {
    let events = this.projects.get(projectId);
    if (!events) {
      events = { raw: [], received: 0, dedup: new Map(), daily: new Map() };
      this.projects.set(projectId, events);
    }
    const position = events.received++;
    if (this.retainRecords) events.raw.push(JSON.stringify(record));
    events.dedup.set(digest([key.event, key.distinctId, key.timeMs, key.insertId]), position);
    events.daily.set(digest([key.event, key.distinctId, key.insertId, Math.floor(key.timeMs / DAY_MS)]), position);
  }

  count(projectId: string, view: EventView): number {
    const events = this.projects.get(projectId);
    if (!events) return 0;
    return view === 'raw' ? events.received : view === 'dedup' ? events.dedup.size : events.daily.size;
  }

  /** A view in ingestion order; for the dedup views each key shows at its latest record. */
  page(projectId: string, view: EventView, offset = 0, limit = Number.POSITIVE_INFINITY): EventPage {
    const events = this.projects.get(projectId);
    if (!events) return { total: 0, records: [] };
    if (!this.retainRecords) return { total: this.count(projectId, view), records: [] };
    if (view === 'raw') {
      return { total: events.raw.length, records: events.raw.slice(offset, offset + limit) };
    }
    const positions = Float64Array.from((view === 'dedup' ? events.dedup : events.daily).values()).sort();
    const chosen = positions.subarray(offset, Math.min(positions.length, offset + limit));
    return { total: positions.length, records: Array.from(chosen, (p) => events.raw[p]!) };
  }

  /** Parsed records of a view, for tests and in-process callers. */
  records(projectId: string, view: EventView = 'dedup'): ImportRecord[] {
    return this.page(projectId, view).records.map((r) => JSON.parse(r) as ImportRecord);
  }

  clear(): void {
    this.projects.clear();
  }
}
