/**
 * SMS routes (docs/reference/sms.md): the admin API for the workspace's provider settings, and the
 * two webhooks the provider calls — status callbacks and inbound messages — both refused with 403
 * unless `X-Twilio-Signature` is the HMAC the workspace's auth token makes over the public URL and
 * the sorted form parameters. Nothing from a refused request is stored.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { appendEvents, type LogEvent } from '../../events/index.js';
import { ApiError, requireKey } from '../../http/index.js';
import { setSmsSubscribe, usersByPhone } from '../../identity/index.js';
import type { SecretBox } from '../../secrets/index.js';
import type { Db } from '../../storage/index.js';
import { updateSmsStatus, type SmsMessageRow } from './messages.js';
import { checkSmsSettings, loadSmsProvider, saveSmsSettings, type SmsSettingsInput } from './settings.js';
import { formParams, verifyTwilioSignature } from './signature.js';
import { keywordAction, statusEventType, type SmsStatusEvent } from './status.js';

export interface SmsRouteDeps {
  db: Db;
  box: SecretBox;
  publicUrl: string;
  /** The event a status callback adds for a message sent by a campaign (its stored context). */
  statusEvent(message: SmsMessageRow, type: SmsStatusEvent, fields: Record<string, unknown>, timeMs: number): LogEvent;
}

const admin = { permission: 'admin' as const };
const tags = ['sms'];
const ErrorBody = Type.Object({ message: Type.String(), errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))), error_count: Type.Optional(Type.Integer()) });
const SettingsBody = Type.Object(
  {
    account_sid: Type.String({ maxLength: 64 }),
    auth_token: Type.String({ maxLength: 128 }),
    from_number: Type.Optional(Type.String({ maxLength: 32 })),
    messaging_service_sid: Type.Optional(Type.String({ maxLength: 64 })),
    base_url: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const SettingsView = Type.Object({
  account_sid: Type.String(),
  auth_token_set: Type.Boolean(),
  from_number: Type.Union([Type.String(), Type.Null()]),
  messaging_service_sid: Type.Union([Type.String(), Type.Null()]),
  base_url: Type.String(),
  status_callback_url: Type.String(),
  inbound_url: Type.String(),
});
const WsParams = Type.Object({ workspace: Type.String({ format: 'uuid' }) });
const StatusQuery = Type.Object({ send: Type.Optional(Type.String({ format: 'uuid' })) });
/** Largest webhook body accepted (Twilio's are a few KiB; an SMS body is at most 1600 characters). */
export const SMS_WEBHOOK_BODY_LIMIT = 64 * 1024;

/** With `sendKey`, the callback names its send even before the SID is recorded (the signature covers it). */
export const statusCallbackPath = (workspaceId: string, sendKey?: string) => `/sms/twilio/status/${workspaceId}${sendKey ? `?send=${sendKey}` : ''}`;
export const inboundPath = (workspaceId: string) => `/sms/twilio/inbound/${workspaceId}`;

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function smsRoutes(deps: SmsRouteDeps) {
  return async function routes(app: FastifyInstance): Promise<void> {
    const { db, box, publicUrl } = deps;
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: SMS_WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, formParams(body as string)));

    const view = (ws: string, s: { accountSid: string; fromNumber: string | null; messagingServiceSid: string | null; baseUrl: string }) => ({
      account_sid: s.accountSid,
      auth_token_set: true,
      from_number: s.fromNumber,
      messaging_service_sid: s.messagingServiceSid,
      base_url: s.baseUrl,
      status_callback_url: publicUrl + statusCallbackPath(ws),
      inbound_url: publicUrl + inboundPath(ws),
    });

    app.put('/admin/sms/settings', { config: admin, schema: { tags, summary: "Set this workspace's SMS provider (Twilio-compatible)", body: SettingsBody, response: { 200: SettingsView, 400: ErrorBody } } }, async (request) => {
      const key = requireKey(request);
      const input = request.body as SmsSettingsInput;
      const problems = checkSmsSettings(input);
      if (problems.length) throw new ApiError(400, `${problems[0]!.field}: ${problems[0]!.message}`, problems.map((p) => ({ type: p.message, path: p.field })));
      await saveSmsSettings(db, box, key.workspace_id, input);
      return view(key.workspace_id, (await loadSmsProvider(db, box, key.workspace_id))!);
    });

    app.get('/admin/sms/settings', { config: admin, schema: { tags, summary: "This workspace's SMS provider (the auth token is never shown)", response: { 200: SettingsView, 404: ErrorBody } } }, async (request) => {
      const key = requireKey(request);
      const s = await loadSmsProvider(db, box, key.workspace_id);
      if (!s) throw new ApiError(404, 'SMS is not configured in this workspace', [{ type: 'not configured', path: 'account_sid' }]);
      return view(key.workspace_id, s);
    });

    /** The workspace's provider if the request carries its valid signature; 403 otherwise. */
    const verified = async (request: FastifyRequest) => {
      const ws = (request.params as { workspace: string }).workspace;
      const params = (request.body ?? {}) as Record<string, string | string[]>;
      const provider = await loadSmsProvider(db, box, ws);
      const signature = request.headers['x-twilio-signature'];
      const ok = provider !== undefined && typeof signature === 'string' && verifyTwilioSignature(provider.authToken, publicUrl + request.url, params, signature);
      if (!ok || one(params.AccountSid) !== provider.accountSid) throw new ApiError(403, 'X-Twilio-Signature: missing or not valid for this workspace', [{ type: 'invalid signature', path: 'X-Twilio-Signature' }]);
      return { ws, params, provider };
    };

    app.post(
      '/sms/twilio/status/:workspace',
      { schema: { tags, summary: 'Twilio status callback (signed)', params: WsParams, querystring: StatusQuery, response: { 204: Type.Null(), 403: ErrorBody, 400: ErrorBody } } },
      async (request, reply) => {
        const { ws, params } = await verified(request);
        const sid = one(params.MessageSid) ?? one(params.SmsSid);
        const status = one(params.MessageStatus) ?? one(params.SmsStatus);
        if (!sid || !status) throw new ApiError(400, 'MessageSid and MessageStatus are required', [{ type: 'missing', path: sid ? 'MessageStatus' : 'MessageSid' }]);
        const type = statusEventType(status);
        await db.transaction(async (tx) => {
          const updated = await updateSmsStatus(tx, ws, sid, (request.query as { send?: string }).send, status, type);
          if (!updated?.firstReport || !type) return;
          const { message } = updated;
          const code = one(params.ErrorCode);
          const fields: Record<string, unknown> = { to_phone_number: message.to_number, from_phone_number: one(params.From) ?? message.from_number ?? undefined };
          if (type === 'DeliveryFailure' || type === 'Rejection') Object.assign(fields, { provider_error_code: code, error: one(params.ErrorMessage) ?? (code ? `error ${code}` : status) });
          await appendEvents(tx, ws, [deps.statusEvent(message, type, fields, Date.now())]);
        });
        return reply.code(204).send();
      },
    );

    app.post(
      '/sms/twilio/inbound/:workspace',
      { schema: { tags, summary: 'Twilio inbound message webhook (signed); STOP/START/HELP keywords', params: WsParams, response: { 200: Type.String(), 403: ErrorBody, 400: ErrorBody } } },
      async (request, reply) => {
        const { ws, params } = await verified(request);
        const from = one(params.From);
        const to = one(params.To);
        const body = one(params.Body) ?? '';
        if (!from || !to) throw new ApiError(400, 'From and To are required', [{ type: 'missing', path: from ? 'To' : 'From' }]);
        const action = keywordAction(body);
        const media: string[] = [];
        for (let i = 0; i < Math.min(Number(one(params.NumMedia) ?? 0) || 0, 10); i++) {
          const m = one(params[`MediaUrl${i}`]);
          if (m) media.push(m);
        }
        await db.transaction(async (tx) => {
          const users = await usersByPhone(tx, ws, from);
          const events: LogEvent[] = [];
          const time = Math.floor(Date.now() / 1000);
          const properties = { app_group_id: ws, user_phone_number: from, inbound_phone_number: to, action: action === 'Help' ? 'None' : action, message_body: body, ...(media.length ? { media_urls: media } : {}) };
          for (const u of users) {
            if (action === 'Unsubscribed' || action === 'Subscribed') await setSmsSubscribe(tx, ws, u.id, action === 'Unsubscribed' ? 'unsubscribed' : 'subscribed');
            events.push({ event_type: 'users.messages.sms.InboundReceive', id: randomUUID(), time, user: { user_id: u.id, ...(u.external_id ? { external_user_id: u.external_id } : {}) }, properties });
          }
          if (!users.length) events.push({ event_type: 'users.messages.sms.InboundReceive', id: randomUUID(), time, user: { user_id: null }, properties });
          await appendEvents(tx, ws, events);
        });
        return reply.code(200).type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
      },
    );
  };
}
