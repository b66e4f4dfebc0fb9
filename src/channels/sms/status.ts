/**
 * What a message status or an inbound text means (docs/reference/sms.md §3–4). Pure.
 * Status callbacks: `sent` → CarrierSend, `delivered` → Delivery, `undelivered` → DeliveryFailure,
 * `failed` → Rejection (the provider did not hand it to a carrier); the other statuses (queued,
 * accepted, sending, ...) add nothing.
 */
export type SmsStatusEvent = 'CarrierSend' | 'Delivery' | 'DeliveryFailure' | 'Rejection';

export function statusEventType(status: string): SmsStatusEvent | undefined {
  switch (status) {
    case 'sent':
      return 'CarrierSend';
    case 'delivered':
      return 'Delivery';
    case 'undelivered':
      return 'DeliveryFailure';
    case 'failed':
      return 'Rejection';
    default:
      return undefined;
  }
}

export type KeywordAction = 'Unsubscribed' | 'Subscribed' | 'Help' | 'None';

const STOP = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE']);
const START = new Set(['START', 'YES', 'UNSTOP', 'OPTIN']);
const HELP = new Set(['HELP', 'INFO']);

/** The opt-out keywords: the whole message, trimmed, any case (as carriers and Twilio treat them). */
export function keywordAction(body: string): KeywordAction {
  const word = body.trim().toUpperCase();
  if (STOP.has(word)) return 'Unsubscribed';
  if (START.has(word)) return 'Subscribed';
  if (HELP.has(word)) return 'Help';
  return 'None';
}
