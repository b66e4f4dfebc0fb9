import { describe, expect, it } from 'vitest';
import { MinuteAggregator, toPoints } from './minutes.js';

describe('the in-memory minute aggregator', () => {
  it('sums counts and keeps maxima per connector, minute and metric, and drains empty', () => {
    let now = Date.UTC(2026, 0, 1, 10, 0, 5);
    const a = new MinuteAggregator(() => now);
    a.add('c1', 'sent', 3);
    a.add('c1', 'sent', 4);
    a.max('c1', 'latency_ms_max', 20);
    a.max('c1', 'latency_ms_max', 12);
    a.add('c2', 'failed', 1);
    now += 60_000;
    a.add('c1', 'sent', 1);
    a.add('c1', 'sent', 0);
    const rows = a.drain();
    expect(a.empty).toBe(true);
    const minute = Date.UTC(2026, 0, 1, 10, 0);
    expect(rows).toEqual([
      { connectorId: 'c1', bucket: minute, metric: 'sent', value: 7 },
      { connectorId: 'c1', bucket: minute, metric: 'latency_ms_max', value: 20 },
      { connectorId: 'c1', bucket: minute + 60_000, metric: 'sent', value: 1 },
      { connectorId: 'c2', bucket: minute, metric: 'failed', value: 1 },
    ]);
    // A failed write puts its rows back, merged with what came since.
    a.add('c1', 'sent', 2, minute);
    a.max('c1', 'latency_ms_max', 25, minute);
    a.restore(rows);
    expect(a.drain().filter((r) => r.bucket === minute && r.connectorId === 'c1')).toEqual([
      { connectorId: 'c1', bucket: minute, metric: 'sent', value: 9 },
      { connectorId: 'c1', bucket: minute, metric: 'latency_ms_max', value: 25 },
    ]);
  });

  it('turns rows into points: skips by reason, average latency, nulls where nothing was measured', () => {
    const t = Date.UTC(2026, 0, 1, 10, 0);
    const points = toPoints([
      { bucket: t + 60_000, metric: 'sent', value: 5 },
      { bucket: t, metric: 'skipped:not_selected', value: 2 },
      { bucket: t, metric: 'skipped:anonymous', value: 1 },
      { bucket: t, metric: 'requests', value: 4 },
      { bucket: t, metric: 'latency_ms_sum', value: 130 },
      { bucket: t, metric: 'latency_ms_max', value: 70 },
      { bucket: t, metric: 'lag_seconds_max', value: 9 },
    ]);
    expect(points).toEqual([
      {
        at: new Date(t).toISOString(),
        sent: 0,
        skipped: { not_selected: 2, anonymous: 1 },
        skipped_total: 3,
        dead_lettered: 0,
        fitted: 0,
        failed: 0,
        requests: 4,
        latency_ms_avg: 32.5,
        latency_ms_max: 70,
        lag_seconds: 9,
        lag_events: null,
      },
      expect.objectContaining({ at: new Date(t + 60_000).toISOString(), sent: 5, requests: 0, latency_ms_avg: null, lag_seconds: null }),
    ]);
  });
});
