/**
 * What the emulated Messages API accepts (docs/reference/twilio-emulator.md §2), pure: Twilio's
 * checks and its error codes and body shape `{code, message, more_info, status}`.
 */
export interface TwilioError {
  status: number;
  code: number;
  message: string;
  more_info: string;
}

export const twilioError = (status: number, code: number, message: string): TwilioError => ({ status, code, message, more_info: `https://www.twilio.com/docs/errors/${code}` });

export const E164 = /^\+[1-9][0-9]{6,14}$/;
export const MAX_BODY = 1600;

export interface SendRequest {
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
}

export function validateSend(form: Record<string, string>): { ok: true; send: SendRequest } | { ok: false; error: TwilioError } {
  const to = form.To;
  if (!to) return { ok: false, error: twilioError(400, 21604, "A 'To' phone number is required.") };
  if (!E164.test(to)) return { ok: false, error: twilioError(400, 21211, `The 'To' number ${to.slice(0, 40)} is not a valid phone number.`) };
  const from = form.From || null;
  const msid = form.MessagingServiceSid || null;
  if (!from && !msid) return { ok: false, error: twilioError(400, 21603, "A 'From' phone number is required.") };
  if (from && !E164.test(from)) return { ok: false, error: twilioError(400, 21212, `The 'From' number ${from.slice(0, 40)} is not a valid phone number, shortcode, or alphanumeric sender ID.`) };
  if (msid && !/^MG[0-9a-fA-F]{32}$/.test(msid)) return { ok: false, error: twilioError(400, 21701, `The Messaging Service Sid ${msid.slice(0, 40)} is invalid.`) };
  const body = form.Body ?? '';
  if (!body && !form.MediaUrl) return { ok: false, error: twilioError(400, 21602, 'Message body is required.') };
  if (body.length > MAX_BODY) return { ok: false, error: twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.') };
  const cb = form.StatusCallback || null;
  if (cb) {
    let ok = false;
    try {
      const u = new URL(cb);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      /* not a URL */
    }
    if (!ok) return { ok: false, error: twilioError(400, 21609, 'The StatusCallback URL is not a valid URL.') };
  }
  return { ok: true, send: { to, from, messagingServiceSid: msid, body, statusCallback: cb } };
}

/** Number of 153-character segments a GSM body takes (1 when it fits in 160). */
export function segmentsOf(body: string): number {
  return body.length <= 160 ? 1 : Math.ceil(body.length / 153);
}
