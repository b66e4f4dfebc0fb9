/**
 * SendGrid's Event Webhook (docs/reference/campaigns.md, "Provider events"). Pure: the signature
 * check and the mapping of SendGrid's events to what they mean for a send.
 *
 * Signature (SendGrid "Signed Event Webhook"): ECDSA P-256 with SHA-256 over the bytes of the
 * `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw request body; the signature
 * (`X-Twilio-Email-Event-Webhook-Signature`) is base64 DER, the verification key SendGrid shows is
 * a base64 DER SubjectPublicKeyInfo. A request older than `toleranceS` is refused (replay).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';
/** Events per request Rivulet accepts (SendGrid batches up to about 1,000 or 768 kB). */
export const MAX_SENDGRID_EVENTS = 5000;
export const SENDGRID_TOLERANCE_S = 600;

/** Parses a SendGrid verification key; undefined if it is not a P-256 public key. */
export function sendGridPublicKey(base64: string): KeyObject | undefined {
  try {
    const text = base64.includes('BEGIN PUBLIC KEY') ? base64 : undefined;
    const key = text ? createPublicKey(text) : createPublicKey({ key: Buffer.from(base64.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return undefined;
    return key;
  } catch {
    return undefined;
  }
}

export type SignatureProblem = 'missing_signature' | 'stale_timestamp' | 'bad_signature';

export function checkSendGridSignature(key: KeyObject, signature: string | undefined, timestamp: string | undefined, rawBody: Buffer | string, nowS: number, toleranceS = SENDGRID_TOLERANCE_S): SignatureProblem | undefined {
  if (!signature || !timestamp) return 'missing_signature';
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowS - ts) > toleranceS) return 'stale_timestamp';
  const payload = Buffer.concat([Buffer.from(timestamp, 'utf8'), Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8')]);
  try {
    return verify('sha256', payload, key, Buffer.from(signature, 'base64')) ? undefined : 'bad_signature';
  } catch {
    return 'bad_signature';
  }
}

export type ProviderOutcome = 'bounce' | 'soft_bounce' | 'drop' | 'spam' | 'unsubscribe';

export interface ProviderEvent {
  outcome: ProviderOutcome;
  email: string;
  /** Seconds. */
  time: number;
  /** The Rivulet send it is about: the `rivulet_send_id` (or `send_id`) custom argument. */
  sendId?: string;
  reason: string;
  /** SendGrid's id of the event (its retries repeat it). */
  providerEventId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Maps a parsed body: the events Rivulet acts on, how many it ignores (delivered, open, click,
 * deferred, processed, group events: Rivulet records those itself or not at all), and the problems
 * (each naming its index). bounce → Bounce (its `type: blocked` → SoftBounce), dropped → Bounce
 * with `is_drop`, spamreport → MarkAsSpam, unsubscribe → Unsubscribe.
 */
export function mapSendGridEvents(body: unknown): { events: ProviderEvent[]; ignored: number; problems: Array<{ path: string; type: string }> } {
  const problems: Array<{ path: string; type: string }> = [];
  if (!Array.isArray(body)) return { events: [], ignored: 0, problems: [{ path: '', type: 'the body must be a JSON array of events' }] };
  if (body.length > MAX_SENDGRID_EVENTS) return { events: [], ignored: 0, problems: [{ path: '', type: `at most ${MAX_SENDGRID_EVENTS} events per request` }] };
  const events: ProviderEvent[] = [];
  let ignored = 0;
  body.forEach((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return problems.push({ path: `[${i}]`, type: 'must be an object' });
    const e = raw as Record<string, unknown>;
    const kind = str(e.event);
    if (!kind) return problems.push({ path: `[${i}].event`, type: 'must be a string' });
    const outcome: ProviderOutcome | undefined =
      kind === 'bounce' ? (e.type === 'blocked' ? 'soft_bounce' : 'bounce') : kind === 'dropped' ? 'drop' : kind === 'spamreport' ? 'spam' : kind === 'unsubscribe' ? 'unsubscribe' : undefined;
    if (!outcome) return void ignored++;
    const email = str(e.email);
    if (!email || email.length > 320 || !email.includes('@')) return problems.push({ path: `[${i}].email`, type: 'must be an email address' });
    if (!Number.isInteger(e.timestamp)) return problems.push({ path: `[${i}].timestamp`, type: 'must be a Unix time in seconds' });
    const sendId = str(e.rivulet_send_id) ?? str(e.send_id);
    if (sendId !== undefined && !UUID.test(sendId)) return problems.push({ path: `[${i}].rivulet_send_id`, type: 'must be a send id (a UUID)' });
    events.push({
      outcome,
      email: email.toLowerCase(),
      time: e.timestamp as number,
      ...(sendId ? { sendId: sendId.toLowerCase() } : {}),
      reason: (str(e.reason) ?? str(e.response) ?? kind).slice(0, 1000),
      providerEventId: str(e.sg_event_id) ?? `${kind}:${email}:${String(e.timestamp)}`,
    });
  });
  return { events, ignored, problems };
}
