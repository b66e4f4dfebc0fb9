/**
 * What the emulated Mixpanel holds: every stored record per project, plus the two dedup views of
 * mixpanel-import.md §6. Records are kept as their JSON text and the views as maps from a hashed
 * key to a record position, so a few million small events fit in memory.
 */
import { hash } from 'node:crypto';
import { KeyTable } from './key-table.js';
import type { DedupKey, ImportRecord } from './validation.js';

export type EventView = 'raw' | 'dedup' | 'dedup_daily';
export const EVENT_VIEWS: readonly EventView[] = ['raw', 'dedup', 'dedup_daily'];

const DAY_MS = 86_400_000;

interface ProjectEvents {
  raw: string[];
  /** Records received, retained or not. */
  received: number;
  /** (event, distinct_id, time in ms, $insert_id) → position of the latest record. */
  dedup: KeyTable;
  /** (event, distinct_id, $insert_id, UTC day) → position of the latest record. */
  daily: KeyTable;
}

export interface EventPage {
  total: number;
  /** The records of the page, each as its JSON text. */
  records: string[];
}

/**
 * The 128-bit digest of (event, distinct_id, $insert_id), the part both views share; each view adds
 * its number (the time in ms, or the UTC day). The text hashed is unambiguous: the event as a JSON
 * string (so even a lone surrogate stays distinct), then the distinct id with its length, then the
 * insert id. Keys are compared by digest, as the views always were.
 */
function digest(key: DedupKey): Buffer {
  return hash('md5', `${JSON.stringify(key.event)}${key.distinctId.length}:${key.distinctId}|${key.insertId}`, 'buffer');
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
      events = { raw: [], received: 0, dedup: new KeyTable(), daily: new KeyTable() };
      this.projects.set(projectId, events);
    }
    const position = events.received++;
    if (this.retainRecords) events.raw.push(JSON.stringify(record));
    const d = digest(key);
    const a = d.readUInt32LE(0);
    const b = d.readUInt32LE(4);
    const c = d.readUInt32LE(8);
    const e = d.readUInt32LE(12);
    events.dedup.set(a, b, c, e, key.timeMs, position);
    events.daily.set(a, b, c, e, Math.floor(key.timeMs / DAY_MS), position);
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
    const positions = (view === 'dedup' ? events.dedup : events.daily).values().sort();
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
