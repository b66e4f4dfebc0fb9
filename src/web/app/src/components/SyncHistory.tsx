/** The cohort sync history table: one row per partner request, webhook message or pull run. */
import { count, when } from '../format';
import { Link } from '../router';
import type { SyncRow } from '../types';
import { EmptyState } from './feedback';
import { Badge } from './ui';

/** `cohortNames` (cohort id → name) lets rows name their cohort instead of showing its partner id. */
export function SyncHistory({ syncs, showCohort = true, cohortNames }: { syncs: SyncRow[]; showCohort?: boolean; cohortNames?: ReadonlyMap<string, string> }) {
  if (!syncs.length) {
    return (
      <EmptyState title="No syncs yet">
        Each partner request, webhook message and pull run is listed here with its counts and errors.
      </EmptyState>
    );
  }
  return (
    <div className="table-wrap">
      <table className="data">
        <caption className="offscreen">Cohort syncs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            {showCohort ? <th scope="col">Cohort</th> : null}
            <th scope="col">Source</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Received
            </th>
            <th scope="col" className="num">
              Matched
            </th>
            <th scope="col" className="num">
              Unmatched
            </th>
            <th scope="col" className="num">
              Added
            </th>
            <th scope="col" className="num">
              Removed
            </th>
            <th scope="col" className="num">
              Unchanged
            </th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {syncs.map((s) => {
            const unmatched = s.unmatched.not_found + s.unmatched.device_id_of_identified_user;
            return (
              <tr key={s.id}>
                <td className="nowrap">{when(s.at)}</td>
                {showCohort ? (
                  <td>
                    {s.cohort_id ? <Link to={`/cohorts/${s.cohort_id}`}>{s.cohort_name ?? cohortNames?.get(s.cohort_id) ?? s.partner_cohort_id ?? s.cohort_id}</Link> : (s.partner_cohort_id ?? '—')}
                    {s.cohort_id && (s.cohort_name || cohortNames?.has(s.cohort_id)) ? <div className="muted small">{s.partner_cohort_id}</div> : null}
                  </td>
                ) : null}
                <td>
                  {s.source}
                  {s.action ? <span className="muted"> · {s.action}</span> : null}
                </td>
                <td>
                  <Badge value={s.status} />
                  {s.empty ? (
                    <span className="muted small" title="Nothing received, added or removed: an empty page or an empty cohort">
                      {' '}
                      empty
                    </span>
                  ) : null}
                  {s.status === 'staged' ? (
                    <div className="muted small" title="A page of a webhook members run, kept until every page has arrived; dropped 72 hours after its latest page if the run never completes">
                      waiting for the run's other pages
                    </div>
                  ) : null}
                </td>
                <td className="num">{count(s.received)}</td>
                <td className="num">{count(s.matched)}</td>
                <td className="num" title={`not found: ${s.unmatched.not_found}; device id of an identified user: ${s.unmatched.device_id_of_identified_user}`}>
                  {count(unmatched)}
                </td>
                <td className="num">{count(s.added)}</td>
                <td className="num">{count(s.removed)}</td>
                <td className="num">{count(s.unchanged)}</td>
                <td className="error-cell">{s.error ?? ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
