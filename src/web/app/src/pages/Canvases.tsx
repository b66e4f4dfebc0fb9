/** Every Canvas: its state, version, entry and how many users entered and are inside now. */
import { EmptyState, Loaded } from '../components/feedback';
import { Badge, PageHeader } from '../components/ui';
import { CanvasList } from '../canvases/types';
import { count, when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';

const ENTRY: Record<string, string> = { api: 'API-triggered', scheduled: 'Scheduled', action: 'Action-based' };

export function Canvases() {
  const list = useResource(CanvasList, '/admin/canvases', { refreshMs: 5000 });
  return (
    <>
      <PageHeader
        title="Canvases"
        subtitle="Multi-step journeys: messages, delays and paths, each user moving at their own pace."
        actions={
          <Link to="/canvases/new" className="button button-primary">
            New Canvas
          </Link>
        }
      />
      <section className="card" aria-label="Canvas list">
        <Loaded resource={list} what="the Canvases" feature="Canvases" needs="GET /admin/canvases">
          {(data) =>
            data.canvases.length ? (
              <div className="table-wrap">
                <table className="data" data-testid="canvas-table">
                  <thead>
                    <tr>
                      <th scope="col">Canvas</th>
                      <th scope="col">State</th>
                      <th scope="col">Entry</th>
                      <th scope="col">Steps</th>
                      <th scope="col">Entries</th>
                      <th scope="col">In the Canvas now</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.canvases.map((c) => (
                      <tr key={c.id} data-canvas={c.name}>
                        <th scope="row">
                          <Link to={`/canvases/${c.id}`}>{c.name}</Link> <span className="muted small">v{c.version} · {when(c.updated_at)}</span>
                        </th>
                        <td>
                          <Badge value={c.state} />
                        </td>
                        <td>{ENTRY[c.entry_type] ?? c.entry_type}</td>
                        <td className="num">{count(c.steps)}</td>
                        <td className="num">{count(c.entries)}</td>
                        <td className="num">{count(c.in_canvas)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <EmptyState title="No Canvases yet">
                <Link to="/canvases/new">Build one</Link>: add steps, connect them, check, launch.
              </EmptyState>
            )
          }
        </Loaded>
      </section>
    </>
  );
}
