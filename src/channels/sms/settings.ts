/**
 * Per-workspace provider settings (docs/reference/sms.md §1): the auth token is sealed with the
 * deployment's master key and only ever opened in memory to sign or verify; it is never returned.
 */
import type { SecretBox } from '../../secrets/index.js';
import type { Queryable } from '../../storage/index.js';
import type { SmsProvider } from './client.js';

export const DEFAULT_TWILIO_BASE_URL = 'https://api.twilio.com';

export interface SmsSettingsInput {
  account_sid: string;
  auth_token: string;
  from_number?: string;
  messaging_service_sid?: string;
  base_url?: string;
}

export interface SmsProblem {
  field: string;
  message: string;
}

const E164 = /^\+[1-9][0-9]{1,14}$/;

/** Checks a settings body (pure); every problem names its field. */
export function checkSmsSettings(body: SmsSettingsInput): SmsProblem[] {
  const problems: SmsProblem[] = [];
  if (!/^AC[0-9a-fA-F]{32}$/.test(body.account_sid)) problems.push({ field: 'account_sid', message: 'must be AC followed by 32 hexadecimal digits' });
  if (body.auth_token.length < 16 || body.auth_token.length > 128) problems.push({ field: 'auth_token', message: 'must be 16 to 128 characters' });
  if (body.from_number === undefined && body.messaging_service_sid === undefined) problems.push({ field: 'from_number', message: 'give a sender number or a messaging_service_sid' });
  if (body.from_number !== undefined && !E164.test(body.from_number)) problems.push({ field: 'from_number', message: 'must be an E.164 number such as +15550100000' });
  if (body.messaging_service_sid !== undefined && !/^MG[0-9a-fA-F]{32}$/.test(body.messaging_service_sid)) problems.push({ field: 'messaging_service_sid', message: 'must be MG followed by 32 hexadecimal digits' });
  if (body.base_url !== undefined) {
    let ok = false;
    try {
      const u = new URL(body.base_url);
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && u.search === '';
    } catch {
      /* not a URL */
    }
    if (!ok) problems.push({ field: 'base_url', message: 'must be an http(s) URL without credentials or query' });
  }
  return problems;
}

export async function saveSmsSettings(q: Queryable, box: SecretBox, workspaceId: string, s: SmsSettingsInput): Promise<void> {
  await q.query(
    `INSERT INTO sms_settings (workspace_id, account_sid, auth_token_sealed, from_number, messaging_service_sid, base_url)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id) DO UPDATE SET account_sid = EXCLUDED.account_sid, auth_token_sealed = EXCLUDED.auth_token_sealed,
       from_number = EXCLUDED.from_number, messaging_service_sid = EXCLUDED.messaging_service_sid, base_url = EXCLUDED.base_url, updated_at = now()`,
    [workspaceId, s.account_sid, box.seal(s.auth_token), s.from_number ?? null, s.messaging_service_sid ?? null, (s.base_url ?? DEFAULT_TWILIO_BASE_URL).replace(/\/+$/, '')],
  );
}

export async function loadSmsProvider(q: Queryable, box: SecretBox, workspaceId: string): Promise<(SmsProvider & { updatedAt: Date }) | undefined> {
  const { rows } = await q.query<{ account_sid: string; auth_token_sealed: Buffer; from_number: string | null; messaging_service_sid: string | null; base_url: string; updated_at: Date }>(
    `SELECT account_sid, auth_token_sealed, from_number, messaging_service_sid, base_url, updated_at FROM sms_settings WHERE workspace_id = $1`,
    [workspaceId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return { accountSid: r.account_sid, authToken: box.open(r.auth_token_sealed), fromNumber: r.from_number, messagingServiceSid: r.messaging_service_sid, baseUrl: r.base_url, updatedAt: r.updated_at };
}
