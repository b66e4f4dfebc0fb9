/** On a user's page: the campaign messages they received and their subscription states. */
import { Loaded } from '../components/feedback';
import { Badge, Section } from '../components/ui';
import { when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';
import { UserMessages as Messages } from './types';

export function UserMessages({ userId }: { userId: string }) {
  const r = useResource(Messages, `/admin/campaigns/recipients/${userId}`);
  return (
    <Section title="Messages and subscriptions">
      <Loaded resource={r} what="the user's messages" feature="Campaign messages" needs="GET /admin/campaigns/recipients/:user_id">
        {(m) => (
          <>
            <dl className="kv" data-testid="subscriptions">
              <div>
                <dt>Email</dt>
                <dd>
                  {m.subscriptions.email_subscribe ?? 'subscribed'}
                  {m.subscriptions.email_hard_bounced ? ' · hard bounced' : ''}
                  {m.subscriptions.email_spam_reported ? ' · marked as spam' : ''}
                </dd>
              </div>
              <div>
                <dt>Push</dt>
                <dd>{m.subscriptions.push_subscribe ?? 'subscribed'}</dd>
              </div>
            </dl>
            {m.messages.length ? (
              <div className="table-wrap">
                <table className="data" data-testid="user-messages">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Campaign</th>
                      <th scope="col">Variant</th>
                      <th scope="col">State</th>
                      <th scope="col">Engagement</th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.messages.map((x) => (
                      <tr key={x.send_id}>
                        <td className="nowrap">{when(x.created_at)}</td>
                        <td>
                          <Link to={`/campaigns/${x.campaign_id}`}>{x.campaign_name}</Link> <span className="muted small">{x.channel}</span>
                        </td>
                        <td>{x.variant_id}</td>
                        <td>
                          <Badge value={x.state} /> {x.reason ? <span className="muted small">{x.reason}</span> : null}
                        </td>
                        <td className="muted">{[x.opened_at ? 'opened' : '', x.clicked_at ? 'clicked' : '', x.unsubscribed_at ? 'unsubscribed' : ''].filter(Boolean).join(' · ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p className="muted">No campaign messages yet.</p>
            )}
          </>
        )}
      </Loaded>
    </Section>
  );
}
