/**
 * The side panel of the builder: one step's settings (message content with a live Liquid preview,
 * delays, path conditions) and where each of its outputs leads, a choice that is also made by
 * dragging on the diagram.
 */
import { useEffect, useState } from 'react';
import { ApiFailure, post } from '../api';
import { ErrorMessage } from '../components/feedback';
import { useDebounced } from '../hooks';
import { Rendered } from '../campaigns/types';
import type { Segment } from '../types';
import { outputsOf, typeLabel, withOutput, type CanvasDraft, type DelayDraft, type PathDraft, type Slot, type StepDraft } from './model';

const slotValue = (v: Slot) => (v === undefined ? '' : v === null ? '__end' : v);
const valueSlot = (v: string): Slot => (v === '' ? undefined : v === '__end' ? null : v);

const UNITS = [
  { label: 'minutes', seconds: 60 },
  { label: 'hours', seconds: 3600 },
  { label: 'days', seconds: 86_400 },
];

function DelayFields({ id, delay, onChange }: { id: string; delay: DelayDraft; onChange: (d: DelayDraft) => void }) {
  const unit = delay.kind === 'seconds' ? ([...UNITS].reverse().find((u) => delay.seconds % u.seconds === 0) ?? { label: 'seconds', seconds: 1 }) : UNITS[2]!;
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-delay-kind`}>Wait</label>
        <select
          id={`${id}-delay-kind`}
          value={delay.kind}
          onChange={(e) => {
            const k = e.target.value;
            onChange(k === 'until' ? { kind: 'until', until: new Date(Date.now() + 86_400_000).toISOString().slice(0, 16) + ':00Z' } : k === 'weekday' ? { kind: 'weekday', weekday: 1, time: '09:00' } : { kind: 'seconds', seconds: 86_400 });
          }}
        >
          <option value="seconds">for a duration</option>
          <option value="until">until a date</option>
          <option value="weekday">until a weekday and time (user's time zone)</option>
        </select>
      </div>
      {delay.kind === 'seconds' ? (
        <div className="grid-2">
          <div className="field">
            <label htmlFor={`${id}-delay-amount`}>Delay amount</label>
            <input id={`${id}-delay-amount`} type="number" min={1} value={delay.seconds / unit.seconds} onChange={(e) => onChange({ kind: 'seconds', seconds: Math.round(Number(e.target.value) * unit.seconds) })} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-delay-unit`}>Unit</label>
            <select id={`${id}-delay-unit`} value={unit.seconds} onChange={(e) => onChange({ kind: 'seconds', seconds: Math.round((delay.seconds / unit.seconds) * Number(e.target.value)) })}>
              {unit.seconds === 1 ? <option value={1}>seconds</option> : null}
              {UNITS.map((u) => (
                <option key={u.seconds} value={u.seconds}>
                  {u.label}
                </option>
              ))}
            </select>
          </div>
        </div>
      ) : delay.kind === 'until' ? (
        <div className="field">
          <label htmlFor={`${id}-delay-until`}>Until (ISO 8601, UTC)</label>
          <input id={`${id}-delay-until`} className="mono" value={delay.until} onChange={(e) => onChange({ kind: 'until', until: e.target.value })} />
        </div>
      ) : (
        <div className="grid-2">
          <div className="field">
            <label htmlFor={`${id}-delay-weekday`}>Weekday</label>
            <select id={`${id}-delay-weekday`} value={delay.weekday} onChange={(e) => onChange({ ...delay, weekday: Number(e.target.value) })}>
              {['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'].map((d, i) => (
                <option key={d} value={i}>
                  {d}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-delay-time`}>Time (HH:MM)</label>
            <input id={`${id}-delay-time`} value={delay.time} onChange={(e) => onChange({ ...delay, time: e.target.value })} />
          </div>
        </div>
      )}
    </>
  );
}

function MessagePreview({ step }: { step: StepDraft }) {
  const [user, setUser] = useState('');
  const [rendered, setRendered] = useState<Rendered | undefined>();
  const [error, setError] = useState<ApiFailure | undefined>();
  const wanted = useDebounced({ subject: step.subject, html: step.html, user: user.trim() }, 500);
  useEffect(() => {
    if (!wanted.subject || !wanted.html) return;
    let live = true;
    post(Rendered, '/admin/campaigns/preview', { channel: 'email', variant: { email: { subject: wanted.subject, html: wanted.html } }, ...(wanted.user ? { external_id: wanted.user } : {}) })
      .then((r) => live && (setRendered(r), setError(undefined)))
      .catch((e: unknown) => live && setError(e instanceof ApiFailure ? e : new ApiFailure(0, String(e))));
    return () => {
      live = false;
    };
  }, [wanted]);
  return (
    <div className="cv-preview" data-testid="step-preview">
      <div className="field">
        <label htmlFor={`${step.id}-preview-user`}>Preview for user (external id)</label>
        <input id={`${step.id}-preview-user`} value={user} placeholder="an empty profile" onChange={(e) => setUser(e.target.value)} />
      </div>
      {error ? <ErrorMessage error={error} action="render the preview" /> : null}
      {!error && rendered?.email ? (
        <>
          <p className="small">
            <strong>Subject:</strong> <span data-testid="step-preview-subject">{rendered.email.subject}</span>
          </p>
          <iframe title="Message preview" className="email-preview" sandbox="" srcDoc={rendered.email.html} />
        </>
      ) : null}
      {!error && rendered?.abort ? <p className="notice notice-error">Aborted ({rendered.abort.abort_type}): {rendered.abort.abort_log}</p> : null}
    </div>
  );
}

function PathFields({ step, i, p, segments, onChange }: { step: StepDraft; i: number; p: PathDraft; segments: Segment[]; onChange: (p: PathDraft) => void }) {
  const id = `${step.id}-p${i}`;
  const last = i === step.paths.length - 1;
  return (
    <fieldset className="cv-path">
      <legend>{p.name || `Path ${i + 1}`}</legend>
      <div className="field">
        <label htmlFor={`${id}-name`}>Path name</label>
        <input id={`${id}-name`} value={p.name} onChange={(e) => onChange({ ...p, name: e.target.value })} />
      </div>
      {step.type === 'audience_paths' ? (
        last ? (
          <p className="hint">Everyone Else: users in none of the groups above.</p>
        ) : (
          <div className="field">
            <label htmlFor={`${id}-segment`}>Segment</label>
            <select id={`${id}-segment`} value={p.segment_id ?? ''} onChange={(e) => onChange({ ...p, segment_id: e.target.value || null })}>
              <option value="">Choose a segment</option>
              {segments.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </div>
        )
      ) : null}
      {step.type === 'action_paths' ? (
        <div className="grid-2">
          <div className="field">
            <label htmlFor={`${id}-kind`}>Action</label>
            <select id={`${id}-kind`} value={p.event.kind} onChange={(e) => onChange({ ...p, event: { ...p.event, kind: e.target.value === 'purchase' ? 'purchase' : 'custom_event' } })}>
              <option value="purchase">Makes a purchase</option>
              <option value="custom_event">Performs a custom event</option>
            </select>
          </div>
          {p.event.kind === 'custom_event' ? (
            <div className="field">
              <label htmlFor={`${id}-event`}>Event name</label>
              <input id={`${id}-event`} value={p.event.name} onChange={(e) => onChange({ ...p, event: { ...p.event, name: e.target.value } })} />
            </div>
          ) : null}
        </div>
      ) : null}
      {step.type === 'experiment_paths' ? (
        <div className="field">
          <label htmlFor={`${id}-percent`}>Share %</label>
          <input id={`${id}-percent`} type="number" min={0} max={100} value={p.percent} onChange={(e) => onChange({ ...p, percent: Number(e.target.value) })} />
        </div>
      ) : null}
    </fieldset>
  );
}

export function StepEditor({ draft, step, segments, onChange, onRemove }: { draft: CanvasDraft; step: StepDraft; segments: Segment[]; onChange: (s: StepDraft) => void; onRemove: () => void }) {
  const id = `step-${step.id}`;
  const setPath = (i: number, p: PathDraft) => onChange({ ...step, paths: step.paths.map((q, j) => (j === i ? p : q)) });
  const others = draft.steps.filter((s) => s.id !== step.id);
  return (
    <div className="cv-editor" data-testid="step-editor">
      <h2>
        {typeLabel(step.type)} <span className="muted small mono">{step.id}</span>
      </h2>
      <div className="field">
        <label htmlFor={`${id}-name`}>Step name</label>
        <input id={`${id}-name`} value={step.name} onChange={(e) => onChange({ ...step, name: e.target.value })} />
      </div>
      {step.type === 'message' ? (
        <>
          <div className="field">
            <label htmlFor={`${id}-subject`}>Email subject (Liquid)</label>
            <input id={`${id}-subject`} className="mono" value={step.subject} onChange={(e) => onChange({ ...step, subject: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-html`}>Email HTML (Liquid)</label>
            <textarea id={`${id}-html`} className="mono" rows={6} spellCheck={false} value={step.html} onChange={(e) => onChange({ ...step, html: e.target.value })} />
          </div>
          <MessagePreview step={step} />
        </>
      ) : null}
      {step.type === 'delay' ? <DelayFields id={id} delay={step.delay} onChange={(delay) => onChange({ ...step, delay })} /> : null}
      {step.type === 'decision_split' ? (
        <div className="field">
          <label htmlFor={`${id}-segment`}>Users in segment go to Yes</label>
          <select id={`${id}-segment`} value={step.segment_id} onChange={(e) => onChange({ ...step, segment_id: e.target.value })}>
            <option value="">Choose a segment</option>
            {segments.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {step.type === 'action_paths' ? (
        <div className="field">
          <label htmlFor={`${id}-window`}>Wait up to (hours) for an action</label>
          <input id={`${id}-window`} type="number" min={1} value={step.window_seconds / 3600} onChange={(e) => onChange({ ...step, window_seconds: Math.round(Number(e.target.value) * 3600) })} />
        </div>
      ) : null}
      {step.type === 'experiment_paths' ? (
        <div className="field">
          <label htmlFor={`${id}-control`}>Control group % (leaves the Canvas here)</label>
          <input id={`${id}-control`} type="number" min={0} max={100} value={step.control_percent} onChange={(e) => onChange({ ...step, control_percent: Number(e.target.value) })} />
        </div>
      ) : null}
      {step.type === 'user_update' ? (
        <div className="field">
          <label htmlFor={`${id}-attributes`}>Attributes to set (JSON)</label>
          <textarea id={`${id}-attributes`} className="mono" rows={4} spellCheck={false} value={step.attributes} onChange={(e) => onChange({ ...step, attributes: e.target.value })} />
        </div>
      ) : null}
      {step.paths.map((p, i) => (
        <PathFields key={i} step={step} i={i} p={p} segments={segments} onChange={(q) => setPath(i, q)} />
      ))}
      {(step.type === 'audience_paths' || step.type === 'action_paths' || step.type === 'experiment_paths') && step.paths.length < (step.type === 'experiment_paths' ? 4 : 8) ? (
        <button
          type="button"
          className="button button-small"
          onClick={() => {
            const n = step.paths.length + 1;
            const fresh: PathDraft = { name: step.type === 'action_paths' ? `Action ${n}` : `Path ${n}`, segment_id: null, event: { kind: 'custom_event', name: '' }, percent: 0, next: undefined };
            // Audience Paths keep Everyone Else last.
            onChange({ ...step, paths: step.type === 'audience_paths' ? [...step.paths.slice(0, -1), { ...fresh, name: `Group ${n - 1}` }, step.paths.at(-1)!] : [...step.paths, fresh] });
          }}
        >
          Add path
        </button>
      ) : null}
      <h3>Where it leads</h3>
      {outputsOf(step).map((o) => (
        <div className="field" key={o.key}>
          <label htmlFor={`${id}-out-${o.key}`}>{o.label === 'Next' ? 'Next step' : `${o.label} → next step`}</label>
          <select id={`${id}-out-${o.key}`} value={slotValue(o.value)} onChange={(e) => onChange(withOutput(step, o.key, valueSlot(e.target.value)))}>
            <option value="">Not connected</option>
            <option value="__end">End the journey</option>
            {others.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.id})
              </option>
            ))}
          </select>
        </div>
      ))}
      <button type="button" className="button button-small button-ghost" onClick={onRemove}>
        Remove step
      </button>
    </div>
  );
}
