/**
 * A Current's delivery history, drawn with uPlot from `GET /admin/currents/{id}/history` (kept on
 * the server per minute for 48 h and per hour for 30 days, so an outage stays visible after a
 * restart or with the page closed). Drag across a chart to zoom, double-click to zoom out; the
 * legend under each chart is its tooltip (values at the cursor). Missing minutes (no process
 * delivered, e.g. the server was down) are gaps, not zeros.
 */
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiFailure, get } from '../api';
import { CURRENTS_ROUTES, History, type HistoryPoint } from './api';

export type { HistoryPoint } from './api';

const RANGES = [
  { label: '1 h', ms: 3_600_000 },
  { label: '6 h', ms: 6 * 3_600_000 },
  { label: '24 h', ms: 24 * 3_600_000 },
  { label: '7 days', ms: 7 * 24 * 3_600_000 },
  { label: '30 days', ms: 30 * 24 * 3_600_000 },
];
const REFRESH_MS = 30_000;

/** The fields of a history point that are numbers (or null where not measured). */
type NumericField = { [K in keyof HistoryPoint]: HistoryPoint[K] extends number | null ? K : never }[keyof HistoryPoint];

/** Columns for uPlot: one x per bucket of the range, null where the history has no row. */
export function columns(h: History, fields: NumericField[]): uPlot.AlignedData {
  const step = h.resolution === 'hour' ? 3_600_000 : 60_000;
  const from = Math.floor(Date.parse(h.from) / step) * step;
  const to = Date.parse(h.to);
  const byBucket = new Map(h.points.map((p) => [Date.parse(p.at), p]));
  const xs: number[] = [];
  for (let t = from; t < to; t += step) xs.push(t);
  return [xs.map((t) => t / 1000), ...fields.map((f) => xs.map((t) => byBucket.get(t)?.[f] ?? null))];
}

function Plot({ title, data, series, axes = [{}, { size: 56 }], height = 200 }: { title: string; data: uPlot.AlignedData; series: uPlot.Series[]; axes?: uPlot.Axis[]; height?: number }) {
  const box = useRef<HTMLDivElement | null>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, Math.round(el.getBoundingClientRect().width));
    const u = new uPlot(
      {
        title,
        width,
        height,
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true } },
        series: [{}, ...series],
        axes,
      },
      data,
      el,
    );
    plot.current = u;
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(280, Math.round(el.getBoundingClientRect().width)), height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Series are fixed per chart; new data is handed over below without rebuilding the chart.
  }, [title, height]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <div ref={box} className="history-chart" role="img" aria-label={title} />;
}

export function HistoryCharts({ id }: { id: string }) {
  const [range, setRange] = useState(RANGES[1]!);
  const [history, setHistory] = useState<History | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    const load = async () => {
      const to = new Date();
      const from = new Date(to.getTime() - range.ms);
      try {
        const h = await get(History, `${CURRENTS_ROUTES.history(id)}?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
        if (live) {
          setHistory(h);
          setError(undefined);
        }
      } catch (e) {
        if (live) setError(e instanceof ApiFailure ? e.message : String(e));
      }
    };
    void load();
    const timer = window.setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [id, range]);

  const unit = history?.resolution === 'hour' ? 'hour' : 'minute';
  return (
    <div className="history">
      <div className="history-ranges" role="group" aria-label="History range">
        {RANGES.map((r) => (
          <button key={r.label} type="button" className={`button button-small${r === range ? ' button-primary' : ''}`} aria-pressed={r === range} onClick={() => setRange(r)}>
            {r.label}
          </button>
        ))}
        <span className="muted"> Drag to zoom, double-click to zoom out. Per {unit}; kept 48 h per minute, 30 days per hour.</span>
      </div>
      {error ? <p className="notice notice-error">Could not load the history: {error}</p> : null}
      {history ? (
        <>
          <p className="muted" data-testid="history-summary">
            {history.points.length === 0
              ? 'No delivery recorded in this range yet.'
              : `${history.points.reduce((n, p) => n + p.sent, 0)} sent, ${history.points.reduce((n, p) => n + p.failed, 0)} failed requests, ${history.points.reduce((n, p) => n + p.dead_lettered, 0)} dead-lettered in this range.`}
          </p>
          <Plot
            title={`Events per ${unit}`}
            data={columns(history, ['sent', 'skipped_total', 'dead_lettered', 'failed'])}
            series={[
              { label: 'sent', stroke: '#2f6fde', width: 2 },
              { label: 'skipped', stroke: '#8a94a6' },
              { label: 'dead-lettered', stroke: '#c2410c' },
              { label: 'failed requests', stroke: '#d62d2d', width: 2 },
            ]}
          />
          <Plot
            title="Lag and request latency"
            data={columns(history, ['lag_seconds', 'lag_events', 'latency_ms_avg'])}
            series={[
              { label: 'lag (s)', stroke: '#7c3aed', width: 2 },
              { label: 'lag (events)', stroke: '#0f766e' },
              { label: 'latency avg (ms)', stroke: '#b45309', scale: 'ms' },
            ]}
            // Lag on the left axis, request latency (milliseconds) on its own axis on the right.
            axes={[{}, { size: 56 }, { scale: 'ms', side: 1, size: 56, grid: { show: false } }]}
          />
        </>
      ) : error ? null : (
        <p className="muted">Loading the history…</p>
      )}
    </div>
  );
}
