/** One cohort: its numbers, adds and removes per day as a chart, and its sync history. */
import { BarChart } from '../components/charts';
import { EmptyState, Loaded } from '../components/feedback';
import { SyncHistory } from '../components/SyncHistory';
import { PageHeader, Section, Stat } from '../components/ui';
import { count, day, lastDays, when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';
import { CohortDetail } from '../types';

/** Fills days without changes with zeros, so the chart's time axis is even. */
export function dailySeries(daily: CohortDetail['daily'], days = 30): { labels: string[]; added: number[]; removed: number[] } {
  const byDay = new Map(daily.map((d) => [d.day, d]));
  const first = daily[0]?.day;
  const window = lastDays(days);
  const span = first && first < window[0]! ? lastDays(Math.min(365, Math.ceil((Date.now() - Date.parse(first)) / 86_400_000) + 1)) : window;
  return {
    labels: span.map(day),
    added: span.map((d) => Number(byDay.get(d)?.added ?? 0)),
    removed: span.map((d) => Number(byDay.get(d)?.removed ?? 0)),
  };
}

export function CohortPage({ id }: { id: string }) {
  const cohort = useResource(CohortDetail, `/admin/cohorts/${encodeURIComponent(id)}`, { refreshMs: 15_000 });
  return (
    <Loaded resource={cohort} what="the cohort">
      {(c) => {
        const series = dailySeries(c.daily);
        return (
          <>
            <PageHeader title={c.name} subtitle={<><Link to="/cohorts">Cohorts</Link> › {c.partner} cohort {c.cohort_id}</>} />
            <Section title="Summary">
              <dl className="stats">
                <Stat label="Members" value={<span data-testid="cohort-members">{count(c.member_count)}</span>} />
                <Stat label="Partner" value={c.partner} />
                <Stat label="Segment filter" value={<code>{c.filter ?? '—'}</code>} />
                <Stat label="Last sync" value={when(c.last_synced_at)} />
                <Stat label="Last source" value={c.last_source ?? '—'} />
                <Stat label="Created" value={when(c.created_at)} />
              </dl>
              {c.description ? <p className="muted">{c.description}</p> : null}
            </Section>
            <Section title="Adds and removes per day">
              {c.daily.length ? (
                <BarChart
                  title={`Members added and removed per day, ${c.name}`}
                  labels={series.labels}
                  series={[
                    { label: 'added', tone: 'a', values: series.added },
                    { label: 'removed', tone: 'b', values: series.removed },
                  ]}
                />
              ) : (
                <EmptyState title="No membership changes yet">Adds and removes are charted per UTC day once a sync changes the cohort.</EmptyState>
              )}
            </Section>
            <Section title="Sync history">
              <SyncHistory syncs={c.syncs} showCohort={false} />
            </Section>
          </>
        );
      }}
    </Loaded>
  );
}
