/**
 * Technology Partners > Mixpanel: everything an operator needs to connect Mixpanel's cohorts to
 * this instance — the REST endpoint, the data import keys, the webhook URL and its credentials,
 * the pull connections, and the sync history that shows whether it works.
 */
import { useState } from 'react';
import { ApiFailure, post, put } from '../api';
import { ErrorMessage, Loaded } from '../components/feedback';
import { PullConnections } from '../components/PullConnections';
import { SyncHistory } from '../components/SyncHistory';
import { Badge, ConfirmButton, CopyField, PageHeader, Section } from '../components/ui';
import { when } from '../format';
import { useResource } from '../hooks';
import { CohortPage, ImportKey, ImportKeyPage, NewImportKey, type PartnerInfo, PartnerList, PartnerSettings, StaleSyncList, SyncPage, SyncRejectionPage } from '../types';

export function MixpanelPartner() {
  const partners = useResource(PartnerList, '/admin/partners');
  const [filter, setFilter] = useState<{ cohort: string; status: string }>({ cohort: '', status: '' });
  const [pages, setPages] = useState<string[]>([]);
  const query = new URLSearchParams({ limit: '50', ...(filter.cohort ? { cohort_id: filter.cohort } : {}), ...(filter.status ? { status: filter.status } : {}) });
  if (pages.length > 0) query.set('cursor', pages[pages.length - 1]!);
  const syncs = useResource(SyncPage, `/admin/cohort-syncs?${query.toString()}`, { refreshMs: pages.length ? undefined : 10_000 });
  const cohorts = useResource(CohortPage, '/admin/cohorts?limit=1000', { refreshMs: 10_000 });
  const cohortNames = new Map((cohorts.data?.cohorts ?? []).map((c) => [c.id, c.name]));
  const setFilterTo = (next: { cohort: string; status: string }) => {
    setPages([]);
    setFilter(next);
  };
  return (
    <>
      <PageHeader title="Mixpanel" subtitle="Technology Partners › Mixpanel: cohorts from Mixpanel become cohorts here, usable in segments as Mixpanel_Cohorts." />
      <Loaded resource={partners} what="the partner settings">
        {(data) => {
          const mixpanel = data.partners.find((p) => p.partner === 'mixpanel');
          return mixpanel ? <Endpoints restEndpoint={data.rest_endpoint} partner={mixpanel} /> : <ErrorMessage error="Mixpanel is not in this server's partner registry." />;
        }}
      </Loaded>
      <ImportKeys onChange={partners.reload} />
      <Loaded resource={partners} what="the webhook settings">
        {(data) => {
          const mixpanel = data.partners.find((p) => p.partner === 'mixpanel');
          return mixpanel?.webhook_url ? <Webhook partner={mixpanel} onSaved={partners.reload} /> : null;
        }}
      </Loaded>
      <Section title="Pull sync (engage API)">
        <PullConnections />
      </Section>
      <SyncProblems />
      <Section title="Sync history" actions={<button type="button" className="button button-small" onClick={() => (syncs.reload(), cohorts.reload())}>Refresh</button>}>
        <div className="inline-form">
          <label>
            Cohort{' '}
            <select value={filter.cohort} onChange={(e) => setFilterTo({ ...filter, cohort: e.target.value })} data-testid="sync-filter-cohort">
              <option value="">All cohorts</option>
              {(cohorts.data?.cohorts ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>{' '}
          <label>
            Result{' '}
            <select value={filter.status} onChange={(e) => setFilterTo({ ...filter, status: e.target.value })} data-testid="sync-filter-status">
              <option value="">All results</option>
              {['applied', 'staged', 'incomplete', 'failed', 'rejected'].map((st) => (
                <option key={st} value={st}>
                  {st}
                </option>
              ))}
            </select>
          </label>
        </div>
        <Loaded resource={syncs} what="the sync history">
          {(data) => (
            <>
              <SyncHistory syncs={data.syncs} cohortNames={cohortNames} />
              <p className="small">
                {pages.length > 0 ? (
                  <button type="button" className="button button-small" onClick={() => setPages(pages.slice(0, -1))}>
                    Newer
                  </button>
                ) : null}{' '}
                {data.next_cursor ? (
                  <button type="button" className="button button-small" onClick={() => setPages([...pages, data.next_cursor!])}>
                    Older
                  </button>
                ) : null}
              </p>
            </>
          )}
        </Loaded>
      </Section>
    </>
  );
}

function Endpoints({ restEndpoint, partner }: { restEndpoint: string; partner: PartnerInfo }) {
  return (
    <Section title="REST endpoint">
      <p className="muted">
        Give Mixpanel (or any partner script) this instance's REST endpoint and a data import key. Cohort names go to the cohort endpoint, membership
        changes to the user cohort endpoint; both take <code>partner_api_key</code> and <code>client_secret</code> (the data import key) in the JSON body.
      </p>
      <div className="grid-2">
        <CopyField label="REST endpoint" value={restEndpoint} />
        <CopyField label="Cohort name endpoint" value={partner.cohort_endpoint} />
        <CopyField label="User cohort endpoint" value={partner.user_cohort_endpoint} />
        <div className="copy-field">
          <span className="label">Partner</span>
          <p>
            {partner.name} <Badge value={partner.enabled ? 'active' : 'paused'} /> · segment filter <code>{partner.filter}</code>
          </p>
        </div>
      </div>
    </Section>
  );
}

function ImportKeys({ onChange }: { onChange: () => void }) {
  const keys = useResource(ImportKeyPage, '/admin/import-keys?limit=1000');
  const [fresh, setFresh] = useState<NewImportKey | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const act = async (what: () => Promise<NewImportKey | undefined>) => {
    setBusy(true);
    setError(undefined);
    try {
      const created = await what();
      setFresh(created);
      keys.reload();
      onChange();
    } catch (e) {
      setError(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
    } finally {
      setBusy(false);
    }
  };
  const mixpanelKeys = keys.data?.keys.filter((k) => k.partner === 'mixpanel') ?? [];
  const hasActive = mixpanelKeys.some((k) => k.state === 'active');

  return (
    <Section
      title="Data import keys"
      actions={
        <button type="button" className="button button-primary" disabled={busy} onClick={() => void act(() => post(NewImportKey, '/admin/import-keys', { partner: 'mixpanel' }))}>
          {hasActive ? 'Generate another key' : 'Generate key'}
        </button>
      }
    >
      <p className="muted">
        The data import key selects this workspace. Mixpanel sends it as <code>client_secret</code>, or as the Basic-auth password of the webhook. Rotating or
        invalidating a key stops the old one at once.
      </p>
      {error ? <ErrorMessage error={error} action="change the key" /> : null}
      {fresh ? (
        <div className="notice notice-secret" role="status" aria-live="polite">
          <p>
            <strong>Copy this key now: it is shown only once.</strong> {fresh.replaces ? `It replaces ${fresh.replaces}, which no longer works.` : ''}
          </p>
          <CopyField label={`New data import key (${fresh.prefix})`} value={fresh.key} />
          <button type="button" className="button button-small button-ghost" onClick={() => setFresh(undefined)}>
            I have stored it
          </button>
        </div>
      ) : null}
      <Loaded resource={keys} what="the data import keys">
        {() =>
          mixpanelKeys.length ? (
            <div className="table-wrap">
              <table className="data">
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">State</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last used</th>
                    <th scope="col">
                      <span className="offscreen">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {mixpanelKeys.map((k) => (
                    <tr key={k.prefix}>
                      <td>
                        <code>{k.prefix}…</code>
                      </td>
                      <td>
                        <Badge value={k.state} />
                      </td>
                      <td className="nowrap">{when(k.created_at)}</td>
                      <td className="nowrap">{when(k.last_used_at)}</td>
                      <td>
<div className="row-actions">
                        {k.state === 'active' ? (
                          <>
                            <ConfirmButton confirm={`Rotate ${k.prefix}`} disabled={busy} onConfirm={() => void act(() => post(NewImportKey, `/admin/import-keys/${k.prefix}/rotate`))}>
                              Rotate
                            </ConfirmButton>
                            <ConfirmButton
                              confirm={`Invalidate ${k.prefix}`}
                              disabled={busy}
                              onConfirm={() => void act(async () => (await post(ImportKey, `/admin/import-keys/${k.prefix}/invalidate`), undefined))}
                            >
                              Invalidate
                            </ConfirmButton>
                          </>
                        ) : null}
                      </div>
</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="muted">No data import key yet. Generate one to let Mixpanel push cohorts.</p>
          )
        }
      </Loaded>
    </Section>
  );
}

const MATCH_KEYS = [
  { value: 'distinct_id', label: 'mixpanel_distinct_id = external id (default)' },
  { value: 'email', label: 'email = user email' },
  { value: 'property', label: 'an exported property = external id' },
];

function Webhook({ partner, onSaved }: { partner: PartnerInfo; onSaved: () => void }) {
  const current = partner.match_key ?? 'distinct_id';
  const [kind, setKind] = useState(current.startsWith('property:') ? 'property' : current);
  const [property, setProperty] = useState(current.startsWith('property:') ? current.slice('property:'.length) : '$braze_external_id');
  const [state, setState] = useState<{ saving: boolean; error?: ApiFailure; saved?: boolean }>({ saving: false });
  const save = async () => {
    setState({ saving: true });
    try {
      await put(PartnerSettings, '/admin/partners/mixpanel', { match_key: kind === 'property' ? `property:${property}` : kind });
      setState({ saving: false, saved: true });
      onSaved();
    } catch (e) {
      setState({ saving: false, error: e instanceof ApiFailure ? e : new ApiFailure(0, String(e)) });
    }
  };
  return (
    <Section title="Webhook (Mixpanel custom webhook destination)">
      <ol className="steps">
        <li>
          In Mixpanel, open <strong>Data › Destinations › Webhook</strong> and paste this URL:
          <CopyField label="Webhook URL" value={partner.webhook_url ?? ''} />
        </li>
        <li>
          Turn on <strong>Basic Auth</strong>: any username, and a <strong>data import key</strong> from above as the password.
        </li>
        <li>Choose the cohorts to sync. Mixpanel cannot edit the URL later; after rotating the key, update the connection's password in Mixpanel.</li>
      </ol>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="field field-wide">
          <label htmlFor="match-key">Match Mixpanel members by</label>
          <select id="match-key" value={kind} onChange={(e) => setKind(e.target.value)}>
            {MATCH_KEYS.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </div>
        {kind === 'property' ? (
          <div className="field">
            <label htmlFor="match-property">Property name</label>
            <input id="match-property" value={property} onChange={(e) => setProperty(e.target.value)} required />
          </div>
        ) : null}
        <button type="submit" className="button" disabled={state.saving}>
          Save match key
        </button>
        {state.saved ? (
          <span className="muted" role="status">
            Saved.
          </span>
        ) : null}
      </form>
      {state.error ? <ErrorMessage error={state.error} action="save the match key" /> : null}
    </Section>
  );
}

/** Rejected pushes and requests, and stale dynamic syncs: what a silent outage looks like. */
function SyncProblems() {
  const rejected = useResource(SyncRejectionPage, '/admin/cohort-sync-rejections?limit=50', { refreshMs: 10_000 });
  const stale = useResource(StaleSyncList, '/admin/cohort-syncs/stale', { refreshMs: 30_000 });
  return (
    <Section title="Rejected attempts and stale syncs" actions={<button type="button" className="button button-small" onClick={() => (rejected.reload(), stale.reload())}>Refresh</button>}>
      <Loaded resource={stale} what="the stale syncs">
        {(data) =>
          data.stale.length > 0 ? (
            <div className="notice notice-error" role="status" data-testid="stale-syncs">
              <strong>Stale:</strong> no good sync for more than two intervals —{' '}
              {data.stale.map((x) => `${x.name} (${x.kind === 'pull_connection' ? 'pull' : 'webhook'}, every ${Math.round(x.interval_seconds / 60)} min, last good ${x.last_success_at ? when(x.last_success_at) : 'never'})`).join('; ')}
            </div>
          ) : null
        }
      </Loaded>
      <Loaded resource={rejected} what="the rejected attempts">
        {(data) =>
          data.rejections.length === 0 ? (
            <p className="muted">No rejected webhook pushes or partner requests. A push refused for its key (rotated, invalidated, wrong) would be listed here.</p>
          ) : (
            <>
              {data.last_24h > 0 ? (
                <div className="notice notice-error" role="status" data-testid="rejections-24h">
                  {data.last_24h} rejected in the last 24 hours{data.rejections[0] ? `; latest: ${data.rejections[0].reason.replace(/_/g, ' ')} ${when(data.rejections[0].at)}` : ''}.
                </div>
              ) : null}
              <div className="table-wrap">
                <table className="data" data-testid="sync-rejections">
                  <caption className="offscreen">Rejected cohort sync attempts, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Via</th>
                      <th scope="col">Key</th>
                      <th scope="col">Why</th>
                      <th scope="col">Answer</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.rejections.map((r) => (
                      <tr key={r.id}>
                        <td className="nowrap">{when(r.at)}</td>
                        <td>{r.source === 'webhook' ? 'webhook' : 'partner API'}</td>
                        <td>{r.key_prefix ? <code>{r.key_prefix}…</code> : <span className="muted">none{r.attributed ? '' : ' (no key of this instance)'}</span>}</td>
                        <td>
                          <Badge value={r.reason} />
                        </td>
                        <td className="error-cell">
                          {r.status} {r.message ?? ''}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </Loaded>
    </Section>
  );
}
