/**
 * Pull-sync settings: the stored Mixpanel connections that poll Mixpanel's engage API for cohort
 * snapshots (cohort-import.md §5). Shows each connection's project, region, cohorts, schedule,
 * match key and state.
 */
import { when } from '../format';
import { useResource } from '../hooks';
import { EmptyState, Loaded } from './feedback';
import { Badge } from './ui';

export interface PullConnection {
  id: string;
  project_id: string;
  workspace_id?: string | null;
  region: string;
  cohort_ids: string[];
  mode: string;
  interval_minutes?: number | null;
  match_key: string;
  state?: string;
  last_run_at?: string | null;
  next_run_at?: string | null;
  last_error?: string | null;
}

export const PULL_ROUTE = '/admin/mixpanel/connections';

export function PullConnections() {
  const connections = useResource<{ connections: PullConnection[] }>(PULL_ROUTE);
  return (
    <Loaded resource={connections} what="the pull connections" feature="Pull sync" needs={`GET ${PULL_ROUTE}`}>
      {(data) =>
        data.connections.length ? (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Region</th>
                  <th scope="col">Cohorts</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Match key</th>
                  <th scope="col">State</th>
                  <th scope="col">Last run</th>
                </tr>
              </thead>
              <tbody>
                {data.connections.map((c) => (
                  <tr key={c.id}>
                    <td>{c.project_id}</td>
                    <td>{c.region}</td>
                    <td>{c.cohort_ids.join(', ')}</td>
                    <td>{c.mode === 'dynamic' ? `every ${c.interval_minutes ?? 15} min` : 'one time'}</td>
                    <td>
                      <code>{c.match_key}</code>
                    </td>
                    <td>{c.state ? <Badge value={c.state} /> : '—'}</td>
                    <td className="nowrap">
                      {when(c.last_run_at)}
                      {c.last_error ? <div className="error-cell">{c.last_error}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <EmptyState title="No pull connections">Pull mode polls Mixpanel's engage API with a service account. The webhook above is preferred for large cohorts.</EmptyState>
        )
      }
    </Loaded>
  );
}
