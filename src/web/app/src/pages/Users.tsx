/**
 * Find one user by external id, alias, device id or email, and see what Rivulet knows: identities,
 * attributes, imported cohorts and the most recent events from the event log.
 */
import { useState, type FormEvent } from 'react';
import { ApiFailure, get } from '../api';
import { choice } from '../choice';
import { EmptyState, ErrorMessage, Loading } from '../components/feedback';
import { PageHeader, Section, Stat } from '../components/ui';
import { count, when } from '../format';
import { UserMessages } from '../campaigns/UserMessages';
import { UserCanvases } from '../canvases/UserCanvases';
import type { Static } from 'typebox';
import * as Dashboard from '../../../server/contract';

type Kind = 'external_id' | 'alias' | 'device_id' | 'email';

const Lookup = Dashboard.UserLookup;
type Lookup = Static<typeof Lookup>;

const KINDS: Array<{ value: Kind; label: string; placeholder: string }> = [
  { value: 'external_id', label: 'External id', placeholder: 'user_0001' },
  { value: 'alias', label: 'Alias', placeholder: 'alias name' },
  { value: 'device_id', label: 'Device id', placeholder: 'device id' },
  { value: 'email', label: 'Email', placeholder: 'ann@example.com' },
];

const IDENTITY_FIELDS = new Set(['external_id', 'braze_id', 'user_aliases', 'device_ids', 'custom_attributes', 'cohorts', 'custom_events', 'purchases', 'created_at', 'began_anonymous']);

export function Users() {
  const [kind, setKind] = useState<Kind>('external_id');
  const [value, setValue] = useState('');
  const [label, setLabel] = useState('');
  const [result, setResult] = useState<{ state: 'idle' | 'loading' | 'done' | 'missing'; data?: Lookup; error?: ApiFailure }>({ state: 'idle' });

  const search = async (e: FormEvent) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (kind === 'alias') {
      q.set('alias_name', value.trim());
      q.set('alias_label', label.trim());
    } else q.set(kind, value.trim());
    setResult({ state: 'loading' });
    try {
      setResult({ state: 'done', data: await get(Lookup, `/admin/users/lookup?${q}`) });
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(0, String(err));
      setResult(failure.status === 404 && !failure.unavailable ? { state: 'missing' } : { state: 'done', error: failure });
    }
  };
  const current = KINDS.find((k) => k.value === kind)!;

  return (
    <>
      <PageHeader title="Users" subtitle="Look a user up by any identifier: the same rules as /users/export/ids." />
      <Section title="Find a user">
        <form className="inline-form" onSubmit={(e) => void search(e)} role="search">
          <div className="field">
            <label htmlFor="lookup-kind">Identifier</label>
            <select id="lookup-kind" value={kind} onChange={(e) => setKind(choice(KINDS.map((k) => k.value), e.target.value, 'external_id'))}>
              {KINDS.map((k) => (
                <option key={k.value} value={k.value}>
                  {k.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field field-wide">
            <label htmlFor="lookup-value">{kind === 'alias' ? 'Alias name' : current.label}</label>
            <input id="lookup-value" required value={value} placeholder={current.placeholder} onChange={(e) => setValue(e.target.value)} />
          </div>
          {kind === 'alias' ? (
            <div className="field">
              <label htmlFor="lookup-label">Alias label</label>
              <input id="lookup-label" required value={label} placeholder="mixpanel_id" onChange={(e) => setLabel(e.target.value)} />
            </div>
          ) : null}
          <button type="submit" className="button button-primary">
            Find
          </button>
        </form>
      </Section>
      {result.state === 'loading' ? <Loading what="the profile" /> : null}
      {result.state === 'missing' ? <EmptyState title="No user has that identifier">Check the spelling; external ids and aliases match exactly, case-sensitively.</EmptyState> : null}
      {result.error ? <ErrorMessage error={result.error} action="look the user up" /> : null}
      {result.data ? <ProfileView lookup={result.data} /> : null}
    </>
  );
}

function ProfileView({ lookup }: { lookup: Lookup }) {
  const p = lookup.profile;
  const standard = Object.entries(p).filter(([k, v]) => !IDENTITY_FIELDS.has(k) && v !== null && typeof v !== 'object');
  const custom = Object.entries(p.custom_attributes ?? {});
  return (
    <div className="profile">
      <Section title="Identities">
        <dl className="stats">
          <Stat label="External id" value={p.external_id ?? <span className="muted">{p.user_aliases?.length ? 'none (alias-only)' : 'none (anonymous)'}</span>} />
          <Stat label="Internal id (braze_id)" value={<code>{p.braze_id}</code>} />
          <Stat label="Aliases" value={p.user_aliases?.length ? p.user_aliases.map((a) => `${a.alias_label}: ${a.alias_name}`).join(', ') : 'none'} />
          <Stat label="Device ids" value={p.device_ids?.length ? p.device_ids.join(', ') : 'none'} />
          <Stat label="Created" value={when(p.created_at)} />
          <Stat label="Began anonymous" value={p.began_anonymous ? 'yes' : 'no'} />
        </dl>
      </Section>
      <Section title="Attributes">
        {standard.length + custom.length ? (
          <dl className="kv">
            {standard.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{String(v)}</dd>
              </div>
            ))}
            {custom.map(([k, v]) => (
              <div key={`custom-${k}`}>
                <dt>{k}</dt>
                <dd>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>
              </div>
            ))}
          </dl>
        ) : (
          <p className="muted">No attributes.</p>
        )}
      </Section>
      <Section title="Cohorts">
        {p.cohorts?.length ? (
          <ul className="plain">
            {p.cohorts.map((c) => (
              <li key={`${c.partner}:${c.cohort_id}`}>
                <strong>{c.name}</strong> <span className="muted">({c.partner} {c.cohort_id}, since {when(c.since)})</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">Not in any imported cohort.</p>
        )}
      </Section>
      <UserMessages userId={p.braze_id} />
      <UserCanvases userId={p.braze_id} />
      <Section title="Recent events">
        {lookup.recent_events.length ? (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Type</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {lookup.recent_events.map((e) => (
                  <tr key={e.id}>
                    <td className="nowrap">{when(e.time)}</td>
                    <td>
                      <code>{e.event_type.replace(/^users\./, '')}</code>
                    </td>
                    <td className="muted">{summary(e.event.properties)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="muted">No events recorded for this user.</p>
        )}
        {p.custom_events?.length ? (
          <p className="muted small">
            All-time custom events: {p.custom_events.map((e) => `${e.name} × ${count(e.count)}`).join(', ')}
          </p>
        ) : null}
      </Section>
    </div>
  );
}

/** Fields every event carries, which say nothing about this one. */
const QUIET_FIELDS = new Set(['name', 'app_group_id', 'app_id', 'timezone', 'custom_properties', 'purchase_properties']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function summary(props: Record<string, unknown> | undefined): string {
  if (!props) return '';
  const name = props.name ?? props.product_id ?? props.campaign_name ?? props.canvas_name;
  // A custom event carries custom_properties, a purchase purchase_properties (two event kinds, not two spellings).
  const nested = props.custom_properties ?? props.purchase_properties;
  const custom = isRecord(nested) ? nested : {};
  const rest = [...Object.entries(custom), ...Object.entries(props).filter(([k]) => !QUIET_FIELDS.has(k))]
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .slice(0, 4)
    .map(([k, v]) => `${k}=${String(v)}`);
  return [name ? String(name) : '', ...rest].filter(Boolean).join(' · ');
}
