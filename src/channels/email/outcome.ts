/**
 * What an SMTP answer means for a send (docs/reference/email.md §4): 250 → delivered; 5xx →
 * bounce (the address is flagged hard-bounced); 4xx → deferral, tried again 1 minute later, doubling,
 * at most an hour apart; a connection failure likewise; still not delivered 72 hours after the first
 * attempt → soft bounce. Pure.
 */

export type SmtpOutcome =
  | { kind: 'delivered'; response: string }
  | { kind: 'bounce'; code: number; reason: string }
  | { kind: 'deferral'; code: number | null; reason: string };

export const EMAIL_RETRY_WINDOW_MS = 72 * 3_600_000;
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_GAP_MS = 3_600_000;

/** Reads a nodemailer result or error. */
export function classifySmtp(result: { response?: string } | undefined, err?: unknown): SmtpOutcome {
  if (!err) return { kind: 'delivered', response: (result?.response ?? '250').slice(0, 500) };
  const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
  const reason = (e.response ?? e.message ?? String(err)).slice(0, 500);
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  if (code !== null && code >= 500 && code < 600) return { kind: 'bounce', code, reason };
  return { kind: 'deferral', code, reason };
}

/** When to try a deferred email again, or `soft_bounce` when the 72-hour window is spent. */
export function nextEmailAttempt(input: { attempts: number; firstAttemptAt: number; now: number }): { at: number } | 'soft_bounce' {
  const gap = Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, input.attempts - 1), MAX_RETRY_GAP_MS);
  const at = input.now + gap;
  return at - input.firstAttemptAt > EMAIL_RETRY_WINDOW_MS ? 'soft_bounce' : { at };
}
