/**
 * One attempt of one send (docs/reference/campaigns.md §3): recheck the user, render, deliver,
 * record. Every write is fenced by the send's lease, so a worker that lost it commits nothing; the
 * channel's Send event is appended when the first attempt starts, and every outcome appends its
 * event with an id derived from the send key, so nothing is recorded twice.
 */
import { composeEmail, nextEmailAttempt, type SmtpOutcome, type SmtpSettings } from '../channels/index.js';
import { attemptWebhook, nextWebhookAttempt, type AddressPolicy, type AttemptRecord, type WebhookOutcome } from '../channels/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import { usersByIds, type User } from '../identity/index.js';
import { buildRenderScope, compileTemplate, renderTemplate, type CompiledTemplate, type RenderOutcome } from '../personalization/index.js';
import type { Db, Queryable } from '../storage/index.js';
import type { Dispatcher } from 'undici';
import type { Variant } from './definition.js';
import { campaignEvent, campaignRef, type SendContext } from './events.js';
import { emailSkipReason } from './resolve.js';
import { flagHardBounce, flagsOf, getDispatch, holdsSend, type Dispatch, type SendRow } from './store.js';
import { signToken } from '../channels/index.js';
import { acceptSmsMessage, prepareSmsMessage, type SmsMessage, type SmsProvider, type SmsSendOutcome } from '../channels/index.js';
import { smsSubscribeState } from '../identity/index.js';
import type { SendWriter } from './send-writer.js';
import { attemptPush, type PushChannel } from './attempt-push.js';
import { IN_APP_FORMAT_VERSION, writeContentCard, writeInAppMessage, type MessageContext } from '../channels/index.js';
import { expiryOf } from './definition.js';

export interface AttemptDeps {
  db: Db;
  owner: string;
  publicUrl: string;
  smtp: SmtpSettings;
  sendEmail(settings: SmtpSettings, email: ReturnType<typeof composeEmail>): Promise<SmtpOutcome>;
  webhookAgent: Dispatcher;
  webhookPolicy: AddressPolicy;
  trackingSecret(workspaceId: string): Buffer;
  campaignName(campaignId: string): Promise<string>;
  now(): number;
  /** The worker's group-commit queue (send-writer.ts); without it each write is a transaction of its own. */
  writer?: SendWriter;
  /** The SMS channel: the workspace's provider, the send, and the status callback URL to give it. */
  sms?: {
    provider(workspaceId: string): Promise<SmsProvider | undefined>;
    send(provider: SmsProvider, message: SmsMessage): Promise<SmsSendOutcome>;
    statusCallback(workspaceId: string, sendKey: string): string;
  };
  /** The web push channel (attempt-push.ts). */
  push?: PushChannel;
}

const compiled = new Map<string, CompiledTemplate>();
function template(key: string, source: string): CompiledTemplate {
  let t = compiled.get(key);
  if (!t) {
    const c = compileTemplate(source);
    if (!c.template) throw new Error(`template ${key} does not compile: ${c.problems[0]?.message}`);
    if (compiled.size > 2000) compiled.clear();
    compiled.set(key, (t = c.template));
  }
  return t;
}

/** Dispatches by id (a dispatch's definition never changes); promises, so that the lanes of a batch share one read. */
const dispatches = new Map<string, Promise<Dispatch>>();
function dispatchOf(db: Db, id: string): Promise<Dispatch> {
  let d = dispatches.get(id);
  if (!d) {
    if (dispatches.size > 1000) dispatches.clear();
    d = getDispatch(db, id).then((found) => {
      if (!found) throw new Error(`dispatch ${id} is gone`);
      return found;
    });
    dispatches.set(id, d);
    d.catch(() => dispatches.delete(id));
  }
  return d;
}

/**
 * The users and address flags of a claimed batch, read with one query each instead of two per send
 * (the send path's cost is its round trips to the database). Read at claim time: a user who
 * unsubscribes while the batch is under way is seen by the next batch.
 */
export interface Prefetched {
  users: Map<string, User>;
  flags: Map<string, { hard_bounced: boolean; spam_reported: boolean }>;
}

export async function prefetch(db: Db, rows: SendRow[]): Promise<Prefetched> {
  const out: Prefetched = { users: new Map(), flags: new Map() };
  const byWorkspace = new Map<string, string[]>();
  for (const r of rows) {
    const ids = byWorkspace.get(r.workspace_id);
    if (ids) ids.push(r.user_id);
    else byWorkspace.set(r.workspace_id, [r.user_id]);
  }
  for (const [ws, ids] of byWorkspace) {
    const users = await usersByIds(db, ws, [...new Set(ids)]);
    for (const u of users) out.users.set(`${ws}:${u.id}`, u);
    const emails = users.map((u) => u.email).filter((e): e is string => !!e);
    for (const [email, f] of await flagsOf(db, ws, emails)) out.flags.set(`${ws}:${email}`, f);
  }
  return out;
}

/** Runs `work` in a transaction only while this worker still holds the send; false if it does not. */
async function fenced(deps: AttemptDeps, row: SendRow, work: (tx: Queryable) => Promise<void>): Promise<boolean> {
  return deps.db.transaction(async (tx) => {
    if (!(await holdsSend(tx, row.send_key, deps.owner))) return false;
    await work(tx);
    return true;
  });
}

async function finish(deps: AttemptDeps, row: SendRow, state: string, reason: string | null, events: LogEvent[], extra: { attempt?: AttemptRecord; delivered?: boolean; write?: (tx: Queryable) => Promise<LogEvent[]> } = {}): Promise<void> {
  // A channel that writes its own rows with the outcome (content cards, in-app messages) takes the fenced path.
  if (deps.writer && !extra.write) {
    await deps.writer.write({ kind: 'finish', sendKey: row.send_key, workspaceId: row.workspace_id, state, reason, events, ...(extra.attempt ? { attempt: extra.attempt } : {}), delivered: extra.delivered === true });
    return;
  }
  await fenced(deps, row, async (tx) => {
    if (extra.write) events = [...events, ...(await extra.write(tx))];
    await tx.query(
      `UPDATE campaign_sends SET state = $2, reason = $3, lease_owner = NULL, lease_until = NULL,
              attempt_log = CASE WHEN $4::jsonb IS NULL THEN attempt_log ELSE attempt_log || $4::jsonb END,
              delivered_at = CASE WHEN $5 THEN now() ELSE delivered_at END
        WHERE send_key = $1`,
      [row.send_key, state, reason, extra.attempt ? JSON.stringify([extra.attempt]) : null, extra.delivered === true],
    );
    await appendEvents(tx, row.workspace_id, events);
  });
}

async function retryLater(deps: AttemptDeps, row: SendRow, at: number, events: LogEvent[], attempt?: AttemptRecord): Promise<void> {
  if (deps.writer) {
    await deps.writer.write({ kind: 'retry', sendKey: row.send_key, workspaceId: row.workspace_id, at, events, ...(attempt ? { attempt } : {}) });
    return;
  }
  await fenced(deps, row, async (tx) => {
    await tx.query(
      `UPDATE campaign_sends SET next_attempt_at = to_timestamp($2::float8 / 1000), lease_owner = NULL, lease_until = NULL,
              attempt_log = CASE WHEN $3::jsonb IS NULL THEN attempt_log ELSE attempt_log || $3::jsonb END
        WHERE send_key = $1`,
      [row.send_key, at, attempt ? JSON.stringify([attempt]) : null],
    );
    await appendEvents(tx, row.workspace_id, events);
  });
}

/** Marks the attempt as started (the Send event on the first); false if the lease is gone. */
async function start(deps: AttemptDeps, row: SendRow, sendEvent: LogEvent | undefined): Promise<boolean> {
  if (deps.writer) return deps.writer.write({ kind: 'start', sendKey: row.send_key, workspaceId: row.workspace_id, events: sendEvent && row.attempts === 0 ? [sendEvent] : [] });
  return fenced(deps, row, async (tx) => {
    await tx.query(`UPDATE campaign_sends SET attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, now()) WHERE send_key = $1`, [row.send_key]);
    if (sendEvent && row.attempts === 0) await appendEvents(tx, row.workspace_id, [sendEvent]);
  });
}

async function render(key: string, source: string | undefined, scope: Record<string, unknown>): Promise<RenderOutcome> {
  if (source === undefined) return { ok: true, text: '' };
  return renderTemplate(template(key, source), scope);
}

export async function attemptSend(deps: AttemptDeps, row: SendRow, pre?: Prefetched): Promise<void> {
  const dispatch = await dispatchOf(deps.db, row.dispatch_id);
  const variant = dispatch.definition.variants.find((v) => v.id === row.variant_id);
  const user = pre ? pre.users.get(`${row.workspace_id}:${row.user_id}`) : (await usersByIds(deps.db, row.workspace_id, [row.user_id]))[0];
  if (!variant || !user) return finish(deps, row, 'skipped', user ? 'not_eligible' : 'user_deleted', []);
  const ctx: SendContext = {
    workspaceId: row.workspace_id,
    sendKey: row.send_key,
    dispatchId: row.dispatch_id,
    campaign: campaignRef(row.campaign_id, await deps.campaignName(row.campaign_id), dispatch.definition),
    variant: { id: variant.id, name: variant.name },
    user,
  };
  const secret = deps.trackingSecret(row.workspace_id);
  const unsubscribeUrl = `${deps.publicUrl}/u/${signToken({ k: 'unsubscribe', w: row.workspace_id, s: row.send_key }, secret)}`;
  const scope = buildRenderScope({
    profile: { ...user, dob: user.dob },
    campaign: { api_id: row.campaign_id, dispatch_id: row.dispatch_id, name: ctx.campaign.name, message_name: variant.name, message_api_id: variant.id },
    links: { unsubscribe: unsubscribeUrl },
    apiTriggerProperties: row.trigger_properties ?? {},
    // An action-based send renders its triggering event's properties as event_properties.
    ...(dispatch.definition.delivery === 'action_based' ? { eventProperties: row.trigger_properties ?? {} } : {}),
  });
  if (variant.email) return attemptEmail(deps, row, dispatch, variant, user, ctx, scope, secret, pre);
  if (variant.webhook) return attemptHook(deps, row, variant, ctx, scope);
  if (variant.sms) return attemptSms(deps, row, variant, user, ctx, scope);
  if (variant.pushnotification) {
    return attemptPush(deps, row, variant, user, ctx, {
      fenced: (work) => fenced(deps, row, work),
      start: () => start(deps, row, undefined),
      finish: (state, reason, events, extra) => finish(deps, row, state, reason, events, extra),
      retryLater: (at, events, attempt) => retryLater(deps, row, at, events, attempt),
      render: (key, source) => render(key, source, scope),
    });
  }
  if (variant.content_card) return attemptContentCard(deps, row, variant, ctx, scope);
  if (variant.in_app_message) return attemptInApp(deps, row, variant, ctx, scope);
  return finish(deps, row, 'skipped', 'not_eligible', []);
}

async function attemptEmail(deps: AttemptDeps, row: SendRow, dispatch: Dispatch, variant: Variant, user: User, ctx: SendContext, scope: Record<string, unknown>, secret: Buffer, pre?: Prefetched): Promise<void> {
  const email = variant.email!;
  const now = deps.now();
  const ev = (type: string, fields: Record<string, unknown> = {}, discriminator = '') => campaignEvent(`users.messages.email.${type}`, ctx, { email_address: user.email ?? '', ...fields }, deps.now(), discriminator);
  // A send that waited is checked again: a user may have unsubscribed or bounced meanwhile.
  if (!user.email) return finish(deps, row, 'aborted', 'missing_email', [ev('Abort', { abort_type: 'missing_email', abort_log: 'the user has no email address' })]);
  const flags = pre ? pre.flags.get(`${row.workspace_id}:${user.email.toLowerCase()}`) : (await flagsOf(deps.db, row.workspace_id, [user.email])).get(user.email.toLowerCase());
  const skip = emailSkipReason(dispatch.definition, user, flags);
  if (skip) return finish(deps, row, 'skipped', skip, []);

  const base = `${row.dispatch_id}:${variant.id}`;
  const parts = await Promise.all([
    render(`${base}:subject`, email.subject, scope),
    render(`${base}:html`, email.html, scope),
    render(`${base}:text`, email.text, scope),
    render(`${base}:preheader`, email.preheader, scope),
  ]);
  const failed = parts.find((p): p is Extract<RenderOutcome, { ok: false }> => !p.ok);
  if (failed) return finish(deps, row, 'aborted', failed.abortType, [ev('Abort', { abort_type: failed.abortType, abort_log: failed.abortLog })]);
  const [subject, html, text, preheader] = parts.map((p) => (p.ok ? p.text : ''));
  const from = dispatch.definition.from!;
  const composed = composeEmail({
    email: { subject: subject!, html: html!, ...(email.text !== undefined ? { text } : {}), ...(email.preheader !== undefined ? { preheader } : {}) },
    to: user.email,
    from,
    replyTo: dispatch.definition.reply_to,
    sendKey: row.send_key,
    workspaceId: row.workspace_id,
    publicUrl: deps.publicUrl,
    secret,
    listUnsubscribe: dispatch.definition.send_to !== 'all',
  });
  const fromDomain = from.address.slice(from.address.lastIndexOf('@') + 1);
  if (!(await start(deps, row, ev('Send', { from_domain: fromDomain })))) return;
  const outcome = await deps.sendEmail(deps.smtp, composed);
  const attempt = { at: new Date(now).toISOString(), status: outcome.kind === 'delivered' ? 250 : outcome.code, duration_ms: deps.now() - now, reply: outcome.kind === 'delivered' ? outcome.response : outcome.reason };
  const esp = { esp: 'smtp', from_domain: fromDomain };
  if (outcome.kind === 'delivered') return finish(deps, row, 'delivered', null, [ev('Delivery', esp)], { attempt, delivered: true });
  if (outcome.kind === 'bounce') {
    await finish(deps, row, 'bounced', outcome.reason.slice(0, 200), [ev('Bounce', { ...esp, bounce_reason: outcome.reason, is_drop: false })], { attempt });
    return flagHardBounce(deps.db, row.workspace_id, user.email);
  }
  const attempts = row.attempts + 1;
  const next = nextEmailAttempt({ attempts, firstAttemptAt: row.first_attempt_at?.getTime() ?? now, now: deps.now() });
  if (next === 'soft_bounce') return finish(deps, row, 'soft_bounced', outcome.reason.slice(0, 200), [ev('SoftBounce', { ...esp, bounce_reason: outcome.reason })], { attempt });
  const domain = user.email.slice(user.email.lastIndexOf('@') + 1);
  return retryLater(deps, row, next.at, [ev('Deferral', { ...esp, deferral_reason: outcome.reason, attempt_count: attempts, recipient_domain: domain }, String(attempts))], attempt);
}

async function attemptHook(deps: AttemptDeps, row: SendRow, variant: Variant, ctx: SendContext, scope: Record<string, unknown>): Promise<void> {
  const hook = variant.webhook!;
  const ev = (type: string, fields: Record<string, unknown> = {}) => campaignEvent(`users.messages.webhook.${type}`, ctx, fields, deps.now());
  const base = `${row.dispatch_id}:${variant.id}`;
  const headerNames = Object.keys(hook.headers);
  const parts = await Promise.all([render(`${base}:url`, hook.url, scope), render(`${base}:body`, hook.body, scope), ...headerNames.map((h) => render(`${base}:h:${h}`, hook.headers[h], scope))]);
  const failed = parts.find((p): p is Extract<RenderOutcome, { ok: false }> => !p.ok);
  if (failed) return finish(deps, row, 'aborted', failed.abortType, [ev('Abort', { abort_type: failed.abortType, abort_log: failed.abortLog })]);
  const [url, body, ...values] = parts.map((p) => (p.ok ? p.text : ''));
  if (!(await start(deps, row, undefined))) return;
  const outcome: WebhookOutcome = await attemptWebhook(
    { url: url!.trim(), method: hook.method, headers: Object.fromEntries(headerNames.map((h, i) => [h, values[i]!])), body, sendKey: row.send_key },
    deps.webhookAgent,
    deps.webhookPolicy,
    deps.now,
  );
  if (outcome.kind === 'sent') return finish(deps, row, 'sent', null, [ev('Send')], { attempt: outcome.attempt, delivered: true });
  if (outcome.kind === 'aborted') return finish(deps, row, 'aborted', outcome.abortType, [ev('Abort', { abort_type: outcome.abortType, abort_log: outcome.abortLog })], { attempt: outcome.attempt });
  const first = row.first_attempt_at?.getTime() ?? Date.parse(outcome.attempt.at);
  const next = nextWebhookAttempt({ attempts: row.attempts + 1, firstAttemptAt: first, now: deps.now(), retryAfterMs: outcome.retryAfterMs });
  if (next === 'exhausted') return finish(deps, row, 'aborted', 'exhausted_retries', [ev('Abort', { abort_type: 'exhausted_retries', abort_log: `no success within 24 hours; last: ${outcome.attempt.status ?? outcome.attempt.error}` })], { attempt: outcome.attempt });
  return retryLater(deps, row, next.at, [], outcome.attempt);
}

async function attemptSms(deps: AttemptDeps, row: SendRow, variant: Variant, user: User, ctx: SendContext, scope: Record<string, unknown>): Promise<void> {
  const provider = deps.sms ? await deps.sms.provider(row.workspace_id) : undefined;
  const phone = { to_phone_number: user.phone ?? undefined, from_phone_number: provider?.fromNumber ?? undefined };
  const ev = (type: string, fields: Record<string, unknown> = {}) => campaignEvent(`users.messages.sms.${type}`, ctx, { ...phone, ...fields }, deps.now());
  const abort = (type: string, log: string) => finish(deps, row, 'aborted', type, [ev('Abort', { abort_type: type, abort_log: log })]);
  if (!deps.sms || !provider) return abort('sms_not_configured', 'this workspace has no SMS provider settings');
  if (!user.phone) return abort('missing_phone', 'the user has no phone number');
  // Checked at the attempt: an inbound STOP after the launch must stop this message.
  if ((await smsSubscribeState(deps.db, row.workspace_id, user.id)) === 'unsubscribed') return abort('unsubscribed', 'the user is unsubscribed from SMS');
  const body = await render(`${row.dispatch_id}:${variant.id}:sms`, variant.sms!.body, scope);
  if (!body.ok) return abort(body.abortType, body.abortLog);
  if (!body.text.trim()) return abort('empty_body', 'the message body rendered empty');
  if (body.text.length > 1600) return abort('body_too_long', `the rendered body has ${body.text.length} characters; at most 1600`);
  if (!(await start(deps, row, undefined))) return;
  await prepareSmsMessage(deps.db, { send_key: row.send_key, workspace_id: row.workspace_id, to_number: user.phone, from_number: provider.fromNumber, context: { ...ctx, user: { id: user.id, external_id: user.external_id, time_zone: user.time_zone } } });
  const startedAt = deps.now();
  const outcome = await deps.sms.send(provider, { to: user.phone, body: body.text, statusCallback: deps.sms.statusCallback(row.workspace_id, row.send_key) });
  const attempt: AttemptRecord = { at: new Date(startedAt).toISOString(), status: outcome.kind === 'accepted' ? 201 : outcome.httpStatus, duration_ms: deps.now() - startedAt, ...(outcome.kind === 'accepted' ? {} : { error: outcome.message.slice(0, 200) }) } as AttemptRecord;
  if (outcome.kind === 'accepted') {
    await acceptSmsMessage(deps.db, row.send_key, outcome.sid, outcome.from);
    return finish(deps, row, 'sent', null, [ev('Send', { from_phone_number: outcome.from ?? undefined })], { attempt, delivered: true });
  }
  if (outcome.kind === 'rejected') return finish(deps, row, 'aborted', 'provider_rejected', [ev('Rejection', { error: outcome.message, provider_error_code: outcome.code })], { attempt });
  const first = row.first_attempt_at?.getTime() ?? startedAt;
  const next = nextWebhookAttempt({ attempts: row.attempts + 1, firstAttemptAt: first, now: deps.now() });
  if (next === 'exhausted') return finish(deps, row, 'aborted', 'exhausted_retries', [ev('Abort', { abort_type: 'exhausted_retries', abort_log: `the provider did not accept the message within 24 hours; last: ${outcome.message}` })], { attempt });
  return retryLater(deps, row, next.at, [], attempt);
}

const messageContext = (ctx: SendContext): MessageContext => ({ ...ctx, user: { id: ctx.user.id, external_id: ctx.user.external_id, time_zone: ctx.user.time_zone } });
const nullIfBlank = (s: string | undefined) => (s === undefined || s.trim() === '' ? null : s.trim());

/** A content card: rendered for the user and written as their card, with its Send event, in one fenced transaction. */
async function attemptContentCard(deps: AttemptDeps, row: SendRow, variant: Variant, ctx: SendContext, scope: Record<string, unknown>): Promise<void> {
  const card = variant.content_card!;
  const ev = (type: string, fields: Record<string, unknown> = {}) => campaignEvent(`users.messages.contentcard.${type}`, ctx, fields, deps.now());
  const base = `${row.dispatch_id}:${variant.id}:card`;
  const parts = await Promise.all([render(`${base}:title`, card.title, scope), render(`${base}:description`, card.description, scope), render(`${base}:image`, card.image_url, scope), render(`${base}:url`, card.url, scope)]);
  const failed = parts.find((p): p is Extract<RenderOutcome, { ok: false }> => !p.ok);
  if (failed) return finish(deps, row, 'aborted', failed.abortType, [ev('Abort', { abort_type: failed.abortType, abort_log: failed.abortLog })]);
  const [title, description, image, url] = parts.map((p) => (p.ok ? p.text : ''));
  const expires = expiryOf(card, deps.now());
  if (expires.getTime() <= deps.now()) return finish(deps, row, 'aborted', 'expired', [ev('Abort', { abort_type: 'expired', abort_log: `the card expired at ${expires.toISOString()} before it was sent` })]);
  if (!(await start(deps, row, undefined))) return;
  return finish(deps, row, 'delivered', null, [], {
    delivered: true,
    write: (tx) => writeContentCard(tx, messageContext(ctx), { title: title!, description: description!, image_url: nullIfBlank(image), url: nullIfBlank(url), pinned: card.pinned === true, expires_at: expires }, deps.now()),
  });
}

/** An in-app message: rendered for the user and written as theirs; the SDK shows it when a trigger event is logged. */
async function attemptInApp(deps: AttemptDeps, row: SendRow, variant: Variant, ctx: SendContext, scope: Record<string, unknown>): Promise<void> {
  const m = variant.in_app_message!;
  const ev = (type: string, fields: Record<string, unknown> = {}) => campaignEvent(`users.messages.inappmessage.${type}`, ctx, { version: IN_APP_FORMAT_VERSION, ...fields }, deps.now());
  const base = `${row.dispatch_id}:${variant.id}:iam`;
  const parts = await Promise.all([
    render(`${base}:header`, m.header, scope),
    render(`${base}:body`, m.body, scope),
    render(`${base}:image`, m.image_url, scope),
    ...m.buttons.flatMap((b) => [render(`${base}:b:${b.id}:text`, b.text, scope), render(`${base}:b:${b.id}:url`, b.url, scope)]),
  ]);
  const failed = parts.find((p): p is Extract<RenderOutcome, { ok: false }> => !p.ok);
  if (failed) return finish(deps, row, 'aborted', failed.abortType, [ev('Abort', { abort_type: failed.abortType, abort_log: failed.abortLog })]);
  const texts = parts.map((p) => (p.ok ? p.text : ''));
  const expires = expiryOf(m, deps.now());
  if (expires.getTime() <= deps.now()) return finish(deps, row, 'aborted', 'expired', [ev('Abort', { abort_type: 'expired', abort_log: `the message expired at ${expires.toISOString()} before it was sent` })]);
  if (!(await start(deps, row, undefined))) return;
  const buttons = m.buttons.map((b, i) => ({ id: b.id, text: texts[3 + 2 * i]!, url: nullIfBlank(texts[4 + 2 * i]) }));
  return finish(deps, row, 'sent', null, [], {
    write: async (tx) => {
      await writeInAppMessage(tx, messageContext(ctx), { layout: m.layout, header: nullIfBlank(texts[0]), body: texts[1]!, image_url: nullIfBlank(texts[2]), buttons, trigger_events: m.trigger_events, expires_at: expires });
      return [];
    },
  });
}
