/**
 * The Canvas builder: the journey as a diagram (steps as nodes, paths as edges), a side panel to
 * edit the Canvas or the selected step, save as a draft, the server's launch check shown on the
 * offending nodes, launch behind a confirmation stating the audience, and, once it runs, each
 * step's statistics on the diagram and the users at the selected step. Saving a launched Canvas
 * makes its next version; users already inside stay on theirs.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, post, put } from '../api';
import { Diagram } from '../canvases/Diagram';
import { draftOf, canvasBody, emptyCanvas, newStep, STEP_TYPES, type CanvasDraft, type StepType } from '../canvases/model';
import { StepEditor } from '../canvases/StepEditor';
import { CanvasReply, CanvasStats, StepUsers, ValidationReply, type LaunchProblem } from '../canvases/types';
import { ErrorMessage, Loaded } from '../components/feedback';
import { Badge, PageHeader, Section } from '../components/ui';
import { count, when } from '../format';
import { useResource } from '../hooks';
import { Link, navigate } from '../router';
import { SegmentPage, type Segment } from '../types';

type Obj = Record<string, unknown>;
interface Saved {
  id: string;
  state: string;
  version: number;
}
const savedOf = (c: Obj): Saved | undefined => (typeof c.id === 'string' ? { id: c.id, state: typeof c.state === 'string' ? c.state : 'draft', version: typeof c.version === 'number' ? c.version : 1 } : undefined);

export function CanvasBuilder({ id }: { id?: string }) {
  const segments = useResource(SegmentPage, '/admin/segments?limit=1000');
  const existing = useResource(CanvasReply, id ? `/admin/canvases/${id}` : null);
  return (
    <Loaded resource={segments} what="the segments" feature="Canvases" needs="GET /admin/segments">
      {(s) =>
        id ? (
          <Loaded resource={existing} what="the Canvas" feature="Canvases" needs="GET /admin/canvases/:id">
            {(c) => <Builder key={`${id}`} segments={s.segments} initial={draftOf(c)} saved={savedOf(c)} reload={existing.reload} />}
          </Loaded>
        ) : (
          <Builder segments={s.segments} initial={emptyCanvas()} />
        )
      }
    </Loaded>
  );
}

function entryDetail(d: CanvasDraft, segments: Segment[]): string {
  const seg = segments.find((s) => s.id === d.entry.segment_id)?.name;
  if (d.entry.type === 'scheduled') return `at launch: segment ${seg ?? '(choose one)'}`;
  if (d.entry.type === 'action') return `on ${d.entry.event.kind === 'purchase' ? 'a purchase' : `event "${d.entry.event.name}"`}${seg ? ` · ${seg}` : ''}`;
  return `via /canvas/trigger/send${seg ? ` · ${seg}` : ''}`;
}

function StepUsersList({ canvasId, stepId }: { canvasId: string; stepId: string }) {
  const r = useResource(StepUsers, `/admin/canvases/${canvasId}/steps/${encodeURIComponent(stepId)}/users?limit=50`, { refreshMs: 3000 });
  return (
    <div data-testid="step-users">
      <h3>Users in this step now</h3>
      <Loaded resource={r} what="the users in the step">
        {(u) =>
          u.users.length ? (
            <ul className="cv-users">
              {u.users.map((x) => (
                <li key={x.user_id}>
                  <strong>{x.external_id ?? x.email ?? x.user_id}</strong>{' '}
                  <span className="muted small">
                    {x.phase === 'wait' ? `waits until ${when(x.due_at)}` : x.phase === 'listen' ? `listens until ${when(x.due_at)}` : 'running'} · v{x.version}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted small">Nobody is in this step now.</p>
          )
        }
      </Loaded>
    </div>
  );
}

function Builder({ segments, initial, saved, reload }: { segments: Segment[]; initial: CanvasDraft; saved?: Saved; reload?: () => void }) {
  const [draft, setDraft] = useState<CanvasDraft>(initial);
  const [dirty, setDirty] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [problems, setProblems] = useState<LaunchProblem[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | undefined>();
  const [message, setMessage] = useState('');
  const [confirm, setConfirm] = useState<ValidationReply | undefined>();
  const running = saved !== undefined && saved.state !== 'draft';
  const stats = useResource(CanvasStats, running ? `/admin/canvases/${saved.id}/step-stats` : null, { refreshMs: 2000 });
  const step = draft.steps.find((s) => s.id === selected);

  const change = (d: CanvasDraft) => {
    setDraft(d);
    setDirty(true);
    setConfirm(undefined);
  };
  useEffect(() => {
    if (selected && !draft.steps.some((s) => s.id === selected)) setSelected(null);
  }, [draft, selected]);
  const resumed = useRef(false);

  const run = async (what: string, f: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setMessage('');
    try {
      await f();
    } catch (e) {
      setError(e instanceof ApiFailure ? new ApiFailure(e.status, `Could not ${what}: ${e.message}`, e.details) : new ApiFailure(0, `Could not ${what}: ${String(e)}`));
    } finally {
      setBusy(false);
    }
  };
  const check = async (): Promise<ValidationReply> => {
    const r = await post(ValidationReply, '/admin/canvases/validate', canvasBody(draft));
    setProblems(r.problems);
    return r;
  };
  /** Saves; on a refusal, runs the launch check so the problems are shown on their steps. */
  const persist = async (then?: 'launch'): Promise<string | undefined> => {
    try {
      if (saved) {
        const before = saved.version;
        const r = await put(CanvasReply, `/admin/canvases/${saved.id}`, canvasBody(draft));
        const after = savedOf(r);
        setDirty(false);
        setProblems([]);
        setMessage(after && after.version !== before ? `Saved as version ${after.version}: new entries follow it; users already inside stay on version ${before}.` : 'Draft saved.');
        return saved.id;
      }
      const created = savedOf(await post(CanvasReply, '/admin/canvases', canvasBody(draft)));
      setDirty(false);
      // The saved Canvas's page takes over (a new builder): it resumes the launch when asked to.
      if (created) navigate(`/canvases/${created.id}${then ? `?then=${then}` : ''}`, { replace: true });
      return created?.id;
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 400) {
        const r = await check();
        if (!r.ok) {
          setMessage('');
          throw new ApiFailure(400, `fix the ${r.problems.length === 1 ? 'problem' : `${r.problems.length} problems`} marked on the diagram`, r.problems.map((p) => `${p.field}: ${p.message}`));
        }
      }
      throw e;
    }
  };
  const save = (e?: FormEvent) => {
    e?.preventDefault();
    void run('save the Canvas', async () => {
      await persist();
    });
  };
  const validate = () =>
    run('check the Canvas', async () => {
      const r = await check();
      setMessage(r.ok ? 'Ready to launch: no problems found.' : '');
      if (!r.ok) setError(new ApiFailure(400, `The Canvas cannot launch yet: fix the ${r.problems.length === 1 ? 'problem' : `${r.problems.length} problems`} marked on the diagram`));
    });
  const prepareLaunch = () =>
    run('prepare the launch', async () => {
      const r = await check();
      if (!r.ok) {
        setError(new ApiFailure(400, `The Canvas cannot launch yet: fix the ${r.problems.length === 1 ? 'problem' : `${r.problems.length} problems`} marked on the diagram`));
        return;
      }
      if (!saved) {
        await persist('launch');
        return;
      }
      if (dirty) await persist();
      setConfirm(r);
    });
  const act = (action: 'launch' | 'pause' | 'stop') =>
    run(`${action} the Canvas`, async () => {
      await post(CanvasReply, `/admin/canvases/${saved!.id}/${action}`);
      setConfirm(undefined);
      setMessage(action === 'launch' ? 'Launched.' : action === 'pause' ? 'Paused.' : 'Stopped.');
      reload?.();
    });
  // A new Canvas saved by "Launch…" opens here with ?then=launch: the launch goes on.
  useEffect(() => {
    if (resumed.current || !saved || new URLSearchParams(window.location.search).get('then') !== 'launch') return;
    resumed.current = true;
    window.history.replaceState(null, '', window.location.pathname);
    void prepareLaunch();
  });
  const addStep = (type: StepType) => {
    let n = draft.steps.length + 1;
    while (draft.steps.some((s) => s.id === `${type}_${n}`)) n++;
    const s = newStep(type, `${type}_${n}`);
    change({ ...draft, steps: [...draft.steps, s], first_step_id: draft.first_step_id || s.id });
    setSelected(s.id);
  };
  const seg = segments.find((s) => s.id === draft.entry.segment_id);
  const audienceText = (r: ValidationReply) =>
    r.entry_type === 'scheduled'
      ? `Launching enters the ${count(r.audience_size ?? 0)} users of segment “${seg?.name ?? draft.entry.segment_id}” now.`
      : r.entry_type === 'action'
        ? `Users enter when they ${draft.entry.event.kind === 'purchase' ? 'make a purchase' : `perform “${draft.entry.event.name}”`}${r.audience_size !== null ? `, if among the ${count(r.audience_size)} users of segment “${seg?.name}”` : ''}.`
        : `Users enter when /canvas/trigger/send names them${r.audience_size !== null ? `: the audience is the ${count(r.audience_size)} users of segment “${seg?.name}”` : ' (anyone in the workspace)'}.`;

  return (
    <div className="cv-builder">
      <PageHeader
        title={saved ? draft.name || 'Canvas' : 'New Canvas'}
        subtitle={
          <>
            <Link to="/canvases">Canvases</Link> › {saved ? <Badge value={saved.state} /> : 'build'} {saved ? <span className="muted small">version {saved.version}</span> : null}
          </>
        }
        actions={
          <>
            <button type="button" className="button" disabled={busy} onClick={() => save()}>
              {running ? 'Save as new version' : 'Save draft'}
            </button>
            <button type="button" className="button" disabled={busy} onClick={() => void validate()}>
              Check
            </button>
            {!saved || saved.state === 'draft' || saved.state === 'paused' ? (
              <button type="button" className="button button-primary" disabled={busy} onClick={() => void prepareLaunch()}>
                Launch…
              </button>
            ) : null}
            {saved?.state === 'active' ? (
              <button type="button" className="button" disabled={busy} onClick={() => void act('pause')}>
                Pause
              </button>
            ) : null}
          </>
        }
      />
      {error ? <ErrorMessage error={error} /> : null}
      {message ? (
        <p className="notice notice-info" role="status">
          {message}
        </p>
      ) : null}
      {confirm ? (
        <div className="notice notice-info" data-testid="launch-confirmation">
          <p>{audienceText(confirm)}</p>
          <div className="actions">
            <button type="button" className="button button-primary" disabled={busy} onClick={() => void act('launch')}>
              Launch now
            </button>
            <button type="button" className="button" onClick={() => setConfirm(undefined)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {running && stats.data ? (
        <dl className="stats" data-testid="canvas-totals">
          {(
            [
              ['Entries', stats.data.totals.entries],
              ['In the Canvas', stats.data.totals.in_canvas],
              ['Completed', stats.data.totals.completed],
              ['Exited', stats.data.totals.exited],
              ['Converted', stats.data.totals.converted],
              ['Control', stats.data.totals.control],
            ] as const
          ).map(([label, value]) => (
            <div className="stat" key={label}>
              <dt>{label}</dt>
              <dd>{count(value)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      <div className="cv-toolbar" role="toolbar" aria-label="Add a step">
        {STEP_TYPES.map((t) => (
          <button key={t.type} type="button" className="button button-small" onClick={() => addStep(t.type)}>
            + {t.label}
          </button>
        ))}
      </div>
      <div className="cv-layout">
        <Diagram draft={draft} onChange={change} problems={problems} stats={stats.data?.steps} selected={selected} onSelect={setSelected} entryDetail={entryDetail(draft, segments)} />
        <aside className="card cv-panel" aria-label={step ? 'Step settings' : 'Canvas settings'}>
          {step ? (
            <>
              <button type="button" className="button button-small button-ghost" onClick={() => setSelected(null)}>
                ← Canvas settings
              </button>
              <StepEditor
                draft={draft}
                step={step}
                segments={segments}
                onChange={(s) => change({ ...draft, steps: draft.steps.map((x) => (x.id === s.id ? s : x)) })}
                onRemove={() => change({ ...draft, steps: draft.steps.filter((x) => x.id !== step.id), first_step_id: draft.first_step_id === step.id ? '' : draft.first_step_id })}
              />
              {problems.some((p) => p.step_id === step.id) ? (
                <ul className="notice notice-error" data-testid="step-problems">
                  {problems
                    .filter((p) => p.step_id === step.id)
                    .map((p) => (
                      <li key={p.field + p.message}>
                        <span className="mono small">{p.field}</span>: {p.message}
                      </li>
                    ))}
                </ul>
              ) : null}
              {running ? <StepUsersList canvasId={saved.id} stepId={step.id} /> : null}
            </>
          ) : (
            <CanvasSettings draft={draft} segments={segments} onChange={change} problems={problems.filter((p) => p.step_id === null)} onSave={save} />
          )}
        </aside>
      </div>
    </div>
  );
}

function CanvasSettings({ draft, segments, onChange, problems, onSave }: { draft: CanvasDraft; segments: Segment[]; onChange: (d: CanvasDraft) => void; problems: LaunchProblem[]; onSave: (e: FormEvent) => void }) {
  return (
    <form onSubmit={onSave}>
      <Section title="Canvas settings">
        <div className="field">
          <label htmlFor="canvas-name">Canvas name</label>
          <input id="canvas-name" required maxLength={255} value={draft.name} onChange={(e) => onChange({ ...draft, name: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="canvas-entry">Entry</label>
          <select id="canvas-entry" value={draft.entry.type} onChange={(e) => onChange({ ...draft, entry: { ...draft.entry, type: e.target.value === 'scheduled' ? 'scheduled' : e.target.value === 'action' ? 'action' : 'api' } })}>
            <option value="api">API-triggered (/canvas/trigger/send)</option>
            <option value="scheduled">Scheduled: the segment enters at launch</option>
            <option value="action">Action-based: on an event</option>
          </select>
        </div>
        {draft.entry.type === 'action' ? (
          <div className="grid-2">
            <div className="field">
              <label htmlFor="canvas-entry-kind">Entry action</label>
              <select id="canvas-entry-kind" value={draft.entry.event.kind} onChange={(e) => onChange({ ...draft, entry: { ...draft.entry, event: { ...draft.entry.event, kind: e.target.value === 'purchase' ? 'purchase' : 'custom_event' } } })}>
                <option value="custom_event">Custom event</option>
                <option value="purchase">Purchase</option>
              </select>
            </div>
            {draft.entry.event.kind === 'custom_event' ? (
              <div className="field">
                <label htmlFor="canvas-entry-event">Entry event name</label>
                <input id="canvas-entry-event" value={draft.entry.event.name} onChange={(e) => onChange({ ...draft, entry: { ...draft.entry, event: { ...draft.entry.event, name: e.target.value } } })} />
              </div>
            ) : null}
          </div>
        ) : null}
        <div className="field">
          <label htmlFor="canvas-segment">Entry audience (segment)</label>
          <select id="canvas-segment" value={draft.entry.segment_id} onChange={(e) => onChange({ ...draft, entry: { ...draft.entry, segment_id: e.target.value } })}>
            <option value="">{draft.entry.type === 'scheduled' ? 'Choose a segment' : 'Anyone'}</option>
            {segments.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="canvas-from">From address</label>
          <input id="canvas-from" type="email" value={draft.from_address} onChange={(e) => onChange({ ...draft, from_address: e.target.value })} />
        </div>
        <div className="field-inline">
          <input id="canvas-exit-purchase" type="checkbox" checked={draft.exit_on_purchase} onChange={(e) => onChange({ ...draft, exit_on_purchase: e.target.checked })} />
          <label htmlFor="canvas-exit-purchase">Exit when the user makes a purchase</label>
        </div>
        <div className="field">
          <label htmlFor="canvas-control">Control group %</label>
          <input id="canvas-control" type="number" min={0} max={100} value={draft.control_percent} onChange={(e) => onChange({ ...draft, control_percent: Number(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor="canvas-first">First step</label>
          <select id="canvas-first" value={draft.first_step_id} onChange={(e) => onChange({ ...draft, first_step_id: e.target.value })}>
            <option value="">{draft.steps.length ? 'The first step added' : 'Add a step'}</option>
            {draft.steps.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.id})
              </option>
            ))}
          </select>
        </div>
        {problems.length ? (
          <ul className="notice notice-error" role="alert" data-testid="canvas-problems">
            {problems.map((p) => (
              <li key={p.field + p.message}>
                <span className="mono small">{p.field}</span>: {p.message}
              </li>
            ))}
          </ul>
        ) : null}
        <p className="hint">Select a step on the diagram to edit it; drag from a step's output to another step (or to End) to connect them.</p>
      </Section>
    </form>
  );
}
