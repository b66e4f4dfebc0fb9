/** Every campaign with its results, per variant and control: sent, delivered, opens, clicks, conversions, unsubscribes, bounces. */
import { Fragment } from 'react';
import { EmptyState, Loaded } from '../components/feedback';
import { Badge, PageHeader } from '../components/ui';
import { CampaignOverviewPage, type Counts } from '../campaigns/types';
import { count, when } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';

function Cells({ c }: { c: Counts }) {
  return (
    <>
      <td className="num">{count(c.sent)}</td>
      <td className="num">{count(c.delivered)}</td>
      <td className="num">{count(c.unique_opens)}</td>
      <td className="num">{count(c.unique_clicks)}</td>
      <td className="num">{c.conversions === null ? '—' : count(c.conversions)}</td>
      <td className="num">{count(c.unsubscribes)}</td>
      <td className="num">{count(c.bounces)}</td>
    </>
  );
}

export function Campaigns() {
  const list = useResource(CampaignOverviewPage, '/admin/campaigns/overview', { refreshMs: 3000 });
  return (
    <>
      <PageHeader
        title="Campaigns"
        subtitle="Email and webhook messages sent to a segment, with their results per variant and control group."
        actions={
          <Link to="/campaigns/new" className="button button-primary">
            New campaign
          </Link>
        }
      />
      <section className="card" aria-label="Campaign list">
        <Loaded resource={list} what="the campaigns" feature="Campaigns" needs="GET /admin/campaigns/overview">
          {(data) =>
            data.campaigns.length ? (
              <div className="table-wrap">
                <table className="data" data-testid="campaign-table">
                  <thead>
                    <tr>
                      <th scope="col">Campaign / variant</th>
                      <th scope="col">State</th>
                      <th scope="col">Sent</th>
                      <th scope="col">Delivered</th>
                      <th scope="col">Unique opens</th>
                      <th scope="col">Clicks</th>
                      <th scope="col">Conversions</th>
                      <th scope="col">Unsubscribes</th>
                      <th scope="col">Bounces</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.campaigns.map((c) => (
                      <Fragment key={c.id}>
                        <tr data-campaign={c.name}>
                          <th scope="row">
                            <Link to={`/campaigns/${c.id}`}>{c.name}</Link> <span className="muted small">{c.channel} · {when(c.created_at)}</span>
                          </th>
                          <td>
                            <Badge value={c.state} />
                          </td>
                          <Cells c={c.totals} />
                        </tr>
                        {c.variants.length > 1 || c.variants.some((v) => v.variant_id === 'control')
                          ? c.variants.map((v) => (
                              <tr key={`${c.id}:${v.variant_id}`} className="subrow" data-variant={`${c.name}:${v.variant_id}`}>
                                <td className="muted">↳ {v.variant_id === 'control' ? `Control group (${count(v.control)})` : v.name}</td>
                                <td />
                                <Cells c={v} />
                              </tr>
                            ))
                          : null}
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <EmptyState title="No campaigns yet">
                <Link to="/campaigns/new">Compose one</Link>: pick a segment, write the message, preview it for a real user, launch.
              </EmptyState>
            )
          }
        </Loaded>
      </section>
    </>
  );
}
