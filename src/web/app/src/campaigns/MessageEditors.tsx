/**
 * The composer's editors and previews for the SDK channels: content cards (title, description,
 * image, link, pinned, expiry) and in-app messages (layout, header, body, image, up to two buttons,
 * trigger events, expiry). Drafts are the contract's shapes (campaigns/types.ts); the preview shows
 * what the server rendered for the chosen user, laid out roughly as the SDK shows it.
 */
import type { ContentCardContent, InAppContent, Rendered } from './types';

const DAY = 86_400;

function Expiry({ id, seconds, onChange }: { id: string; seconds: number | undefined; onChange: (s: number | undefined) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>Expires after (days)</label>
      <input id={id} type="number" min={1} max={365} placeholder="30" value={seconds === undefined ? '' : Math.round(seconds / DAY)} onChange={(e) => onChange(e.target.value === '' ? undefined : Math.max(1, Number(e.target.value)) * DAY)} />
    </div>
  );
}

export function ContentCardEditor({ prefix, value, onChange }: { prefix: string; value: ContentCardContent; onChange: (v: ContentCardContent) => void }) {
  const set = (change: Partial<ContentCardContent>) => onChange({ ...value, ...change });
  const optional = (text: string) => (text === '' ? undefined : text);
  return (
    <>
      <div className="field">
        <label htmlFor={`${prefix}-card-title`}>Title (Liquid)</label>
        <input id={`${prefix}-card-title`} className="mono" value={value.title} onChange={(e) => set({ title: e.target.value })} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-card-description`}>Description (Liquid)</label>
        <textarea id={`${prefix}-card-description`} className="mono" rows={3} value={value.description} onChange={(e) => set({ description: e.target.value })} />
      </div>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={`${prefix}-card-image`}>Image URL (optional)</label>
          <input id={`${prefix}-card-image`} className="mono" value={value.image_url ?? ''} onChange={(e) => set({ image_url: optional(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor={`${prefix}-card-url`}>Link (optional)</label>
          <input id={`${prefix}-card-url`} className="mono" value={value.url ?? ''} onChange={(e) => set({ url: optional(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor={`${prefix}-card-pinned`}>
            <input id={`${prefix}-card-pinned`} type="checkbox" checked={value.pinned === true} onChange={(e) => set({ pinned: e.target.checked })} /> Pinned (first in the feed)
          </label>
        </div>
        <Expiry id={`${prefix}-card-expiry`} seconds={value.expires_after_seconds} onChange={(s) => set({ expires_after_seconds: s })} />
      </div>
    </>
  );
}

export function InAppEditor({ prefix, value, onChange }: { prefix: string; value: InAppContent; onChange: (v: InAppContent) => void }) {
  const set = (change: Partial<InAppContent>) => onChange({ ...value, ...change });
  const optional = (text: string) => (text === '' ? undefined : text);
  const setButton = (i: number, change: Partial<InAppContent['buttons'][number]>) => set({ buttons: value.buttons.map((b, j) => (j === i ? { ...b, ...change } : b)) });
  return (
    <>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={`${prefix}-iam-layout`}>Layout</label>
          <select id={`${prefix}-iam-layout`} value={value.layout} onChange={(e) => set({ layout: e.target.value === 'slideup' ? 'slideup' : 'modal' })}>
            <option value="modal">Modal</option>
            <option value="slideup">Slide-up</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${prefix}-iam-triggers`}>Shown when the SDK logs (custom events, comma-separated)</label>
          <input
            id={`${prefix}-iam-triggers`}
            className="mono"
            value={value.trigger_events.join(', ')}
            onChange={(e) => set({ trigger_events: e.target.value.split(',').map((t) => t.trim()).filter((t) => t !== '') })}
          />
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-iam-header`}>Header (Liquid, optional)</label>
        <input id={`${prefix}-iam-header`} className="mono" value={value.header ?? ''} onChange={(e) => set({ header: optional(e.target.value) })} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-iam-body`}>Message (Liquid)</label>
        <textarea id={`${prefix}-iam-body`} className="mono" rows={3} value={value.body} onChange={(e) => set({ body: e.target.value })} />
      </div>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={`${prefix}-iam-image`}>Image URL (optional)</label>
          <input id={`${prefix}-iam-image`} className="mono" value={value.image_url ?? ''} onChange={(e) => set({ image_url: optional(e.target.value) })} />
        </div>
        <Expiry id={`${prefix}-iam-expiry`} seconds={value.expires_after_seconds} onChange={(s) => set({ expires_after_seconds: s })} />
      </div>
      {value.buttons.map((b, i) => (
        <div className="grid-2" key={i}>
          <div className="field">
            <label htmlFor={`${prefix}-iam-b${i}-text`}>Button {i + 1} text</label>
            <input id={`${prefix}-iam-b${i}-text`} value={b.text} onChange={(e) => setButton(i, { text: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor={`${prefix}-iam-b${i}-url`}>Button {i + 1} URL (optional)</label>
            <input id={`${prefix}-iam-b${i}-url`} className="mono" value={b.url ?? ''} onChange={(e) => setButton(i, { url: optional(e.target.value) })} />
          </div>
        </div>
      ))}
      <div>
        {value.buttons.length < 2 ? (
          <button type="button" className="button button-small" onClick={() => set({ buttons: [...value.buttons, { id: `button_${value.buttons.length + 1}`, text: 'OK' }] })}>
            Add button
          </button>
        ) : null}{' '}
        {value.buttons.length ? (
          <button type="button" className="button button-small button-ghost" onClick={() => set({ buttons: value.buttons.slice(0, -1) })}>
            Remove last button
          </button>
        ) : null}
      </div>
    </>
  );
}

/** The rendered card or in-app message, as the SDK lays it out (texts only; links are not followed here). */
export function MessagePreview({ rendered }: { rendered: Rendered }) {
  if (rendered.content_card) {
    const c = rendered.content_card;
    return (
      <div className="card" data-testid="preview-content-card" style={{ padding: 12 }}>
        {c.pinned ? <p className="muted small">Pinned</p> : null}
        {c.image_url ? <p className="muted small mono">image: {c.image_url}</p> : null}
        <strong>{c.title}</strong>
        <p>{c.description}</p>
        {c.url ? <p className="muted small mono">→ {c.url}</p> : null}
      </div>
    );
  }
  if (rendered.in_app_message) {
    const m = rendered.in_app_message;
    return (
      <div className="card" data-testid="preview-in-app" style={{ padding: 12 }}>
        <p className="muted small">
          {m.layout === 'modal' ? 'Modal' : 'Slide-up'}, shown on: <span className="mono">{m.trigger_events.join(', ') || '(no trigger event)'}</span>
        </p>
        {m.image_url ? <p className="muted small mono">image: {m.image_url}</p> : null}
        {m.header ? <strong>{m.header}</strong> : null}
        <p>{m.body}</p>
        <p>
          {m.buttons.map((b) => (
            <span key={b.id} className="button button-small" title={b.url || 'closes the message'}>
              {b.text}
            </span>
          ))}
        </p>
      </div>
    );
  }
  return null;
}
