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
  if (channel !== 'email' && channel !== 'webhook' && channel !== 'sms') problems.push({ field: 'channel', message: 'must be "email", "webhook" or "sms"' });

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
