/**
 * The provider client (docs/reference/sms.md §2): one form-encoded POST to Twilio's Messages API,
 * `{base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, with Basic auth (account SID, auth token).
 * 201 → accepted with the message SID; 4xx → rejected with the provider's code and message (not
 * retried); 429, 5xx and network errors → transient.
 */
import { request, type Dispatcher } from 'undici';

export interface SmsProvider {
  accountSid: string;
  authToken: string;
  fromNumber: string | null;
  messagingServiceSid: string | null;
  baseUrl: string;
}

export interface SmsMessage {
  to: string;
  body: string;
  statusCallback: string;
}

export type SmsSendOutcome =
  | { kind: 'accepted'; sid: string; status: string; from: string | null }
  | { kind: 'rejected'; httpStatus: number; code: string; message: string }
  | { kind: 'transient'; httpStatus: number | null; message: string };

export const SMS_TIMEOUT_MS = 15_000;

export function messagesUrl(baseUrl: string, accountSid: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
}

/** The form a send posts (also what the bench replays). */
export function messageForm(provider: SmsProvider, msg: SmsMessage): string {
  const form = new URLSearchParams({ To: msg.to, Body: msg.body, StatusCallback: msg.statusCallback });
  if (provider.messagingServiceSid) form.set('MessagingServiceSid', provider.messagingServiceSid);
  else if (provider.fromNumber) form.set('From', provider.fromNumber);
  return form.toString();
}

export function basicAuth(accountSid: string, authToken: string): string {
  return `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
}

export async function sendSms(provider: SmsProvider, msg: SmsMessage, dispatcher?: Dispatcher): Promise<SmsSendOutcome> {
  let res;
  try {
    res = await request(messagesUrl(provider.baseUrl, provider.accountSid), {
      method: 'POST',
      headers: { authorization: basicAuth(provider.accountSid, provider.authToken), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: messageForm(provider, msg),
      headersTimeout: SMS_TIMEOUT_MS,
      bodyTimeout: SMS_TIMEOUT_MS,
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (err) {
    return { kind: 'transient', httpStatus: null, message: (err as Error).message };
  }
  const text = await res.body.text().catch(() => '');
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  if (res.statusCode === 201 || res.statusCode === 200) {
    if (typeof json.sid !== 'string') return { kind: 'transient', httpStatus: res.statusCode, message: 'the provider answered without a message sid' };
    return { kind: 'accepted', sid: json.sid, status: typeof json.status === 'string' ? json.status : 'queued', from: typeof json.from === 'string' ? json.from : provider.fromNumber };
  }
  const message = typeof json.message === 'string' ? json.message : text.slice(0, 200);
  if (res.statusCode === 429 || res.statusCode >= 500) return { kind: 'transient', httpStatus: res.statusCode, message };
  return { kind: 'rejected', httpStatus: res.statusCode, code: json.code === undefined ? String(res.statusCode) : String(json.code), message };
}
