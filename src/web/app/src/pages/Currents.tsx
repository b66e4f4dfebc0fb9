/** The Currents connectors (Mixpanel exports) with their state, and the way to create one. */
import { CURRENTS_ROUTES, ConnectorPage } from '../currents/api';
import { EmptyState, Loaded } from '../components/feedback';
import { Badge, PageHeader } from '../components/ui';
import { count, duration, when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';

export function Currents() {
  const list = useResource(ConnectorPage, `${CURRENTS_ROUTES.list}?limit=1000`, { refreshMs: 10_000 });
  return (
    <>
      <PageHeader
        title="Currents"
        subtitle="Behaviour and message-engagement events streamed to Mixpanel's ingestion API."
        actions={
          <Link to="/currents/new" className="button button-primary">
            Create Current
          </Link>
        }
      />
      <section className="card" aria-label="Connectors">
        <Loaded resource={list} what="the connectors" feature="Currents" needs={`GET ${CURRENTS_ROUTES.list}`}>
          {(data) => {
            const connectors = data.connectors;
            return connectors.length ? (
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th scope="col">Integration</th>
                      <th scope="col">Destination</th>
                      <th scope="col">State</th>
                      <th scope="col" className="num">
                        Delivered (24 h)
                      </th>
                      <th scope="col" className="num">
                        Lag
                      </th>
                      <th scope="col">Last error</th>
                      <th scope="col">Region</th>
                      <th scope="col" className="num">
                        Event types
                      </th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {connectors.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`/currents/${c.id}`}>{c.name}</Link>
                        </td>
                        <td>Mixpanel Export{c.base_url ? <div className="muted small">{c.base_url}</div> : null}</td>
                        <td>
                          <Badge value={c.state} />
                        </td>
                        <td className="num" data-testid="delivered-24h">{c.delivered_24h === null || c.delivered_24h === undefined ? '—' : count(c.delivered_24h)}</td>
                        <td className="num">{c.lag ? `${count(c.lag.events)} · ${duration(c.lag.seconds)}` : '—'}</td>
                        <td>
                          {c.last_error ? (
                            <>
                              <div className="error-cell">{c.last_error}</div>
                              <div className="muted small nowrap">{when(c.last_error_at)}</div>
                            </>
                          ) : (
                            <span className="muted">none</span>
                          )}
                        </td>
                        <td>{c.region}</td>
                        <td className="num">{count(c.event_types.length)}</td>
                        <td className="nowrap">{when(c.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <EmptyState title="No Currents yet">
                <Link to="/currents/new">Create a Current → Mixpanel Export</Link> to stream events to a Mixpanel project.
              </EmptyState>
            );
          }}
        </Loaded>
      </section>
    </>
  );
}
