/**
 * A web push attempt (docs/reference/push.md §3): the user's subscriptions are those of their SDK
 * devices; each gets the rendered notification once (a message row per subscription, written before
 * the push service is called, records what was served, so a retry skips it). Per subscription:
 * accepted → Send; 404/410 → the subscription is removed and Bounce; 408/429/5xx/network → tried
 * again by the webhook rules; any other refusal → not tried again. Abort when the user has no
 * subscription, is unsubscribed from push, or the Liquid aborts.
 */
import { markPushMessage, messagesOfSend, nextWebhookAttempt, preparePushMessage, subscriptionsOfDevices, type AttemptRecord, type PushOutcome, type PushTarget, type VapidKeys } from '../channels/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import { devicesOfUsers, type User } from '../identity/index.js';
import type { RenderOutcome } from '../personalization/index.js';
import type { Db, Queryable } from '../storage/index.js';
import type { Variant } from './definition.js';
import { campaignEvent, type SendContext } from './events.js';
import type { SendRow } from './store.js';

export interface PushChannel {
  vapid(workspaceId: string): Promise<VapidKeys>;
  send(target: PushTarget, payload: string, vapid: VapidKeys): Promise<PushOutcome>;
  /** The URL the service worker posts a click to, and the token naming this message there. */
  openUrl: string;
  openToken(workspaceId: string, sendKey: string, subscriptionId: string): string;
}

/** The pipeline steps of attempt.ts a channel attempt uses. */
export interface AttemptSteps {
  fenced(work: (tx: Queryable) => Promise<void>): Promise<boolean>;
  start(): Promise<boolean>;
  finish(state: string, reason: string | null, events: LogEvent[], extra?: { attempt?: AttemptRecord; delivered?: boolean }): Promise<void>;
  retryLater(at: number, events: LogEvent[], attempt?: AttemptRecord): Promise<void>;
  render(key: string, source: string | undefined): Promise<RenderOutcome>;
}

export async function attemptPush(deps: { db: Db; now(): number; push?: PushChannel }, row: SendRow, variant: Variant, user: User, ctx: SendContext, steps: AttemptSteps): Promise<void> {
  const content = variant.pushnotification!;
  const ev = (type: string, fields: Record<string, unknown>, deviceId?: string, discriminator = '') => {
    const e = campaignEvent(`users.messages.pushnotification.${type}`, ctx, { platform: 'web', ...fields }, deps.now(), discriminator);
    if (deviceId) e.user.device_id = deviceId;
    return e;
  };
  const abort = (type: string, log: string) => steps.finish('aborted', type, [ev('Abort', { abort_type: type, abort_log: log })]);
  const push = deps.push;
  if (!push) return abort('push_not_configured', 'web push is not set up in this process');
  if (user.push_subscribe === 'unsubscribed') return abort('unsubscribed', 'the user is unsubscribed from push');
  const devices = (await devicesOfUsers(deps.db, [user.id])).get(user.id) ?? [];
  const subscriptions = await subscriptionsOfDevices(deps.db, row.workspace_id, devices);
  const served = await messagesOfSend(deps.db, row.send_key);
  const sentBefore = [...served.values()].filter((m) => m.state === 'sent').length;
  const pending = subscriptions.filter((s) => (served.get(s.id)?.state ?? 'pending') === 'pending');
  if (subscriptions.length === 0 && sentBefore === 0) return abort('no_push_subscription', 'the user has no web push subscription');

  const base = `${row.dispatch_id}:${variant.id}:push`;
  const parts = await Promise.all([steps.render(`${base}:title`, content.title), steps.render(`${base}:body`, content.body), steps.render(`${base}:url`, content.url), steps.render(`${base}:icon`, content.icon)]);
  const failed = parts.find((p): p is Extract<RenderOutcome, { ok: false }> => !p.ok);
  if (failed) return abort(failed.abortType, failed.abortLog);
  const [title, body, url, icon] = parts.map((p) => (p.ok ? p.text.trim() : ''));
  if (!title && !body) return abort('empty_message', 'the title and the body rendered empty');

  if (!(await steps.start())) return;
  const vapid = await push.vapid(row.workspace_id);
  const startedAt = deps.now();
  let sent = sentBefore;
  let transient: Extract<PushOutcome, { kind: 'transient' }> | undefined;
  let refused: Extract<PushOutcome, { kind: 'refused' }> | undefined;
  let last: PushOutcome | undefined;
  for (const sub of pending) {
    const context = { ...ctx, user: { id: user.id, external_id: user.external_id, time_zone: user.time_zone } };
    await preparePushMessage(deps.db, { send_key: row.send_key, subscription_id: sub.id, workspace_id: row.workspace_id, sdk_app_id: sub.sdk_app_id, device_id: sub.device_id, context });
    const payload = JSON.stringify({
      title,
      body,
      ...(url ? { url } : {}),
      ...(icon ? { icon } : {}),
      rivulet: { open_url: push.openUrl, token: push.openToken(row.workspace_id, row.send_key, sub.id) },
    });
    const outcome = await push.send({ endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth }, payload, vapid);
    last = outcome;
    const fields = { app_id: sub.sdk_app_id };
    if (outcome.kind === 'accepted') {
      sent++;
      if (!(await steps.fenced(async (tx) => {
        await markPushMessage(tx, row.send_key, sub.id, 'sent');
        await appendEvents(tx, row.workspace_id, [ev('Send', fields, sub.device_id, sub.id)]);
      }))) return;
    } else if (outcome.kind === 'gone') {
      if (!(await steps.fenced(async (tx) => {
        await markPushMessage(tx, row.send_key, sub.id, 'bounced', sub);
        await appendEvents(tx, row.workspace_id, [ev('Bounce', fields, sub.device_id, sub.id)]);
      }))) return;
    } else if (outcome.kind === 'refused') {
      refused = outcome;
      await markPushMessage(deps.db, row.send_key, sub.id, 'failed');
    } else {
      transient = outcome;
    }
  }
  const status = last?.status ?? null;
  const attempt: AttemptRecord = { at: new Date(startedAt).toISOString(), status, duration_ms: deps.now() - startedAt, ...(last && last.kind !== 'accepted' ? { error: last.reason.slice(0, 200) } : {}) };
  if (transient) {
    const first = row.first_attempt_at?.getTime() ?? startedAt;
    const next = nextWebhookAttempt({ attempts: row.attempts + 1, firstAttemptAt: first, now: deps.now(), ...(transient.retryAfterMs !== undefined ? { retryAfterMs: transient.retryAfterMs } : {}) });
    if (next === 'exhausted') {
      if (sent > 0) return steps.finish('sent', null, [], { attempt, delivered: true });
      return steps.finish('aborted', 'exhausted_retries', [ev('Abort', { abort_type: 'exhausted_retries', abort_log: `the push service did not accept the message within 24 hours; last: ${transient.reason}` })], { attempt });
    }
    return steps.retryLater(next.at, [], attempt);
  }
  if (sent > 0) return steps.finish('sent', null, [], { attempt, delivered: true });
  if (refused) return steps.finish('aborted', 'invalid_http_status', [ev('Abort', { abort_type: 'invalid_http_status', abort_log: refused.reason })], { attempt });
  // Every subscription was gone (each logged its Bounce).
  return steps.finish('bounced', 'subscription_gone', [], { attempt });
}
