/**
 * Editing a Current in place (`PATCH /admin/currents/{id}`), testing its connection, and deleting it.
 * Only what the operator fills in is sent: empty credential and token fields keep the stored ones
 * (which are never shown), so fixing a wrong secret is typing the right one and saving.
 */
import { useState, type FormEvent } from 'react';
import { api, ApiFailure, post } from '../api';
import { ErrorMessage, Loaded } from '../components/feedback';
import { Section } from '../components/ui';
import { useResource } from '../hooks';
import { CURRENTS_ROUTES, ChangedConnector, ConnectionTestResult, type ConnectorStatus, EventTypeCatalogue } from './api';
import { EventTypePicker } from './EventTypePicker';

/** The result of a connection test, saying what failed (auth, project, region or host, network). */
export function TestResult({ result }: { result: ConnectionTestResult }) {
  return (
    <div className={`notice ${result.ok ? 'notice-info' : 'notice-error'}`} role="status" data-testid="connection-test">
      <strong>{result.ok ? 'Connection works' : 'Connection failed'}</strong>
      {result.status !== null ? ` (HTTP ${result.status})` : ' (no answer)'}: {result.message}
      {result.detail ? <div className="small">{result.detail}</div> : null}
    </div>
  );
}

export async function testExisting(id: string): Promise<ConnectionTestResult> {
  return post(ConnectionTestResult, `${CURRENTS_ROUTES.one(id)}/test`);
}

export function EditCurrent({ status, onSaved, onCancel }: { status: ConnectorStatus; onSaved: (changed: string[]) => void; onCancel: () => void }) {
  const groups = useResource(EventTypeCatalogue, CURRENTS_ROUTES.eventTypes);
  const [name, setName] = useState(status.name);
  const [email, setEmail] = useState(status.contact_email ?? '');
  const [region, setRegion] = useState(status.region);
  const [baseUrl, setBaseUrl] = useState(status.base_url ?? '');
  const [kind, setKind] = useState<'keep' | 'service_account' | 'api_secret'>('keep');
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState('');
  const [projectId, setProjectId] = useState(status.project_id ?? '');
  const [apiSecret, setApiSecret] = useState('');
  const [token, setToken] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set(status.event_types));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const patch: Record<string, unknown> = {};
    if (name.trim() !== status.name) patch['name'] = name.trim();
    if (email.trim() !== (status.contact_email ?? '')) patch['contact_email'] = email.trim();
    if (region !== status.region) patch['region'] = region;
    if (baseUrl.trim() !== (status.base_url ?? '')) patch['base_url'] = baseUrl.trim() === '' ? null : baseUrl.trim();
    if (kind === 'service_account') patch['credentials'] = { kind, username, secret, project_id: projectId };
    if (kind === 'api_secret') patch['credentials'] = { kind, api_secret: apiSecret };
    if (token !== '') patch['project_token'] = token;
    const types = [...selected].sort();
    if (JSON.stringify(types) !== JSON.stringify([...status.event_types].sort())) patch['event_types'] = [...selected];
    if (Object.keys(patch).length === 0) {
      setBusy(false);
      onCancel();
      return;
    }
    try {
      const updated = await api('PATCH', CURRENTS_ROUTES.one(status.id), ChangedConnector, patch);
      onSaved(updated.changed);
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void save(e)} className="current-form" data-testid="edit-current">
      <Section title="Edit this Current">
        <p className="muted small">
          Changes apply within seconds, without a restart, from where the export stands: events already sent or skipped stay so. Leave a credential empty to keep
          the stored one.
        </p>
        <div className="grid-2">
          <Input id="edit-name" label="Integration name" value={name} onChange={setName} />
          <Input id="edit-email" label="Contact email" type="email" value={email} onChange={setEmail} />
        </div>
        <fieldset className="radio-row">
          <legend>Credentials</legend>
          {(['keep', 'service_account', 'api_secret'] as const).map((k) => (
            <label className="check" key={k}>
              <input type="radio" name="edit-credential-kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {k === 'keep' ? 'Keep the stored ones' : k === 'service_account' ? 'New service account' : 'New project API secret'}
            </label>
          ))}
        </fieldset>
        {kind === 'service_account' ? (
          <div className="grid-3">
            <Input id="edit-sa-username" label="Service account username" value={username} onChange={setUsername} required />
            <Input id="edit-sa-secret" label="Service account secret" type="password" value={secret} onChange={setSecret} required />
            <Input id="edit-sa-project" label="Project id" value={projectId} onChange={setProjectId} required />
          </div>
        ) : kind === 'api_secret' ? (
          <Input id="edit-api-secret" label="Project API secret" type="password" value={apiSecret} onChange={setApiSecret} required />
        ) : null}
        <div className="grid-3">
          <Input id="edit-token" label="Project token (empty: keep)" type="password" value={token} onChange={setToken} />
          <div className="field">
            <label htmlFor="edit-region">Data residency region</label>
            <select id="edit-region" value={region} onChange={(e) => setRegion(e.target.value)}>
              <option value="US">US</option>
              <option value="EU">EU</option>
              <option value="IN">IN</option>
            </select>
          </div>
          <Input id="edit-base-url" label="Ingestion base URL (empty: Mixpanel's host)" value={baseUrl} onChange={setBaseUrl} />
        </div>
      </Section>
      <Section title="Event types (from the cursor on)">
        <Loaded resource={groups} what="the event catalogue">
          {(data) => <EventTypePicker groups={data.groups} selected={selected} onChange={setSelected} />}
        </Loaded>
      </Section>
      {error ? <ErrorMessage error={error} action="save the Current" /> : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
        <button type="button" className="button button-ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Input(props: { id: string; label: string; value: string; onChange: (v: string) => void; type?: string; required?: boolean }) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        autoComplete={props.type === 'password' ? 'new-password' : 'off'}
        spellCheck={false}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}
