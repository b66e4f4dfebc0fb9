/** On a user's page: the Canvases the user is in (and was in), and at which step. */
import { Loaded } from '../components/feedback';
import { Badge, Section } from '../components/ui';
import { when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';
import { UserCanvases as Entries } from './types';

const where = (x: Entries['canvases'][number]) =>
  x.state !== 'active'
    ? `${x.state === 'exited' ? 'exited' : 'finished'}${x.step_name ? ` at ${x.step_name}` : ''}${x.end_reason ? ` (${x.end_reason.replace(/_/g, ' ')})` : ''}${x.ended_at ? `, ${when(x.ended_at)}` : ''}`
    : `${x.step_name ?? '—'}${x.phase === 'wait' ? `, waiting until ${when(x.due_at)}` : x.phase === 'listen' ? `, waiting for an action until ${when(x.due_at)}` : ''}`;

export function UserCanvases({ userId }: { userId: string }) {
  const r = useResource(Entries, `/admin/canvases/users/${userId}`);
  return (
    <Section title="Canvases">
      <Loaded resource={r} what="the user's Canvases" feature="Canvases" needs="GET /admin/canvases/users/:user_id">
        {(u) =>
          u.canvases.length ? (
            <div className="table-wrap">
              <table className="data" data-testid="user-canvases">
                <thead>
                  <tr>
                    <th scope="col">Canvas</th>
                    <th scope="col">State</th>
                    <th scope="col">Where</th>
                    <th scope="col">Entered</th>
                  </tr>
                </thead>
                <tbody>
                  {u.canvases.map((x) => (
                    <tr key={`${x.canvas_id}:${x.entered_at}`}>
                      <td>
                        <Link to={`/canvases/${x.canvas_id}`}>{x.canvas_name}</Link> <span className="muted small">v{x.version}{x.variant_id === 'control' ? ' · control group' : ''}</span>
                      </td>
                      <td>
                        <Badge value={x.state} />
                      </td>
                      <td>{where(x)}</td>
                      <td className="nowrap">{when(x.entered_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="muted">Not in any Canvas.</p>
          )
        }
      </Loaded>
    </Section>
  );
}
