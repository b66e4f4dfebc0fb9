/**
 * Checking a `/messages/send` (and `/messages/schedule/*`) body (docs/reference/messaging-api.md §2).
 * Pure: what needs the database (the campaign, the users) is done by the route. Every problem is
 * an ApiError(400) naming its field; message content goes through the campaign definition checks,
 * so a Liquid error names the field, line and column.
 */
import { ApiError } from '../../http/index.js';
import type { Identifier } from '../../identity/index.js';
import { checkCampaignBody, type CampaignDefinition, type Channel, type SendTo } from '../definition.js';

export const MAX_NAMED_USERS = 50;
export const TOO_MANY_USERS = 'The max number of external_ids and aliases per request was exceeded';

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const bad = (message: string, path: string, type = message) => new ApiError(400, message, [{ type, path }]);

export interface CheckedMessage {
  channel: Channel;
  /** The requested message_variation_id, if any. */
  variationId?: string;
  /** A one-variant definition; `audience.segment_id` is the request's (or ''). */
  definition: CampaignDefinition;
}

export interface CheckedMessagesBody {
  users: Array<{ id: Identifier; path: string }>;
  segmentId?: string;
  broadcast: boolean;
  campaignId?: string;
  sendId?: string;
  messages: CheckedMessage[];
}

const SEND_TO: Record<string, SendTo> = { opted_in: 'opted_in', subscribed: 'subscribed_or_opted_in', all: 'all' };
const OTHER_CHANNELS = ['sms', 'content_card', 'apple_push', 'android_push', 'web_push', 'kindle_push', 'whats_app', 'line'];
/** `Name <addr>`, `"Name" <addr>` or a bare address. */
const FROM = /^\s*(?:"?([^"<]*?)"?\s*)?<([^<>\s]+)>\s*$/;

function parseFrom(v: unknown): { address: string; name?: string } {
  if (typeof v !== 'string' || !v.trim()) throw bad('messages.email.from is required ("Name <address>")', 'messages.email.from');
  const m = FROM.exec(v);
  if (m) return { address: m[2]!, ...(m[1]?.trim() ? { name: m[1].trim() } : {}) };
  return { address: v.trim() };
}

/** Maps a campaign definition field back to the request's. */
function requestField(channel: Channel, field: string): string {
  const rest = field.replace(/^variants\[0\]\./, '');
  const map: Record<string, string> = {
    'email.subject': 'messages.email.subject',
    'email.html': 'messages.email.body',
    'email.text': 'messages.email.plaintext_body',
    'email.preheader': 'messages.email.preheader',
    'webhook.url': 'messages.webhook.url',
    'webhook.method': 'messages.webhook.request_method',
    'webhook.body': 'messages.webhook.body',
    'from.address': 'messages.email.from',
    'from.name': 'messages.email.from',
    reply_to: 'messages.email.reply_to',
    'variants[0].id': `messages.${channel}.message_variation_id`,
  };
  if (map[rest]) return map[rest];
  if (map[field]) return map[field];
  if (rest.startsWith('webhook.headers.')) return `messages.webhook.request_headers.${rest.slice('webhook.headers.'.length)}`;
  return `messages.${channel}`;
}

function checkMessage(channel: Channel, m: unknown, sendTo: SendTo, segmentId: string | undefined): CheckedMessage {
  const at = `messages.${channel}`;
  if (!isObj(m)) throw bad(`${at} must be an object`, at);
  const variationId = m.message_variation_id;
  if (variationId !== undefined && (typeof variationId !== 'string' || !variationId)) throw bad(`${at}.message_variation_id must be a non-empty string`, `${at}.message_variation_id`);
  let variant: Obj;
  const extra: Obj = {};
  if (channel === 'email') {
    if (typeof m.app_id !== 'string' || !m.app_id) throw bad('messages.email.app_id is required', 'messages.email.app_id');
    if (m.email_template_id !== undefined) throw bad('email_template_id is not supported: give the body', 'messages.email.email_template_id');
    if (Array.isArray(m.attachments) && m.attachments.length) throw bad('attachments are not supported', 'messages.email.attachments');
    if (isObj(m.headers) && Object.keys(m.headers).length) throw bad('custom headers are not supported yet', 'messages.email.headers');
    if (m.bcc !== undefined) throw bad('bcc is not supported', 'messages.email.bcc');
    const from = parseFrom(m.from);
    if (m.reply_to !== undefined && m.reply_to !== 'NO_REPLY_TO') extra.reply_to = m.reply_to;
    extra.from = from;
    variant = { email: { subject: m.subject ?? '', html: m.body, ...(m.plaintext_body !== undefined ? { text: m.plaintext_body } : {}), ...(m.preheader !== undefined ? { preheader: m.preheader } : {}) } };
    if (typeof m.subject !== 'string' || !m.subject) throw bad('messages.email.subject is required', 'messages.email.subject');
    if (typeof m.body !== 'string' || !m.body) throw bad('messages.email.body is required', 'messages.email.body');
  } else {
    if (typeof m.url !== 'string' || !m.url) throw bad('messages.webhook.url is required', 'messages.webhook.url');
    if (typeof m.request_method !== 'string') throw bad('messages.webhook.request_method is required', 'messages.webhook.request_method');
    if (m.body !== undefined && typeof m.body !== 'string') throw bad('messages.webhook.body must be a string', 'messages.webhook.body');
    if (m.request_headers !== undefined && !isObj(m.request_headers)) throw bad('messages.webhook.request_headers must be an object', 'messages.webhook.request_headers');
    variant = { webhook: { url: m.url, method: m.request_method.toUpperCase(), headers: m.request_headers ?? {}, body: m.body ?? '' } };
  }
  const checked = checkCampaignBody({
    name: 'API message',
    channel,
    delivery: 'api_campaign',
    variants: [{ id: variationId ?? 'api_message', name: variationId ?? 'API message', percent: 100, ...variant }],
    send_to: sendTo,
    ...extra,
  });
  if (checked.problems) {
    const p = checked.problems[0]!;
    const field = requestField(channel, p.field);
    const where = p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : '';
    throw new ApiError(400, `${field} ${p.message}${where}`, checked.problems.map((q) => ({ type: q.message, path: requestField(channel, q.field) })));
  }
  return { channel, ...(typeof variationId === 'string' ? { variationId } : {}), definition: { ...checked.input.definition, audience: { segment_id: segmentId ?? '' } } };
}

function userIdentifiers(body: Obj): Array<{ id: Identifier; path: string }> {
  const out: Array<{ id: Identifier; path: string }> = [];
  const ext = body.external_user_ids;
  const aliases = body.user_aliases;
  if (ext !== undefined && !Array.isArray(ext)) throw bad('external_user_ids must be an array', 'external_user_ids');
  if (aliases !== undefined && !Array.isArray(aliases)) throw bad('user_aliases must be an array', 'user_aliases');
  if ((ext?.length ?? 0) + (aliases?.length ?? 0) > MAX_NAMED_USERS) throw bad(TOO_MANY_USERS, ext?.length ? 'external_user_ids' : 'user_aliases');
  (ext ?? []).forEach((e: unknown, i: number) => {
    if (typeof e !== 'string' || !e || e.length > 512) throw bad(`external_user_ids[${i}] must be a non-empty string`, `external_user_ids[${i}]`);
    out.push({ id: { kind: 'external_id', externalId: e }, path: `external_user_ids[${i}]` });
  });
  (aliases ?? []).forEach((a: unknown, i: number) => {
    if (!isObj(a) || typeof a.alias_name !== 'string' || typeof a.alias_label !== 'string') throw bad(`user_aliases[${i}] needs alias_name and alias_label`, `user_aliases[${i}]`);
    out.push({ id: { kind: 'user_alias', alias: { alias_name: a.alias_name, alias_label: a.alias_label } }, path: `user_aliases[${i}]` });
  });
  return out;
}

export function checkMessagesBody(raw: unknown): CheckedMessagesBody {
  if (!isObj(raw)) throw bad('the body must be a JSON object', '');
  const body = raw;
  const users = userIdentifiers(body);
  const segmentId = body.segment_id;
  if (segmentId !== undefined && (typeof segmentId !== 'string' || !segmentId)) throw bad('segment_id must be a non-empty string', 'segment_id');
  if (body.audience !== undefined) throw bad('audience (Connected Audience) is not supported yet: name users or a segment_id', 'audience');
  const broadcast = body.broadcast === true;
  if (!users.length && !segmentId && !broadcast) throw bad('No Recipients', 'external_user_ids');
  if (broadcast && users.length) throw bad('broadcast cannot be combined with external_user_ids or user_aliases', 'broadcast');
  if (broadcast && !segmentId) throw bad('a broadcast needs a segment_id (Rivulet sends no message to every user of a workspace at once)', 'segment_id');
  const state = body.recipient_subscription_state ?? 'subscribed';
  if (typeof state !== 'string' || !SEND_TO[state]) throw bad('recipient_subscription_state must be opted_in, subscribed or all', 'recipient_subscription_state');
  const campaignId = body.campaign_id;
  if (campaignId !== undefined && (typeof campaignId !== 'string' || !campaignId)) throw bad('Invalid Campaign ID', 'campaign_id');
  const sendId = body.send_id;
  if (sendId !== undefined && (typeof sendId !== 'string' || !sendId)) throw bad('send_id must be a non-empty string', 'send_id');
  if (sendId !== undefined && campaignId === undefined) throw bad('send_id needs a campaign_id', 'send_id');
  const messages = body.messages;
  if (!isObj(messages) || Object.keys(messages).length === 0) throw bad('No message to send', 'messages');
  for (const k of Object.keys(messages)) {
    if (OTHER_CHANNELS.includes(k)) throw bad(`Channel not enabled: ${k}`, `messages.${k}`);
    if (k !== 'email' && k !== 'webhook') throw bad(`Unknown message type: ${k}`, `messages.${k}`);
  }
  const checked = (['email', 'webhook'] as const).filter((c) => messages[c] !== undefined).map((c) => checkMessage(c, messages[c], SEND_TO[state]!, segmentId as string | undefined));
  return { users, ...(segmentId ? { segmentId: segmentId as string } : {}), broadcast, ...(campaignId ? { campaignId: campaignId as string } : {}), ...(sendId ? { sendId: sendId as string } : {}), messages: checked };
}

/** The latest and earliest UTC offsets of any time zone: a local time happens within [wall − 14 h, wall + 12 h]. */
export const EARLIEST_OFFSET_MS = 14 * 3_600_000;
export const LATEST_OFFSET_MS = 12 * 3_600_000;

/**
 * `schedule` = {time, in_local_time?, at_optimal_time?}; `time` must be in the future. With
 * `in_local_time` the time's digits are a wall-clock time (any zone suffix is ignored), `localWall`
 * is that wall time read as UTC, and `runAt` the first moment it happens anywhere; a time passed in
 * every zone is refused.
 */
export function checkSchedule(raw: unknown, nowMs: number, at = 'schedule'): { runAt: Date; localWall?: number } {
  const f = (name: string) => (at ? `${at}.${name}` : name);
  if (!isObj(raw)) throw bad(`${at || 'the body'} is required: {"time": "<ISO-8601>"}`, at);
  if (raw.at_optimal_time === true) throw bad('at_optimal_time is not supported', f('at_optimal_time'));
  if (raw.in_local_time !== undefined && typeof raw.in_local_time !== 'boolean') throw bad(`${f('in_local_time')} must be a boolean`, f('in_local_time'));
  if (typeof raw.time !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(raw.time)) throw bad(`${f('time')} must be an ISO-8601 time`, f('time'));
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/;
  if (raw.in_local_time === true) {
    const wall = Date.parse(`${raw.time.replace(zoned, '')}Z`);
    if (!Number.isFinite(wall)) throw bad(`${f('time')} is not a valid time`, f('time'));
    if (wall + LATEST_OFFSET_MS <= nowMs) throw bad(`${f('time')} has passed in every time zone`, f('time'));
    return { runAt: new Date(wall - EARLIEST_OFFSET_MS), localWall: wall };
  }
  // A time without a zone is UTC.
  const text = zoned.test(raw.time) ? raw.time : `${raw.time}Z`;
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw bad(`${f('time')} is not a valid time`, f('time'));
  if (t <= nowMs) throw bad(`${f('time')} is in the past`, f('time'));
  return { runAt: new Date(t) };
}
