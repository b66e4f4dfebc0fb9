/** Data points per UTC day (each applied cohort membership change is one), as a chart and totals. */
import { useState } from 'react';
import { BarChart, type Series } from '../components/charts';
import { EmptyState, Loaded } from '../components/feedback';
import { PageHeader, Section, Stat } from '../components/ui';
import { count, day, lastDays } from '../format';
import { useResource } from '../hooks';
import { DataPointUsage } from '../types';

const TONES: Series['tone'][] = ['a', 'b', 'c', 'd'];

export function Usage() {
  const [days, setDays] = useState(30);
  const range = lastDays(days);
  const usage = useResource(DataPointUsage, `/admin/usage/data-points?from=${range[0]}&to=${range[range.length - 1]}`);
  return (
    <>
      <PageHeader title="Usage" subtitle="Data points: one per user actually added to or removed from an imported cohort." />
      <Section
        title="Data points per day"
        actions={
          <div className="field field-inline">
            <label htmlFor="usage-range">Period</label>
            <select id="usage-range" value={days} onChange={(e) => setDays(Number(e.target.value))}>
              <option value={7}>last 7 days</option>
              <option value={30}>last 30 days</option>
              <option value={90}>last 90 days</option>
            </select>
          </div>
        }
      >
        <Loaded resource={usage} what="usage">
          {(data) => {
            const sources = [...new Set(data.days.flatMap((d) => Object.keys(d.by_source)))].sort();
            const byDay = new Map(data.days.map((d) => [d.day, d]));
            const series: Series[] = sources.map((source, i) => ({
              label: source,
              tone: TONES[i % TONES.length]!,
              values: range.map((d) => byDay.get(d)?.by_source[source] ?? 0),
            }));
            return (
              <>
                <dl className="stats">
                  <Stat label={`Total, last ${days} days`} value={<span data-testid="usage-total">{count(data.total)}</span>} />
                  <Stat label="Busiest day" value={data.days.length ? `${count(Math.max(...data.days.map((d) => d.data_points)))}` : '—'} />
                </dl>
                {data.total ? (
                  <BarChart title={`Data points per day, last ${days} days`} labels={range.map(day)} series={series} />
                ) : (
                  <EmptyState title="No data points in this period">Data points are logged when a cohort sync adds or removes users.</EmptyState>
                )}
              </>
            );
          }}
        </Loaded>
      </Section>
    </>
  );
}
