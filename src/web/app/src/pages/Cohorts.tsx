/** The cohorts imported from partners: name, partner, members, last sync and its source. */
import { EmptyState, Loaded } from '../components/feedback';
import { PageHeader } from '../components/ui';
import { count, when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';
import { CohortPage } from '../types';

export function Cohorts() {
  const cohorts = useResource(CohortPage, '/admin/cohorts?limit=1000', { refreshMs: 15_000 });
  return (
    <>
      <PageHeader title="Cohorts" subtitle="Audiences imported from Mixpanel (and other partners), kept in sync by their partner." />
      <section className="card" aria-label="Cohort list">
        <Loaded resource={cohorts} what="the cohorts">
          {(data) =>
            data.cohorts.length ? (
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Partner</th>
                      <th scope="col" className="num">
                        Members
                      </th>
                      <th scope="col">Last sync</th>
                      <th scope="col">Source</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.cohorts.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`/cohorts/${c.id}`}>{c.name}</Link>
                          <div className="muted small">id {c.cohort_id}</div>
                        </td>
                        <td>{c.partner}</td>
                        <td className="num" data-testid="member-count">
                          {count(c.member_count)}
                        </td>
                        <td className="nowrap">{when(c.last_synced_at)}</td>
                        <td>{c.last_source ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <EmptyState title="No cohorts yet">
                Generate a data import key on the <Link to="/partners/mixpanel">Mixpanel page</Link>, then connect Mixpanel's webhook destination or partner export
                to this instance. Cohorts appear here after their first sync.
              </EmptyState>
            )
          }
        </Loaded>
      </section>
    </>
  );
}
