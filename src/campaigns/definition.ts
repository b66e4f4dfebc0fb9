/**
 * A campaign's definition and its checks (docs/reference/campaigns.md §1). Pure: the caller checks
 * what needs the database (that the segment exists). Every problem names its field; templates are
 * compiled here, so a Liquid error names the field, line and column.
 */
import type { Static } from 'typebox';
import { compileTemplate } from '../personalization/index.js';
import { WEBHOOK_METHODS, type WebhookMethod } from '../channels/index.js';
import * as Contract from './contract.js';
import { checkConversionBehaviors } from './conversion-rules.js';
import { checkRateLimit } from './limits.js';
import { checkTrigger } from './triggers/rules.js';
import { checkQuietHours } from './gate-rules.js';

// The types of a campaign's definition are those of its schema in the contract (one source).
export type Channel = Static<typeof Contract.CampaignChannel>;
export type SendTo = Static<typeof Contract.SendTo>;
export type EmailContent = Static<typeof Contract.EmailMessage>;
export type WebhookContent = Static<typeof Contract.WebhookMessage>;
export type SmsContent = Static<typeof Contract.SmsMessage>;
/** A web push notification (docs/reference/push.md §3); every field Liquid. */
export type PushContent = Static<typeof Contract.PushMessage>;
/** A content card (docs/reference/sdk.md#content-cards): Liquid in every text; rendered per user at send time. */
export type ContentCardContent = Static<typeof Contract.ContentCardMessage>;
export type InAppButtonContent = Static<typeof Contract.InAppButton>;
/** An in-app message (docs/reference/sdk.md#in-app-messages), shown by the SDK when a trigger event is logged. */
export type InAppContent = Static<typeof Contract.InAppMessage>;
export const CHANNELS: readonly Channel[] = ['email', 'webhook', 'sms', 'pushnotification', 'content_card', 'in_app_message'];
export const MESSAGE_DEFAULT_TTL_SECONDS = 30 * 86_400;
export const MESSAGE_MAX_TTL_SECONDS = 365 * 86_400;
export type Variant = Static<typeof Contract.Variant>;
/**
 * `launch`: sent to the whole audience by a launch; `api_triggered`: by `/campaigns/trigger/send`;
 * `api_campaign`: content comes with each `/messages/send` (docs/reference/messaging-api.md);
 * `action_based`: sent when a user performs the trigger (triggers/reader.ts).
 */
export type Delivery = Static<typeof Contract.Delivery>;
export type CampaignDefinition = Static<typeof Contract.CampaignDefinition>;

export interface CampaignInput {
  name: string;
  channel: Channel;
  definition: CampaignDefinition;
}

export interface DefinitionProblem {
  field: string;
  message: string;
  line?: number;
  column?: number;
}

export const MAX_VARIANTS = Contract.MAX_VARIANTS;
const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function template(problems: DefinitionProblem[], field: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || (required && value.length === 0)) {
    problems.push({ field, message: 'must be a non-empty string' });
    return undefined;
  }
  const compiled = compileTemplate(value);
  for (const p of compiled.problems ?? []) problems.push({ field, message: p.message, line: p.line, column: p.column });
  return value;
}

/** Checks a campaign body; returns the typed input or every problem found. */
export function checkCampaignBody(body: unknown): { input: CampaignInput; problems?: undefined } | { problems: DefinitionProblem[]; input?: undefined } {
  const problems: DefinitionProblem[] = [];
  if (!isObj(body)) return { problems: [{ field: '', message: 'the body must be a JSON object' }] };
  const name = body.name;
  if (!isText(name, 200)) problems.push({ field: 'name', message: 'must be a string of 1 to 200 characters' });
  const channel = body.channel;
  if (!CHANNELS.includes(channel as Channel)) problems.push({ field: 'channel', message: `must be one of ${CHANNELS.map((c) => `"${c}"`).join(', ')}` });

  const audience = body.audience;
  const segmentId = isObj(audience) ? audience.segment_id : undefined;

  const delivery = body.delivery ?? 'launch';
  if (delivery !== 'launch' && delivery !== 'api_triggered' && delivery !== 'api_campaign' && delivery !== 'action_based')
    problems.push({ field: 'delivery', message: 'must be "launch", "api_triggered", "api_campaign" or "action_based"' });
  // An API campaign's audience is named by each request; its variants' content too.
  const apiCampaign = delivery === 'api_campaign';
  if (!isText(segmentId, 100) && !(apiCampaign && segmentId === undefined)) problems.push({ field: 'audience.segment_id', message: 'must name a segment' });
  const control = body.control_percent ?? 0;
  if (!Number.isInteger(control) || (control as number) < 0 || (control as number) > 100) problems.push({ field: 'control_percent', message: 'must be an integer from 0 to 100' });

  const sendTo = body.send_to ?? 'subscribed_or_opted_in';
  if (sendTo !== 'subscribed_or_opted_in' && sendTo !== 'opted_in' && sendTo !== 'all') problems.push({ field: 'send_to', message: 'must be "subscribed_or_opted_in", "opted_in" or "all"' });

  let from: CampaignDefinition['from'];
  if (channel === 'email') {
    const f = body.from;
    if (!isObj(f) || typeof f.address !== 'string' || !EMAIL.test(f.address)) problems.push({ field: 'from.address', message: 'an email campaign needs a sender address' });
    else if (f.name !== undefined && !isText(f.name, 200)) problems.push({ field: 'from.name', message: 'must be a string of 1 to 200 characters' });
    else from = { address: f.address, ...(typeof f.name === 'string' ? { name: f.name } : {}) };
  }
  if (body.reply_to !== undefined && (typeof body.reply_to !== 'string' || !EMAIL.test(body.reply_to))) problems.push({ field: 'reply_to', message: 'must be an email address' });

  const variants: Variant[] = [];
  const raw = body.variants;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_VARIANTS) {
    problems.push({ field: 'variants', message: `must hold 1 to ${MAX_VARIANTS} variants` });
  } else {
    raw.forEach((v, i) => {
      const at = `variants[${i}]`;
      if (!isObj(v)) return problems.push({ field: at, message: 'must be an object' });
      const id = v.id ?? `variant_${i + 1}`;
      if (!isText(id, 64) || !/^[A-Za-z0-9_-]+$/.test(id)) problems.push({ field: `${at}.id`, message: 'must be 1 to 64 letters, digits, _ or -' });
      const vname = v.name ?? `Variant ${i + 1}`;
      if (!isText(vname, 200)) problems.push({ field: `${at}.name`, message: 'must be a string of 1 to 200 characters' });
      const percent = v.percent;
      if (!Number.isInteger(percent) || (percent as number) < 0 || (percent as number) > 100) problems.push({ field: `${at}.percent`, message: 'must be an integer from 0 to 100' });
      const variant: Variant = { id: id as string, name: vname as string, percent: percent as number };
      if (apiCampaign && v.email === undefined && v.webhook === undefined) {
        // Content arrives with each /messages/send.
      } else if (channel === 'email') {
        const e = v.email;
        if (!isObj(e)) problems.push({ field: `${at}.email`, message: 'an email variant needs email content' });
        else {
          const subject = template(problems, `${at}.email.subject`, e.subject, true);
          const html = template(problems, `${at}.email.html`, e.html, true);
          const text = template(problems, `${at}.email.text`, e.text, false);
          const preheader = template(problems, `${at}.email.preheader`, e.preheader, false);
          variant.email = { subject: subject ?? '', html: html ?? '', ...(text !== undefined ? { text } : {}), ...(preheader !== undefined ? { preheader } : {}) };
        }
      } else if (channel === 'webhook') {
        const w = v.webhook;
        if (!isObj(w)) problems.push({ field: `${at}.webhook`, message: 'a webhook variant needs webhook content' });
        else {
          const method = w.method ?? 'POST';
          if (!WEBHOOK_METHODS.includes(method as WebhookMethod)) problems.push({ field: `${at}.webhook.method`, message: `must be one of ${WEBHOOK_METHODS.join(', ')}` });
          const url = template(problems, `${at}.webhook.url`, w.url, true);
          const headers: Record<string, string> = {};
          if (w.headers !== undefined && !isObj(w.headers)) problems.push({ field: `${at}.webhook.headers`, message: 'must be an object of strings' });
          for (const [k, hv] of Object.entries(isObj(w.headers) ? w.headers : {})) {
            if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) problems.push({ field: `${at}.webhook.headers.${k}`, message: 'is not a valid header name' });
            headers[k] = template(problems, `${at}.webhook.headers.${k}`, hv, true) ?? '';
          }
          const wbody = template(problems, `${at}.webhook.body`, w.body ?? '', false) ?? '';
          variant.webhook = { url: url ?? '', method: method as WebhookMethod, headers, body: wbody };
        }
      }
      if (channel === 'sms') {
        const m = v.sms;
        if (!isObj(m)) problems.push({ field: `${at}.sms`, message: 'an sms variant needs sms content' });
        else if (typeof m.body === 'string' && m.body.length > Contract.MAX_SMS_BODY) problems.push({ field: `${at}.sms.body`, message: `must be at most ${Contract.MAX_SMS_BODY} characters` });
        else variant.sms = { body: template(problems, `${at}.sms.body`, m.body, true) ?? '' };
      }
      if (channel === 'pushnotification') {
        const m = v.pushnotification;
        if (!isObj(m)) problems.push({ field: `${at}.pushnotification`, message: 'a pushnotification variant needs pushnotification content (title, body, url, icon)' });
        else {
          const f = `${at}.pushnotification`;
          for (const k of Object.keys(m)) if (!['title', 'body', 'url', 'icon'].includes(k)) problems.push({ field: `${f}.${k}`, message: 'unknown field' });
          for (const k of ['title', 'body', 'url', 'icon'] as const) if (typeof m[k] === 'string' && m[k].length > 2000) problems.push({ field: `${f}.${k}`, message: 'must be at most 2000 characters' });
          const title = template(problems, `${f}.title`, m.title, true);
          const pbody = template(problems, `${f}.body`, m.body, true);
          const url = template(problems, `${f}.url`, m.url, false);
          const icon = template(problems, `${f}.icon`, m.icon, false);
          variant.pushnotification = { title: title ?? '', body: pbody ?? '', ...(url !== undefined ? { url } : {}), ...(icon !== undefined ? { icon } : {}) };
        }
      }
      if (channel === 'content_card') {
        const c = checkContentCard(problems, `${at}.content_card`, v.content_card);
        if (c) variant.content_card = c;
      }
      if (channel === 'in_app_message') {
        const m = checkInApp(problems, `${at}.in_app_message`, v.in_app_message);
        if (m) variant.in_app_message = m;
      }
      variants.push(variant);
    });
    const total = variants.reduce((s, v) => s + (Number.isInteger(v.percent) ? v.percent : 0), 0) + (Number.isInteger(control) ? (control as number) : 0);
    if (total !== 100) problems.push({ field: 'variants', message: `variant percentages and control_percent must add up to 100 (they add up to ${total})` });
    const ids = variants.map((v) => v.id);
    if (new Set(ids).size !== ids.length) problems.push({ field: 'variants', message: 'variant ids must differ' });
  }
  const conversions = checkConversionBehaviors(body.conversion_behaviors, problems);
  const rateLimit = checkRateLimit(body.rate_limit_per_minute, problems);
  const quiet = checkQuietHours(body.quiet_hours, problems);
  if (body.ignore_frequency_capping !== undefined && typeof body.ignore_frequency_capping !== 'boolean') problems.push({ field: 'ignore_frequency_capping', message: 'must be a boolean' });
  const trigger = delivery === 'action_based' ? checkTrigger(body.trigger, problems) : undefined;
  if (delivery !== 'action_based' && body.trigger !== undefined) problems.push({ field: 'trigger', message: 'only an action_based campaign has a trigger' });
  if (problems.length) return { problems };
  const delivery_rules = { ...(conversions ? { conversion_behaviors: conversions } : {}), ...(rateLimit !== undefined ? { rate_limit_per_minute: rateLimit } : {}), ...(trigger ? { trigger } : {}), ...(quiet ? { quiet_hours: quiet } : {}), ...(body.ignore_frequency_capping === true ? { ignore_frequency_capping: true } : {}) };
  return {
    input: {
      name: name as string,
      channel: channel as Channel,
      definition: { delivery: delivery as Delivery, audience: { segment_id: (segmentId as string | undefined) ?? '' }, variants, control_percent: control as number, ...(from ? { from } : {}), ...(typeof body.reply_to === 'string' ? { reply_to: body.reply_to } : {}), send_to: sendTo as SendTo, ...delivery_rules },
    },
  };
}

function checkExpiry(problems: DefinitionProblem[], at: string, c: Obj): { expires_after_seconds?: number; expires_at?: string } {
  const out: { expires_after_seconds?: number; expires_at?: string } = {};
  if (c.expires_after_seconds !== undefined) {
    const n = c.expires_after_seconds;
    if (!Number.isInteger(n) || (n as number) < 60 || (n as number) > MESSAGE_MAX_TTL_SECONDS) problems.push({ field: `${at}.expires_after_seconds`, message: `must be an integer from 60 to ${MESSAGE_MAX_TTL_SECONDS}` });
    else out.expires_after_seconds = n as number;
  }
  if (c.expires_at !== undefined) {
    if (typeof c.expires_at !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(c.expires_at) || Number.isNaN(Date.parse(c.expires_at))) problems.push({ field: `${at}.expires_at`, message: 'must be an ISO-8601 date-time' });
    else out.expires_at = new Date(c.expires_at).toISOString();
  }
  return out;
}

function optionalText(problems: DefinitionProblem[], field: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  return template(problems, field, value, true);
}

function checkContentCard(problems: DefinitionProblem[], at: string, c: unknown): ContentCardContent | undefined {
  if (!isObj(c)) {
    problems.push({ field: at, message: 'a content card variant needs content_card content' });
    return undefined;
  }
  const before = problems.length;
  const title = template(problems, `${at}.title`, c.title, true);
  const description = template(problems, `${at}.description`, c.description, true);
  const image = optionalText(problems, `${at}.image_url`, c.image_url);
  const url = optionalText(problems, `${at}.url`, c.url);
  if (c.pinned !== undefined && typeof c.pinned !== 'boolean') problems.push({ field: `${at}.pinned`, message: 'must be a boolean' });
  const expiry = checkExpiry(problems, at, c);
  if (problems.length > before) return undefined;
  return { title: title!, description: description!, ...(image !== undefined ? { image_url: image } : {}), ...(url !== undefined ? { url } : {}), ...(c.pinned === true ? { pinned: true } : {}), ...expiry };
}

function checkInApp(problems: DefinitionProblem[], at: string, m: unknown): InAppContent | undefined {
  if (!isObj(m)) {
    problems.push({ field: at, message: 'an in-app message variant needs in_app_message content' });
    return undefined;
  }
  const before = problems.length;
  const layout = m.layout ?? 'modal';
  if (layout !== 'modal' && layout !== 'slideup') problems.push({ field: `${at}.layout`, message: 'must be "modal" or "slideup"' });
  const header = optionalText(problems, `${at}.header`, m.header);
  const body = template(problems, `${at}.body`, m.body, true);
  const image = optionalText(problems, `${at}.image_url`, m.image_url);
  const buttons: InAppButtonContent[] = [];
  const rawButtons = m.buttons ?? [];
  if (!Array.isArray(rawButtons) || rawButtons.length > 2) problems.push({ field: `${at}.buttons`, message: 'must hold at most 2 buttons' });
  else
    rawButtons.forEach((b, i) => {
      const bat = `${at}.buttons[${i}]`;
      if (!isObj(b)) return problems.push({ field: bat, message: 'must be an object' });
      const id = b.id ?? `button_${i + 1}`;
      if (!isText(id, 64) || !/^[A-Za-z0-9_-]+$/.test(id)) problems.push({ field: `${bat}.id`, message: 'must be 1 to 64 letters, digits, _ or -' });
      const text = template(problems, `${bat}.text`, b.text, true);
      const url = optionalText(problems, `${bat}.url`, b.url);
      buttons.push({ id: id as string, text: text ?? '', ...(url !== undefined ? { url } : {}) });
    });
  if (new Set(buttons.map((b) => b.id)).size !== buttons.length) problems.push({ field: `${at}.buttons`, message: 'button ids must differ' });
  const triggers = m.trigger_events;
  if (!Array.isArray(triggers) || triggers.length === 0 || triggers.length > 20 || !triggers.every((t) => isText(t, 255)))
    problems.push({ field: `${at}.trigger_events`, message: 'must hold 1 to 20 custom event names' });
  const expiry = checkExpiry(problems, at, m);
  if (problems.length > before) return undefined;
  return {
    layout: layout as 'modal' | 'slideup',
    ...(header !== undefined ? { header } : {}),
    body: body!,
    ...(image !== undefined ? { image_url: image } : {}),
    buttons,
    trigger_events: [...new Set(triggers as string[])],
    ...expiry,
  };
}

/** When a message sent at `sentMs` stops being shown. */
export function expiryOf(c: { expires_after_seconds?: number; expires_at?: string }, sentMs: number): Date {
  const ttl = sentMs + (c.expires_after_seconds ?? MESSAGE_DEFAULT_TTL_SECONDS) * 1000;
  return new Date(c.expires_at ? Math.min(ttl, Date.parse(c.expires_at)) : ttl);
}
