/**
 * Driving a message's status callbacks (docs/reference/twilio-emulator.md §3): queued → sent →
 * delivered, or → undelivered, or queued → failed, one signed form POST per status after the
 * configured latency, exactly as Twilio signs them (X-Twilio-Signature with the account's token).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createHmac } from 'node:crypto';
import type { EmulatedMessage, FaultRule, TwilioStore } from './store.js';

/** Twilio's signature, computed here independently of Rivulet's verifier: HMAC-SHA1(token, URL + sorted name+value), base64. */
export function signTwilio(authToken: string, url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function statusPath(fault: FaultRule | undefined): Array<{ status: string; errorCode?: number }> {
  if (fault?.outcome === 'failed') return [{ status: 'failed', errorCode: fault.error_code ?? 30008 }];
  if (fault?.outcome === 'undelivered') return [{ status: 'sent' }, { status: 'undelivered', errorCode: fault.error_code ?? 30003 }];
  return [{ status: 'sent' }, { status: 'delivered' }];
}

/** POSTs a form to `url` signed with `authToken`; returns the HTTP status or the error. */
export async function postSigned(url: string, authToken: string, params: Record<string, string>): Promise<{ status: number | null; error?: string }> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signTwilio(authToken, url, params), 'user-agent': 'TwilioProxy/1.1 (Rivulet emulator)' },
      body: new URLSearchParams(params).toString(),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    await res.body.dump();
    return { status: res.statusCode };
  } catch (err) {
    return { status: null, error: (err as Error).message };
  }
}

export async function driveStatuses(store: TwilioStore, message: EmulatedMessage, fault: FaultRule | undefined, signal: AbortSignal): Promise<void> {
  const token = store.accounts.get(message.account_sid);
  for (const step of statusPath(fault)) {
    await sleep(store.latencyMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return;
    message.status = step.status;
    message.error_code = step.errorCode ?? null;
    message.statuses.push(step.status);
    if (!message.status_callback || token === undefined) continue;
    const params: Record<string, string> = {
      AccountSid: message.account_sid,
      ApiVersion: '2010-04-01',
      MessageSid: message.sid,
      SmsSid: message.sid,
      MessageStatus: step.status,
      SmsStatus: step.status,
      To: message.to,
      ...(message.from ? { From: message.from } : {}),
      ...(message.messaging_service_sid ? { MessagingServiceSid: message.messaging_service_sid } : {}),
      ...(step.errorCode ? { ErrorCode: String(step.errorCode) } : {}),
    };
    const r = await postSigned(message.status_callback, token, params);
    store.logCallback({ message_sid: message.sid, status: step.status, url: message.status_callback, http_status: r.status, ...(r.error ? { error: r.error } : {}) });
  }
}
