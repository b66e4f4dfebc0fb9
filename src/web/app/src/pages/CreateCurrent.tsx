/**
 * "Create Current → Mixpanel Export": integration name, contact email, Mixpanel credentials
 * (service account or legacy API secret), project token, data residency region, and the event
 * types to export as checkboxes grouped Behaviors / Campaigns / Canvas / Messages, each group with
 * select-all. Launching creates the connector and opens its page.
 */
import { useState, type FormEvent } from 'react';
import { ApiFailure, post } from '../api';
import { EventTypePicker } from '../currents/EventTypePicker';
import { TestResult } from '../currents/EditCurrent';
import { CURRENTS_ROUTES, ConnectionTestResult, Connector, EventTypeCatalogue, type EventTypeGroup } from '../currents/api';
import { ErrorMessage, Loaded } from '../components/feedback';
import { PageHeader, Section } from '../components/ui';
import { useResource } from '../hooks';
import { Link, navigate } from '../router';

type CredentialKind = 'service_account' | 'api_secret';

export function CreateCurrent() {
  const groups = useResource(EventTypeCatalogue, CURRENTS_ROUTES.eventTypes);
  return (
    <>
      <PageHeader title="Create Current → Mixpanel Export" subtitle={<><Link to="/currents">Currents</Link> › new Mixpanel export</>} />
      <Loaded resource={groups} what="the event catalogue" feature="Creating a Current" needs={`GET ${CURRENTS_ROUTES.eventTypes}`}>
        {(data) => <CurrentForm groups={data.groups} />}
      </Loaded>
    </>
  );
}

function CurrentForm({ groups }: { groups: EventTypeGroup[] }) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [kind, setKind] = useState<CredentialKind>('service_account');
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState('');
  const [projectId, setProjectId] = useState('');
  const [apiSecret, setApiSecret] = useState('');
  const [token, setToken] = useState('');
  const [region, setRegion] = useState('US');
  const [baseUrl, setBaseUrl] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [tested, setTested] = useState<ConnectionTestResult | undefined>(undefined);

  /** Tests the credentials, token, region and host before anything is created (nothing is imported). */
  const test = async () => {
    setBusy(true);
    setError(undefined);
    setTested(undefined);
    const credentials = kind === 'service_account' ? { kind, username, secret, project_id: projectId } : { kind, api_secret: apiSecret };
    try {
      setTested(
        await post(ConnectionTestResult, `${CURRENTS_ROUTES.createMixpanel}/test`, {
          name: name.trim() || 'connection test',
          contact_email: email.trim() || 'test@example.com',
          credentials,
          project_token: token,
          region,
          event_types: selected.size ? [...selected] : ['users.behaviors.CustomEvent'],
          ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}),
        }),
      );
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
    } finally {
      setBusy(false);
    }
  };

  const launch = async (e: FormEvent) => {
    e.preventDefault();
    if (!selected.size) {
      setError(new ApiFailure(400, 'Choose at least one event type to export.'));
      return;
    }
    setBusy(true);
    setError(undefined);
    const credentials = kind === 'service_account' ? { kind, username, secret, project_id: projectId } : { kind, api_secret: apiSecret };
    try {
      const created = await post(Connector, CURRENTS_ROUTES.createMixpanel, {
        name: name.trim(),
        contact_email: email.trim(),
        credentials,
        project_token: token,
        region,
        event_types: [...selected],
        ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}),
      });
      navigate(`/currents/${created.id}`);
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void launch(e)} className="current-form">
      <Section title="Integration">
        <div className="grid-2">
          <Field id="current-name" label="Integration name" value={name} onChange={setName} required />
          <Field id="current-email" label="Contact email" type="email" value={email} onChange={setEmail} required hint="Told when the export fails or recovers." />
        </div>
      </Section>
      <Section title="Mixpanel credentials">
        <fieldset className="radio-row">
          <legend>Authenticate with</legend>
          <label className="check">
            <input type="radio" name="credential-kind" value="service_account" checked={kind === 'service_account'} onChange={() => setKind('service_account')} />
            Service account (recommended)
          </label>
          <label className="check">
            <input type="radio" name="credential-kind" value="api_secret" checked={kind === 'api_secret'} onChange={() => setKind('api_secret')} />
            Project API secret (deprecated)
          </label>
        </fieldset>
        {kind === 'service_account' ? (
          <div className="grid-3">
            <Field id="sa-username" label="Service account username" value={username} onChange={setUsername} required autoComplete="off" />
            <Field id="sa-secret" label="Service account secret" type="password" value={secret} onChange={setSecret} required autoComplete="new-password" />
            <Field id="sa-project" label="Project id" value={projectId} onChange={setProjectId} required />
          </div>
        ) : (
          <Field id="api-secret" label="Project API secret" type="password" value={apiSecret} onChange={setApiSecret} required autoComplete="new-password" />
        )}
        <div className="grid-3">
          <Field id="project-token" label="Project token" type="password" value={token} onChange={setToken} required autoComplete="new-password" />
          <div className="field">
            <label htmlFor="region">Data residency region</label>
            <select id="region" value={region} onChange={(e) => setRegion(e.target.value)}>
              <option value="US">US (api.mixpanel.com)</option>
              <option value="EU">EU (api-eu.mixpanel.com)</option>
              <option value="IN">IN (api-in.mixpanel.com)</option>
            </select>
          </div>
          <Field id="base-url" label="Ingestion base URL (optional)" value={baseUrl} onChange={setBaseUrl} hint="Leave empty for Mixpanel's host; set it for a proxy or the Mixpanel emulator." />
        </div>
        <p className="muted small">Credentials are encrypted at rest and never shown again; the connector page shows their last four characters.</p>
        <p>
          <button type="button" className="button button-small" disabled={busy} onClick={() => void test()}>
            Test connection
          </button>
        </p>
        {tested ? <TestResult result={tested} /> : null}
      </Section>
      <Section title="Event types">
        <EventTypePicker groups={groups} selected={selected} onChange={setSelected} />
      </Section>
      {error ? <ErrorMessage error={error} action="launch the Current" /> : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Launching…' : 'Launch Current'}
        </button>
        <Link to="/currents" className="button button-ghost">
          Cancel
        </Link>
      </div>
    </form>
  );
}

function Field(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  type?: string;
  required?: boolean;
  hint?: string;
  autoComplete?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        autoComplete={props.autoComplete}
        spellCheck={false}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint ? (
        <p id={`${props.id}-hint`} className="hint">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}
