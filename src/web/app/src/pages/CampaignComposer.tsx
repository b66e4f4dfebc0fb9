/**
 * Composes, launches and follows one campaign: channel, audience (a segment, with its reachable
 * count), control group, variants written in Liquid with a live preview rendered by the server for
 * a chosen user, a test send to an address, launch behind a confirmation that states the audience
 * size, then progress per dispatch with pause, resume and stop.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, post, put } from '../api';
import { ErrorMessage, Loaded } from '../components/feedback';
import { Badge, PageHeader, Section } from '../components/ui';
import { CampaignView, CHANNEL_LABELS, isChannel, Launched, newVariant, Progress, Rendered, TestSendReply, WEBHOOK_METHODS, type CampaignDraft, type Channel, type VariantDraft } from '../campaigns/types';
import { ContentCardEditor, InAppEditor, MessagePreview } from '../campaigns/MessageEditors';
import { choice } from '../choice';
import { count, when } from '../format';
import { useDebounced, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { SegmentCount, SegmentPage, type Segment } from '../types';

const failure = (e: unknown) => (e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));

export function CampaignComposer({ id }: { id?: string }) {
  const segments = useResource(SegmentPage, '/admin/segments?limit=1000');
  const existing = useResource(CampaignView, id ? `/admin/campaigns/${id}` : null);
  return (
    <Loaded resource={segments} what="the segments" feature="Campaigns" needs="GET /admin/segments">
      {(s) =>
        id ? (
          <Loaded resource={existing} what="the campaign">
            {(c) => <Composer key={c.id} segments={s.segments} campaign={c} reload={existing.reload} />}
          </Loaded>
        ) : (
          <Composer segments={s.segments} />
        )
      }
    </Loaded>
  );
}

function useReachable(segmentId: string): number | undefined {
  const r = useResource(SegmentCount, segmentId ? `/admin/segments/${segmentId}/count` : null);
  return segmentId ? r.data?.count : undefined;
}

/** The preview route renders email, webhook, content card and in-app variants; SMS and web push have no preview. */
function previewBody(channel: Channel, variant: VariantDraft, externalId: string) {
  const user = externalId.trim() ? { external_id: externalId.trim() } : {};
  if (channel === 'email') return { channel, variant: { email: variant.email }, ...user };
  if (channel === 'webhook') return { channel, variant: { webhook: variant.webhook }, ...user };
  if (channel === 'content_card') return { channel, variant: { content_card: variant.content_card }, ...user };
  if (channel === 'in_app_message') return { channel, variant: { in_app_message: variant.in_app_message }, ...user };
  return undefined;
}

function usePreview(channel: Channel, variant: VariantDraft | undefined, externalId: string) {
  const payload = variant && previewBody(channel, variant, externalId);
  const body = payload ? JSON.stringify(payload) : undefined;
  const debounced = useDebounced(body, 350);
  const [state, setState] = useState<{ rendered?: Rendered; error?: ApiFailure; busy: boolean }>({ busy: false });
  useEffect(() => {
    if (!debounced) return;
    let live = true;
    setState((s) => ({ ...s, busy: true }));
    const payload: unknown = JSON.parse(debounced);
    post(Rendered, '/admin/campaigns/preview', payload)
      .then((rendered) => live && setState({ rendered, busy: false }))
      .catch((e: unknown) => live && setState({ error: failure(e), busy: false }));
    return () => {
      live = false;
    };
  }, [debounced]);
  return state;
}

function Composer({ segments, campaign, reload }: { segments: Segment[]; campaign?: CampaignView; reload?: () => void }) {
  const [name, setName] = useState(campaign?.name ?? '');
  const [channel, setChannel] = useState<Channel>(campaign?.channel ?? 'email');
  const [segmentId, setSegmentId] = useState(campaign?.audience.segment_id ?? segments[0]?.id ?? '');
  const [control, setControl] = useState(campaign?.control_percent ?? 0);
  const sender = campaign?.channel === 'email' ? campaign.from : undefined;
  const [fromAddress, setFromAddress] = useState(sender?.address ?? '');
  const [fromName, setFromName] = useState(sender?.name ?? '');
  const [variants, setVariants] = useState<VariantDraft[]>(campaign?.variants ?? [newVariant('email', 1, 100)]);
  const [selected, setSelected] = useState(0);
  const [previewUser, setPreviewUser] = useState('');
  const [testTo, setTestTo] = useState('');
  const [message, setMessage] = useState<string | undefined>();
  const [error, setError] = useState<{ error: ApiFailure; action: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const reachable = useReachable(segmentId);
  const preview = usePreview(channel, variants[selected], previewUser);
  const editable = !campaign || campaign.state === 'draft' || campaign.state === 'paused' || campaign.state === 'active';

  const switchChannel = (c: Channel) => {
    setChannel(c);
    setVariants((vs) => vs.map((v, i) => ({ ...newVariant(c, i + 1, v.percent), id: v.id, name: v.name })));
  };
  const patch = (i: number, change: Partial<VariantDraft>) => setVariants((vs) => vs.map((v, j) => (j === i ? { ...v, ...change } : v)));
  /** The campaign body of the contract, built for the draft's channel (only its message is sent). */
  const body = (): CampaignDraft => {
    // What the composer does not edit (delivery, trigger, delivery rules) is kept as the campaign has it.
    const kept = campaign
      ? { conversion_behaviors: campaign.conversion_behaviors, rate_limit_per_minute: campaign.rate_limit_per_minute, trigger: campaign.trigger, quiet_hours: campaign.quiet_hours, ignore_frequency_capping: campaign.ignore_frequency_capping }
      : {};
    const common = { ...kept, name: name.trim(), delivery: campaign?.delivery ?? 'launch', send_to: campaign?.send_to ?? 'subscribed_or_opted_in', audience: { segment_id: segmentId }, control_percent: control };
    const share = (v: VariantDraft) => ({ id: v.id, name: v.name, percent: v.percent });
    switch (channel) {
      case 'email':
        return { ...common, channel, from: { address: fromAddress.trim(), ...(fromName.trim() ? { name: fromName.trim() } : {}) }, ...(campaign?.channel === 'email' && campaign.reply_to ? { reply_to: campaign.reply_to } : {}), variants: variants.map((v) => ({ ...share(v), email: v.email })) };
      case 'webhook':
        return { ...common, channel, variants: variants.map((v) => ({ ...share(v), webhook: v.webhook })) };
      case 'sms':
        return { ...common, channel, variants: variants.map((v) => ({ ...share(v), sms: v.sms })) };
      case 'pushnotification':
        return { ...common, channel, variants: variants.map((v) => ({ ...share(v), pushnotification: v.pushnotification })) };
      case 'content_card':
        return { ...common, channel, variants: variants.map((v) => ({ ...share(v), content_card: v.content_card })) };
      case 'in_app_message':
        return { ...common, channel, variants: variants.map((v) => ({ ...share(v), in_app_message: v.in_app_message })) };
    }
  };
  const run = async (action: string, work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      await work();
    } catch (e) {
      setError({ error: failure(e), action });
    } finally {
      setBusy(false);
    }
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    void run('save the campaign', async () => {
      if (campaign) {
        await put(CampaignView, `/admin/campaigns/${campaign.id}`, body());
        setMessage('Saved.');
        reload?.();
      } else {
        const created = await post(CampaignView, '/admin/campaigns', body());
        navigate(`/campaigns/${created.id}`, { replace: true });
      }
    });
  };
  const testSend = () =>
    run('send the test message', async () => {
      const v = variants[selected]!;
      const r = await post(TestSendReply, '/admin/campaigns/test-send', {
        to: testTo.trim(),
        from: { address: fromAddress.trim(), ...(fromName.trim() ? { name: fromName.trim() } : {}) },
        email: v.email,
        ...(previewUser.trim() ? { external_id: previewUser.trim() } : {}),
      });
      setMessage(`Test message sent to ${testTo.trim()} (${r.smtp_response}).`);
    });
  const act = (action: 'launch' | 'pause' | 'resume' | 'stop') =>
    run(`${action} the campaign`, async () => {
      const path = `/admin/campaigns/${campaign!.id}/${action}`;
      if (action === 'launch') {
        const r = await post(Launched, path);
        setMessage(`Launched to ${count(r.audience_size ?? reachable ?? 0)} users.`);
      } else {
        await post(CampaignView, path);
        setMessage(`Campaign ${action === 'stop' ? 'stopped' : action === 'pause' ? 'paused' : 'resumed'}.`);
      }
      setConfirming(false);
      reload?.();
    });

  const total = variants.reduce((s, v) => s + v.percent, 0) + control;
  return (
    <div className="builder">
      <PageHeader
        title={campaign ? campaign.name : 'New campaign'}
        subtitle={
          <>
            <Link to="/campaigns">Campaigns</Link> › {campaign ? <Badge value={campaign.state} /> : 'compose'}
          </>
        }
      />
      <form onSubmit={save} className="builder-grid">
        <div>
          <Section title="Details">
            <div className="grid-2">
              <div className="field">
                <label htmlFor="campaign-name">Name</label>
                <input id="campaign-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
              </div>
              <div className="field">
                <label htmlFor="campaign-channel">Channel</label>
                <select id="campaign-channel" value={channel} disabled={!!campaign} onChange={(e) => isChannel(e.target.value) && switchChannel(e.target.value)}>
                  {Object.entries(CHANNEL_LABELS).map(([value, label]) => (
                    <option key={value} value={value}>
                      {label}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label htmlFor="campaign-segment">Audience (segment)</label>
                <select id="campaign-segment" required value={segmentId} onChange={(e) => setSegmentId(e.target.value)}>
                  {segments.length ? null : <option value="">No segments yet</option>}
                  {segments.map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </select>
                <p className="muted small" data-testid="audience-count">
                  {reachable === undefined ? 'Counting…' : `${count(reachable)} users in the segment`} (those not subscribed or without an address are skipped at send)
                </p>
              </div>
              <div className="field">
                <label htmlFor="campaign-control">Control group %</label>
                <input id="campaign-control" type="number" min={0} max={100} value={control} onChange={(e) => setControl(Number(e.target.value))} />
              </div>
              {channel === 'email' ? (
                <>
                  <div className="field">
                    <label htmlFor="campaign-from">From address</label>
                    <input id="campaign-from" type="email" required value={fromAddress} onChange={(e) => setFromAddress(e.target.value)} />
                  </div>
                  <div className="field">
                    <label htmlFor="campaign-from-name">From name (optional)</label>
                    <input id="campaign-from-name" maxLength={200} value={fromName} onChange={(e) => setFromName(e.target.value)} />
                  </div>
                </>
              ) : null}
              <div className="field">
                <span className="label">Schedule</span>
                <p className="muted small">Sent now, when launched.</p>
              </div>
            </div>
          </Section>
          <Section
            title="Variants"
            actions={
              variants.length < 8 ? (
                <button type="button" className="button button-small" onClick={() => setVariants((vs) => [...vs, newVariant(channel, vs.length + 1, 0)])}>
                  Add variant
                </button>
              ) : null
            }
          >
            {total !== 100 ? <p className="notice notice-error">Variant percentages and the control group add up to {total}; they must add up to 100.</p> : null}
            {variants.map((v, i) => (
              <fieldset key={i} className="variant" onFocus={() => setSelected(i)}>
                <legend>
                  {v.name} {selected === i ? <span className="muted small">(previewed)</span> : null}
                </legend>
                <div className="grid-2">
                  <div className="field">
                    <label htmlFor={`v${i}-name`}>Variant name</label>
                    <input id={`v${i}-name`} value={v.name} onChange={(e) => patch(i, { name: e.target.value })} />
                  </div>
                  <div className="field">
                    <label htmlFor={`v${i}-percent`}>Variant {i + 1} %</label>
                    <input id={`v${i}-percent`} type="number" min={0} max={100} value={v.percent} onChange={(e) => patch(i, { percent: Number(e.target.value) })} />
                  </div>
                </div>
                {v.email ? (
                  <>
                    <div className="field">
                      <label htmlFor={`v${i}-subject`}>Subject (Liquid)</label>
                      <input id={`v${i}-subject`} className="mono" value={v.email.subject} onChange={(e) => patch(i, { email: { ...v.email!, subject: e.target.value } })} />
                    </div>
                    <div className="field">
                      <label htmlFor={`v${i}-html`}>HTML body (Liquid)</label>
                      <textarea id={`v${i}-html`} className="mono" rows={8} spellCheck={false} value={v.email.html} onChange={(e) => patch(i, { email: { ...v.email!, html: e.target.value } })} />
                    </div>
                  </>
                ) : null}
                {v.webhook ? (
                  <>
                    <div className="grid-2">
                      <div className="field">
                        <label htmlFor={`v${i}-url`}>URL (Liquid)</label>
                        <input id={`v${i}-url`} className="mono" value={v.webhook.url} onChange={(e) => patch(i, { webhook: { ...v.webhook!, url: e.target.value } })} />
                      </div>
                      <div className="field">
                        <label htmlFor={`v${i}-method`}>Method</label>
                        <select id={`v${i}-method`} value={v.webhook.method} onChange={(e) => patch(i, { webhook: { ...v.webhook!, method: choice(WEBHOOK_METHODS, e.target.value, 'POST') } })}>
                          {WEBHOOK_METHODS.map((m) => (
                            <option key={m}>{m}</option>
                          ))}
                        </select>
                      </div>
                    </div>
                    <div className="field">
                      <label htmlFor={`v${i}-body`}>Body (Liquid)</label>
                      <textarea id={`v${i}-body`} className="mono" rows={6} spellCheck={false} value={v.webhook.body} onChange={(e) => patch(i, { webhook: { ...v.webhook!, body: e.target.value } })} />
                    </div>
                  </>
                ) : null}
                {v.content_card ? <ContentCardEditor prefix={`v${i}`} value={v.content_card} onChange={(content_card) => patch(i, { content_card })} /> : null}
                {v.in_app_message ? <InAppEditor prefix={`v${i}`} value={v.in_app_message} onChange={(in_app_message) => patch(i, { in_app_message })} /> : null}
                {v.sms ? (
                  <div className="field">
                    <label htmlFor={`v${i}-sms`}>Message (Liquid, at most 1600 characters)</label>
                    <textarea id={`v${i}-sms`} className="mono" rows={4} maxLength={1600} spellCheck={false} value={v.sms.body} onChange={(e) => patch(i, { sms: { body: e.target.value } })} />
                  </div>
                ) : null}
                {variants.length > 1 ? (
                  <button type="button" className="button button-small button-ghost" onClick={() => (setVariants((vs) => vs.filter((_, j) => j !== i)), setSelected(0))}>
                    Remove variant
                  </button>
                ) : null}
              </fieldset>
            ))}
          </Section>
        </div>
        <aside className="card reach" aria-labelledby="preview-title">
          <h2 id="preview-title">Preview</h2>
          <div className="field">
            <label htmlFor="preview-user">Render for user (external id)</label>
            <input id="preview-user" value={previewUser} placeholder="an empty profile" onChange={(e) => setPreviewUser(e.target.value)} />
          </div>
          <div aria-live="polite" data-testid="preview" data-state={preview.busy ? 'rendering' : preview.error ? 'failed' : 'done'}>
            {preview.error ? <ErrorMessage error={preview.error} action="render the preview" /> : null}
            {preview.rendered?.abort ? (
              <p className="notice notice-error">
                Aborted ({preview.rendered.abort.abort_type}): {preview.rendered.abort.abort_log}
              </p>
            ) : null}
            {preview.rendered?.email ? (
              <>
                <p>
                  <strong>Subject:</strong> <span data-testid="preview-subject">{preview.rendered.email.subject}</span>
                </p>
                <iframe title="Email preview" className="email-preview" sandbox="" srcDoc={preview.rendered.email.html} />
              </>
            ) : null}
            {preview.rendered?.webhook ? (
              <pre className="mono small" data-testid="preview-webhook">
                {preview.rendered.webhook.method} {preview.rendered.webhook.url}
                {'\n\n'}
                {preview.rendered.webhook.body}
              </pre>
            ) : null}
            {preview.rendered ? <MessagePreview rendered={preview.rendered} /> : null}
          </div>
          {channel === 'email' ? (
            <div className="field">
              <label htmlFor="test-to">Send a test to</label>
              <input id="test-to" type="email" value={testTo} onChange={(e) => setTestTo(e.target.value)} />
              <button type="button" className="button button-small" disabled={busy || !testTo.trim() || !fromAddress.trim()} onClick={() => void testSend()}>
                Send test
              </button>
            </div>
          ) : null}
          {error ? <ErrorMessage error={error.error} action={error.action} /> : null}
          {message ? (
            <p className="notice" role="status">
              {message}
            </p>
          ) : null}
          {editable ? (
            <button type="submit" className="button button-primary" disabled={busy || total !== 100 || !name.trim() || !segmentId}>
              {campaign ? 'Save changes' : 'Save draft'}
            </button>
          ) : null}
          {campaign ? <Controls campaign={campaign} reachable={reachable} busy={busy} confirming={confirming} setConfirming={setConfirming} act={act} /> : null}
        </aside>
      </form>
      {campaign ? <ProgressSection id={campaign.id} /> : null}
    </div>
  );
}

function Controls({
  campaign,
  reachable,
  busy,
  confirming,
  setConfirming,
  act,
}: {
  campaign: CampaignView;
  reachable: number | undefined;
  busy: boolean;
  confirming: boolean;
  setConfirming: (v: boolean) => void;
  act: (a: 'launch' | 'pause' | 'resume' | 'stop') => Promise<void>;
}) {
  const s = campaign.state;
  return (
    <div className="launch">
      {s === 'draft' || s === 'active' ? (
        confirming ? (
          <div className="confirm" role="alertdialog" aria-label="Confirm launch">
            <p data-testid="launch-confirmation">
              Send “{campaign.name}” now to the {reachable === undefined ? '…' : count(reachable)} users of its segment
              {campaign.control_percent ? ` (${campaign.control_percent}% held out as control)` : ''}?
            </p>
            <button type="button" className="button button-danger" disabled={busy} onClick={() => void act('launch')}>
              Send to {reachable === undefined ? '…' : count(reachable)} users
            </button>{' '}
            <button type="button" className="button button-ghost" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        ) : (
          <button type="button" className="button button-primary" disabled={busy} onClick={() => setConfirming(true)}>
            Launch…
          </button>
        )
      ) : null}{' '}
      {s === 'active' ? (
        <button type="button" className="button button-small" disabled={busy} onClick={() => void act('pause')}>
          Pause
        </button>
      ) : null}
      {s === 'paused' ? (
        <button type="button" className="button button-small" disabled={busy} onClick={() => void act('resume')}>
          Resume
        </button>
      ) : null}{' '}
      {s === 'draft' || s === 'active' || s === 'paused' ? (
        <button type="button" className="button button-small button-danger" disabled={busy} onClick={() => void act('stop')}>
          Stop
        </button>
      ) : null}
    </div>
  );
}

function ProgressSection({ id }: { id: string }) {
  const progress = useResource(Progress, `/admin/campaigns/${id}/progress`, { refreshMs: 1000 });
  return (
    <Section title="Progress">
      <Loaded resource={progress} what="the progress">
        {(p) =>
          p.dispatches.length ? (
            <div className="table-wrap">
              <table className="data" data-testid="progress-table">
                <thead>
                  <tr>
                    <th scope="col">Dispatch</th>
                    <th scope="col">Audience</th>
                    <th scope="col">Queued</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Failed</th>
                    <th scope="col">Aborted</th>
                    <th scope="col">Skipped</th>
                    <th scope="col">Control</th>
                    <th scope="col">Done</th>
                  </tr>
                </thead>
                <tbody>
                  {p.dispatches.map((d) => {
                    const done = d.total ? Math.round(((d.total - d.queued) / d.total) * 100) : 0;
                    return (
                      <tr key={d.dispatch_id} data-dispatch={d.dispatch_id}>
                        <td className="nowrap">
                          {when(d.created_at)} {d.state === 'resolving' ? <span className="muted small">(resolving audience)</span> : null}
                        </td>
                        <td className="num">{count(d.total)}</td>
                        <td className="num">{count(d.queued)}</td>
                        <td className="num" data-testid="progress-sent">
                          {count(d.sent)}
                        </td>
                        <td className="num">{count(d.failed)}</td>
                        <td className="num">{count(d.aborted)}</td>
                        <td className="num">{count(d.skipped)}</td>
                        <td className="num">{count(d.control)}</td>
                        <td>
                          <progress max={100} value={d.state === 'resolving' ? undefined : done} aria-label={`${done}% done`} /> {done}%
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="muted">Not launched yet.</p>
          )
        }
      </Loaded>
    </Section>
  );
}
