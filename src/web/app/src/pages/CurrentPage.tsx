/**
 * One Current: its state with pause / resume, edit, test and delete, its delivery history charts
 * (from the server's per-minute history, so they survive a restart and cover the time the page was
 * closed), delivery and skip counters, the last failure, and the dead letters.
 */
import { useEffect, useState } from 'react';
import { ApiFailure, del, get, post } from '../api';
import { EditCurrent, TestResult, testExisting } from '../currents/EditCurrent';
import { HistoryCharts } from '../currents/HistoryChart';
import { EmptyState, ErrorMessage, Loaded, Loading, Unavailable } from '../components/feedback';
import { Badge, ConfirmButton, PageHeader, Section, Stat } from '../components/ui';
import { CURRENTS_ROUTES, type ConnectionTestResult, Connector, ConnectorStatus, DeadLetterPage, type ReasonCount, ResendReport } from '../currents/api';
import { count, duration, when } from '../format';
import { useResource } from '../hooks';
import { NoContent } from '../types';
import { Link, navigate } from '../router';

const SAMPLE_MS = 3000;

function useStatus(id: string) {
  const [status, setStatus] = useState<ConnectorStatus | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const s = await get(ConnectorStatus, CURRENTS_ROUTES.status(id));
        if (!live) return;
        setStatus(s);
        setError(undefined);
      } catch (e) {
        if (live) setError(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
      }
    };
    void load();
    const timer = window.setInterval(() => void load(), SAMPLE_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [id, tick]);
  return { status, error, reload: () => setTick((t) => t + 1) };
}

export function CurrentPage({ id }: { id: string }) {
  const { status, error, reload } = useStatus(id);
  const [acting, setActing] = useState<ApiFailure | undefined>(undefined);
  const [editing, setEditing] = useState(false);
  const [tested, setTested] = useState<ConnectionTestResult | undefined>(undefined);
  const [testing, setTesting] = useState(false);
  const [saved, setSaved] = useState<string[] | undefined>(undefined);
  if (error?.unavailable) return <Unavailable feature="Connector status" needs={`GET ${CURRENTS_ROUTES.status(':id')}`} />;
  if (error && !status) return <ErrorMessage error={error} action="load the connector" />;
  if (!status) return <Loading what="the connector" />;

  const runTest = async () => {
    setTesting(true);
    setActing(undefined);
    try {
      setTested(await testExisting(id));
    } catch (e) {
      setActing(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
    } finally {
      setTesting(false);
    }
  };
  const remove = async () => {
    try {
      await del(NoContent, CURRENTS_ROUTES.one(id));
      navigate('/currents');
    } catch (e) {
      setActing(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
    }
  };
  const toggle = async () => {
    setActing(undefined);
    try {
      await post(Connector, status.state === 'paused' ? CURRENTS_ROUTES.resume(id) : CURRENTS_ROUTES.pause(id));
      reload();
    } catch (e) {
      setActing(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
    }
  };
  const skippedTotal = status.skipped.reduce((n, r) => n + r.count, 0);
  const deadTotal = status.dead_lettered.reduce((n, r) => n + r.count, 0);
  const fittedTotal = status.fitted.reduce((n, r) => n + r.count, 0);

  return (
    <>
      <PageHeader
        title={status.name}
        subtitle={<><Link to="/currents">Currents</Link> › Mixpanel Export</>}
        actions={
          <>
            <button type="button" className="button" onClick={() => void toggle()}>
              {status.state === 'paused' ? 'Resume' : 'Pause'}
            </button>{' '}
            <button type="button" className="button" onClick={() => void runTest()} disabled={testing}>
              {testing ? 'Testing…' : 'Test connection'}
            </button>{' '}
            <button type="button" className="button" onClick={() => setEditing(!editing)}>
              Edit
            </button>{' '}
            <ConfirmButton confirm="Delete this Current, its counters and dead letters?" onConfirm={() => void remove()}>
              Delete
            </ConfirmButton>
          </>
        }
      />
      {acting ? <ErrorMessage error={acting} action="change the Current" /> : null}
      {tested ? <TestResult result={tested} /> : null}
      {saved ? (
        <div className="notice notice-info" role="status">
          Saved ({saved.join(', ')}); the export picks the change up within seconds.
        </div>
      ) : null}
      {editing ? (
        <EditCurrent
          status={status}
          onCancel={() => setEditing(false)}
          onSaved={(changed) => {
            setEditing(false);
            setSaved(changed);
            setTested(undefined);
            reload();
          }}
        />
      ) : null}
      <Section title="Status">
        <dl className="stats">
          <Stat label="State" value={<Badge value={status.state} />} />
          <Stat label="Delivered" value={<span data-testid="current-sent">{count(status.sent)}</span>} />
          <Stat label="Skipped" value={count(skippedTotal)} />
          <Stat label="Dead-lettered" value={count(deadTotal)} />
          <Stat label="Fitted to limits" value={<span data-testid="current-fitted">{count(fittedTotal)}</span>} />
          <Stat label="Lag" value={`${count(status.lag.events)} events · ${duration(status.lag.seconds)}`} />
          <Stat label="Retries" value={count(status.retries)} />
          <Stat label="Region" value={status.region} />
          <Stat label="Destination" value={status.base_url ? <code>{status.base_url}</code> : 'Mixpanel'} />
        </dl>
        {status.credential_hints ? (
          <p className="muted small">
            Credentials:{' '}
            {Object.entries(status.credential_hints)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}
          </p>
        ) : null}
        {status.last_error ? (
          <div className="notice notice-error" role="status">
            <strong>Last failure{status.last_error_at ? ` (${when(status.last_error_at)})` : ''}:</strong> {status.last_error}
            {status.state === 'failed' && !editing ? (
              <>
                {' '}
                <button type="button" className="button button-small" onClick={() => setEditing(true)}>
                  Fix the settings
                </button>
              </>
            ) : null}
          </div>
        ) : null}
      </Section>
      <Section title="History">
        <HistoryCharts id={id} />
      </Section>
      <div className="grid-2">
        <Section title="Skipped, by reason">
          <ReasonTable rows={status.skipped} empty="Nothing skipped." />
        </Section>
        <Section title="Dead-lettered, by reason">
          <ReasonTable rows={status.dead_lettered} empty="No dead letters." />
        </Section>
      </div>
      {fittedTotal > 0 ? (
        <Section title="Fitted to Mixpanel's limits, by reason">
          <p className="muted small">Sent, with a name or value cut or a part dropped so that Mixpanel accepts the event. Counts are changes, not events.</p>
          <ReasonTable rows={status.fitted} empty="Nothing changed." />
        </Section>
      ) : null}
      <Section title="Dead letters">
        <DeadLetters id={id} />
      </Section>
      <Section title="Event types">
        <p className="muted small">{status.event_types.length} types: {status.event_types.map((t) => t.replace(/^users\./, '')).join(', ')}</p>
      </Section>
    </>
  );
}

function ReasonTable({ rows, empty }: { rows: ReasonCount[]; empty: string }) {
  if (!rows.length) return <p className="muted">{empty}</p>;
  return (
    <div className="table-wrap">
      <table className="data">
        <thead>
          <tr>
            <th scope="col">Reason</th>
            <th scope="col">Event type</th>
            <th scope="col" className="num">
              Count
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.reason}:${r.event_type}`}>
              <td>
                <code>{r.reason}</code>
              </td>
              <td>{r.event_type.replace(/^users\./, '')}</td>
              <td className="num">{count(r.count)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DeadLetters({ id }: { id: string }) {
  const letters = useResource(DeadLetterPage, CURRENTS_ROUTES.deadLetters(id), { refreshMs: 15_000 });
  const [outcome, setOutcome] = useState<{ error?: ApiFailure; done?: string }>({});
  const resendAll = async () => {
    setOutcome({});
    try {
      const result = await post(ResendReport, `${CURRENTS_ROUTES.deadLetters(id)}/resend`, { all: true });
      setOutcome({ done: `Re-sent: resent ${result.resent}, failed_again ${result.failed_again}, not_attempted ${result.not_attempted}.` });
      letters.reload();
    } catch (e) {
      setOutcome({ error: e instanceof ApiFailure ? e : new ApiFailure(0, String(e)) });
    }
  };
  return (
    <Loaded resource={letters} what="the dead letters" feature="Dead letters" needs={`GET ${CURRENTS_ROUTES.deadLetters(':id')}`}>
      {(data) => {
        const rows = data.dead_letters;
        return rows.length ? (
          <div className="table-wrap">
            <div className="actions">
              <ConfirmButton confirm={`Re-send ${rows.length} dead letters`} onConfirm={() => void resendAll()}>
                Re-send all
              </ConfirmButton>
              {outcome.done ? (
                <span className="muted small" role="status">
                  {outcome.done}
                </span>
              ) : null}
            </div>
            {outcome.error ? <ErrorMessage error={outcome.error} action="re-send" /> : null}
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Type</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Last attempt</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={String(d.id)}>
                    <td>
                      <code>{d.event_id}</code>
                    </td>
                    <td>{d.event_type.replace(/^users\./, '')}</td>
                    <td className="error-cell">
                      {d.reason}
                      {d.field || d.message ? <div className="muted small">{[d.field, d.message].filter(Boolean).join(': ')}</div> : null}
                    </td>
                    <td className="nowrap">{when(d.last_attempt_at ?? null)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <EmptyState title="No dead letters">Events Mixpanel refuses, or that break its limits, are kept here to inspect and re-send.</EmptyState>
        );
      }}
    </Loaded>
  );
}
