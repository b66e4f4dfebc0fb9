/**
 * The in-memory side of a Current's delivery history (docs/reference/currents.md §3, "History"): counts and
 * maxima per connector, minute and metric, added to on the export's hot path (a few map updates,
 * no I/O) and drained once a minute by the recorder into `currents_history`. Metrics whose name
 * ends in `_max` keep the greatest value of the minute; every other metric is a sum.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** A metric name that keeps a maximum rather than a sum. */
export const isMaximum = (metric: string): boolean => metric.endsWith('_max');

export interface HistoryRow {
  connectorId: string;
  /** Start of the minute, in ms since the epoch. */
  bucket: number;
  metric: string;
  value: number;
}

export class MinuteAggregator {
  /** connector → minute → metric → value */
  private readonly data = new Map<string, Map<number, Map<string, number>>>();

  constructor(private readonly now: () => number = Date.now) {}

  add(connectorId: string, metric: string, amount: number, at = this.now()): void {
    if (amount === 0) return;
    const m = this.metrics(connectorId, at);
    m.set(metric, (m.get(metric) ?? 0) + amount);
  }

  max(connectorId: string, metric: string, value: number, at = this.now()): void {
    const m = this.metrics(connectorId, at);
    const seen = m.get(metric);
    if (seen === undefined || value > seen) m.set(metric, value);
  }

  /** Takes every row aggregated so far (the aggregator is empty afterwards). */
  drain(): HistoryRow[] {
    const rows: HistoryRow[] = [];
    for (const [connectorId, minutes] of this.data) {
      for (const [bucket, metrics] of minutes) for (const [metric, value] of metrics) rows.push({ connectorId, bucket, metric, value });
    }
    this.data.clear();
    return rows;
  }

  /** Puts rows back (a flush that failed), merged with whatever was added since. */
  restore(rows: readonly HistoryRow[]): void {
    for (const r of rows) {
      if (isMaximum(r.metric)) this.max(r.connectorId, r.metric, r.value, r.bucket);
      else this.add(r.connectorId, r.metric, r.value, r.bucket);
    }
  }

  get empty(): boolean {
    return this.data.size === 0;
  }

  private metrics(connectorId: string, at: number): Map<string, number> {
    const bucket = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let minutes = this.data.get(connectorId);
    if (!minutes) this.data.set(connectorId, (minutes = new Map()));
    let metrics = minutes.get(bucket);
    if (!metrics) minutes.set(bucket, (metrics = new Map()));
    return metrics;
  }
}

/** One point of the history as the admin API returns it. */
export interface HistoryPoint {
  at: string;
  sent: number;
  skipped: Record<string, number>;
  skipped_total: number;
  dead_lettered: number;
  fitted: number;
  failed: number;
  requests: number;
  latency_ms_avg: number | null;
  latency_ms_max: number | null;
  lag_seconds: number | null;
  lag_events: number | null;
}

/** Turns (bucket, metric, value) rows, ordered by bucket, into points. */
export function toPoints(rows: ReadonlyArray<{ bucket: number; metric: string; value: number }>): HistoryPoint[] {
  const points = new Map<number, Map<string, number>>();
  for (const r of rows) {
    let m = points.get(r.bucket);
    if (!m) points.set(r.bucket, (m = new Map()));
    m.set(r.metric, r.value);
  }
  return [...points.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([bucket, m]) => {
      const skipped: Record<string, number> = {};
      let skippedTotal = 0;
      for (const [metric, value] of m) {
        if (!metric.startsWith('skipped:')) continue;
        skipped[metric.slice('skipped:'.length)] = value;
        skippedTotal += value;
      }
      const requests = m.get('requests') ?? 0;
      const latencySum = m.get('latency_ms_sum');
      return {
        at: new Date(bucket).toISOString(),
        sent: m.get('sent') ?? 0,
        skipped,
        skipped_total: skippedTotal,
        dead_lettered: m.get('dead_lettered') ?? 0,
        fitted: m.get('fitted') ?? 0,
        failed: m.get('failed') ?? 0,
        requests,
        latency_ms_avg: requests > 0 && latencySum !== undefined ? Math.round((latencySum / requests) * 10) / 10 : null,
        latency_ms_max: m.get('latency_ms_max') ?? null,
        lag_seconds: m.get('lag_seconds_max') ?? null,
        lag_events: m.get('lag_events_max') ?? null,
      };
    });
}
