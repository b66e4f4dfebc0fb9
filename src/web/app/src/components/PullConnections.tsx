/**
 * Pull-sync settings: the stored Mixpanel connections that poll Mixpanel's engage API for cohort
 * snapshots (docs/reference/cohort-import.md §5). Lists each connection's project, region, cohorts, schedule,
 * match key and state, runs one now or deletes it, and adds a new one.
 */
import { useState, type FormEvent } from 'react';
import { ApiFailure, del, post } from '../api';
import { when } from '../format';
import { useResource } from '../hooks';
import { EmptyState, ErrorMessage, Loaded } from './feedback';
import { Badge, ConfirmButton } from './ui';
import { NoContent } from '../types';
import type { Static } from 'typebox';
import * as Cohorts from '../../../../cohorts/contract';

export type PullConnection = Static<typeof Cohorts.PullConnection>;
const PullConnectionPage = Cohorts.PullConnectionPage;

export const PULL_ROUTE = '/admin/mixpanel/connections';

export function PullConnections() {
  const connections = useResource(PullConnectionPage, `${PULL_ROUTE}?limit=1000`, { refreshMs: 15_000 });
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const act = async (what: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await what();
      connections.reload();
    } catch (e) {
      setError(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
    }
  };
  return (
    <Loaded resource={connections} what="the pull connections" feature="Pull sync" needs={`GET ${PULL_ROUTE}`}>
      {(data) => (
        <>
          {error ? <ErrorMessage error={error} action="change the connection" /> : null}
          {data.connections.length ? (
            <div className="table-wrap">
              <table className="data">
                <thead>
                  <tr>
                    <th scope="col">Connection</th>
                    <th scope="col">Region</th>
                    <th scope="col">Cohorts</th>
                    <th scope="col">Schedule</th>
                    <th scope="col">Match key</th>
                    <th scope="col">State</th>
                    <th scope="col">Last run</th>
                    <th scope="col">
                      <span className="offscreen">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.connections.map((c) => (
                    <tr key={c.id}>
                      <td>
                        {c.name ?? `Mixpanel project ${c.project_id}`}
                        <div className="muted small">project {c.project_id}</div>
                      </td>
                      <td>{c.region}</td>
                      <td>{c.cohort_ids.join(', ')}</td>
                      <td>{c.mode === 'dynamic' ? `every ${c.interval_minutes ?? 15} min` : 'one time'}</td>
                      <td>
                        <code>{c.match_key}</code>
                      </td>
                      <td>
                        {c.state ? <Badge value={c.state} /> : '—'}
                        {c.running ? <div className="muted small">running</div> : null}
                      </td>
                      <td className="nowrap">
                        {when(c.last_run_at)}
                        {c.last_error ? <div className="error-cell">{c.last_error}</div> : null}
                      </td>
                      <td>
<div className="row-actions">
                        <button type="button" className="button button-small" onClick={() => void act(() => post(Cohorts.PullConnection, `${PULL_ROUTE}/${c.id}/run`))}>
                          Run now
                        </button>
                        <ConfirmButton confirm="Delete connection" onConfirm={() => void act(() => del(NoContent, `${PULL_ROUTE}/${c.id}`))}>
                          Delete
                        </ConfirmButton>
                      </div>
</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <EmptyState title="No pull connections">Pull mode polls Mixpanel's engage API with a service account. The webhook above is preferred for large cohorts.</EmptyState>
          )}
          <details className="add-connection">
            <summary>Add a pull connection</summary>
            <NewConnection onCreated={connections.reload} />
          </details>
        </>
      )}
    </Loaded>
  );
}

function NewConnection({ onCreated }: { onCreated: () => void }) {
  const [form, setForm] = useState({ name: '', project: '', region: 'US', username: '', secret: '', cohorts: '', mode: 'dynamic', interval: '15', matchKey: 'distinct_id', baseUrl: '' });
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const set = (field: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [field]: e.target.value }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await post(Cohorts.PullConnection, PULL_ROUTE, {
        ...(form.name.trim() ? { name: form.name.trim() } : {}),
        project_id: form.project.trim(),
        region: form.region,
        service_account: { username: form.username, secret: form.secret },
        cohort_ids: form.cohorts.split(',').map((c) => c.trim()).filter(Boolean),
        mode: form.mode,
        ...(form.mode === 'dynamic' ? { interval_minutes: Number(form.interval) } : {}),
        match_key: form.matchKey,
        ...(form.baseUrl.trim() ? { base_url: form.baseUrl.trim() } : {}),
      });
      setForm((f) => ({ ...f, secret: '' }));
      onCreated();
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
    } finally {
      setBusy(false);
    }
  };
  const field = (id: keyof typeof form, label: string, extra: { type?: string; required?: boolean; hint?: string } = {}) => (
    <div className="field">
      <label htmlFor={`pull-${id}`}>{label}</label>
      <input id={`pull-${id}`} type={extra.type ?? 'text'} required={extra.required} value={form[id]} onChange={set(id)} autoComplete="off" />
      {extra.hint ? <p className="hint">{extra.hint}</p> : null}
    </div>
  );
  return (
    <form onSubmit={(e) => void submit(e)} className="pull-form">
      <div className="grid-3">
        {field('name', 'Name (optional)')}
        {field('project', 'Mixpanel project id', { required: true })}
        <div className="field">
          <label htmlFor="pull-region">Region</label>
          <select id="pull-region" value={form.region} onChange={set('region')}>
            <option value="US">US</option>
            <option value="EU">EU</option>
            <option value="IN">IN</option>
          </select>
        </div>
        {field('username', 'Service account username', { required: true })}
        {field('secret', 'Service account secret', { type: 'password', required: true })}
        {field('cohorts', 'Cohort ids', { required: true, hint: 'Comma-separated Mixpanel cohort ids.' })}
        <div className="field">
          <label htmlFor="pull-mode">Schedule</label>
          <select id="pull-mode" value={form.mode} onChange={set('mode')}>
            <option value="dynamic">dynamic (repeat)</option>
            <option value="one_time">one time</option>
          </select>
        </div>
        {form.mode === 'dynamic' ? field('interval', 'Every … minutes (5 or more)', { type: 'number' }) : <div />}
        <div className="field">
          <label htmlFor="pull-match">Match key</label>
          <select id="pull-match" value={form.matchKey} onChange={set('matchKey')}>
            <option value="distinct_id">distinct_id = external id</option>
            <option value="email">email</option>
            <option value="property:$braze_external_id">property $braze_external_id</option>
          </select>
        </div>
      </div>
      {field('baseUrl', 'Query base URL (optional)', { hint: "Empty for Mixpanel's query host; set it for the Mixpanel emulator." })}
      {error ? <ErrorMessage error={error} action="add the connection" /> : null}
      <button type="submit" className="button button-primary" disabled={busy}>
        {busy ? 'Adding…' : 'Add connection'}
      </button>
    </form>
  );
}
