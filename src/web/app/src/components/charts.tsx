/**
 * Hand-written SVG charts (bars and lines) for the few time series the dashboard shows: cohort adds
 * and removes per day, data points per day, a connector's throughput and lag. A chart library
 * would weigh more than the whole app. Each chart scales with its container, names itself for
 * screen readers and offers its numbers as a table.
 */
import { useEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import { count } from '../format';

export interface Series {
  label: string;
  /** CSS class that colours the series (see styles.css `.series-*`). */
  tone: 'a' | 'b' | 'c' | 'd';
  values: number[];
}

interface ChartProps {
  title: string;
  labels: string[];
  series: Series[];
  /** Formats y values (axis and table). */
  format?: (n: number) => string;
}

const H = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 52 };

/** The figure's width in CSS pixels, so the SVG is drawn 1:1 and its text stays 11 px at any size. */
function useWidth(): [RefObject<HTMLElement | null>, number] {
  const ref = useRef<HTMLElement | null>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = () => setWidth(Math.max(280, Math.round(el.getBoundingClientRect().width)));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** 0 and 4 "nice" steps covering max. */
function ticks(max: number): number[] {
  if (max <= 0) return [0, 1];
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.001; v += step) out.push(Math.round(v * 1000) / 1000);
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! + step);
  return out;
}

function Frame({ W, title, labels, top, format, children }: { W: number; title: string; labels: string[]; top: number; format: (n: number) => string; children: ReactNode }) {
  const yTicks = ticks(top);
  const max = yTicks[yTicks.length - 1]!;
  const plotH = H - PAD.top - PAD.bottom;
  const plotW = W - PAD.left - PAD.right;
  const every = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(plotW / 64))));
  return (
    <>
      {yTicks.map((t) => {
        const y = PAD.top + plotH - (t / max) * plotH;
        return (
          <g key={t} className="axis">
            <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} className="grid" />
            <text x={PAD.left - 6} y={y + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        );
      })}
      {labels.map((l, i) =>
        (labels.length - 1 - i) % every === 0 ? (
          <text key={l + i} className="axis" x={PAD.left + ((i + 0.5) * plotW) / labels.length} y={H - 8} textAnchor="middle">
            {l}
          </text>
        ) : null,
      )}
      <title>{title}</title>
      {children}
    </>
  );
}

function scaleMax(series: Series[]): number {
  return Math.max(0, ...series.flatMap((s) => s.values));
}

function Legend({ series }: { series: Series[] }) {
  return (
    <ul className="legend">
      {series.map((s) => (
        <li key={s.label}>
          <span className={`swatch series-${s.tone}`} aria-hidden="true" />
          {s.label}
        </li>
      ))}
    </ul>
  );
}

function DataTable({ labels, series, format }: { labels: string[]; series: Series[]; format: (n: number) => string }) {
  return (
    <details className="chart-data">
      <summary>Show the numbers</summary>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((l, i) => (
              <tr key={l + i}>
                <th scope="row">{l}</th>
                {series.map((s) => (
                  <td key={s.label}>{format(s.values[i] ?? 0)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

export function BarChart({ title, labels, series, format = count }: ChartProps) {
  const [ref, W] = useWidth();
  const yTicks = ticks(scaleMax(series));
  const max = yTicks[yTicks.length - 1]!;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, labels.length);
  const barW = Math.max(1, (slot * 0.8) / series.length);
  return (
    <figure className="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        <Frame W={W} title={title} labels={labels} top={scaleMax(series)} format={format}>
          {series.map((s, si) =>
            s.values.map((v, i) => {
              const h = (v / max) * plotH;
              return (
                <rect
                  key={`${si}-${i}`}
                  className={`bar series-${s.tone}`}
                  x={PAD.left + i * slot + slot * 0.1 + si * barW}
                  y={PAD.top + plotH - h}
                  width={barW}
                  height={h}
                >
                  <title>{`${labels[i]}: ${format(v)} ${s.label}`}</title>
                </rect>
              );
            }),
          )}
        </Frame>
      </svg>
      <figcaption>
        <Legend series={series} />
      </figcaption>
      <DataTable labels={labels} series={series} format={format} />
    </figure>
  );
}

export function LineChart({ title, labels, series, format = count }: ChartProps) {
  const [ref, W] = useWidth();
  const yTicks = ticks(scaleMax(series));
  const max = yTicks[yTicks.length - 1]!;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, labels.length);
  const x = (i: number) => PAD.left + (i + 0.5) * slot;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  return (
    <figure className="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        <Frame W={W} title={title} labels={labels} top={scaleMax(series)} format={format}>
          {series.map((s) => (
            <g key={s.label}>
              <polyline className={`line series-${s.tone}`} points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
              {s.values.length <= 40
                ? s.values.map((v, i) => (
                    <circle key={i} className={`dot series-${s.tone}`} cx={x(i)} cy={y(v)} r={2.5}>
                      <title>{`${labels[i]}: ${format(v)} ${s.label}`}</title>
                    </circle>
                  ))
                : null}
            </g>
          ))}
        </Frame>
      </svg>
      <figcaption>
        <Legend series={series} />
      </figcaption>
      <DataTable labels={labels} series={series} format={format} />
    </figure>
  );
}
