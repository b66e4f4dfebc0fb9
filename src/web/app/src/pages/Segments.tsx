/** Saved segments, with a way to build a new one. */
import { EmptyState, Loaded } from '../components/feedback';
import { PageHeader } from '../components/ui';
import { when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';
import { SegmentPage } from '../types';

export function Segments() {
  const segments = useResource(SegmentPage, '/admin/segments?limit=1000');
  return (
    <>
      <PageHeader
        title="Segments"
        subtitle="Audiences built from imported cohorts, attributes, identity and behaviour."
        actions={
          <Link to="/segments/new" className="button button-primary">
            New segment
          </Link>
        }
      />
      <section className="card" aria-label="Segment list">
        <Loaded resource={segments} what="the segments" feature="Segments" needs="GET /admin/segments">
          {(data) =>
            data.segments.length ? (
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Description</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.segments.map((s) => (
                      <tr key={s.id}>
                        <td>
                          <Link to={`/segments/${s.id}`}>{s.name}</Link>
                        </td>
                        <td className="muted">{s.description ?? ''}</td>
                        <td className="nowrap">{when(s.updated_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <EmptyState title="No segments yet">
                <Link to="/segments/new">Build one</Link>: for example “Mixpanel_Cohorts includes Power users”.
              </EmptyState>
            )
          }
        </Loaded>
      </section>
    </>
  );
}
