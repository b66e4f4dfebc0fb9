/**
 * Inbound provider events (docs/reference/campaigns.md, "Provider events"): SendGrid's signed
 * Event Webhook at `POST /email/events/sendgrid?workspace=<id>`, verified with the workspace's
 * verification key (set with `PUT /admin/email/providers/sendgrid`). A bounce or drop flags the
 * address hard-bounced, a spam report flags it spam-reported, an unsubscribe unsubscribes the user;
 * an event naming a Rivulet send (`rivulet_send_id` custom argument) also appends the send's
 * Bounce / SoftBounce / MarkAsSpam / Unsubscribe, with an id derived from SendGrid's event id, so
 * SendGrid's retries append nothing twice.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkSendGridSignature, mapSendGridEvents, sendGridPublicKey, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, type ProviderEvent } from '../channels/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import type { AppServices } from '../http/index.js';
import { ApiError, requireKey } from '../http/index.js';
import { setEmailSubscribe, userIdsByEmails, usersByIds } from '../identity/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { campaignEvent, campaignRef, type SendContext } from './events.js';
import { flagHardBounce, getCampaign, getDispatch, getSend } from './store.js';

const tags = ['campaigns'];
const MAX_BODY_BYTES = 8 * 1024 * 1024;

async function publicKeyOf(db: Queryable, workspaceId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ public_key: string }>(`SELECT public_key FROM email_provider_keys WHERE workspace_id = $1 AND provider = 'sendgrid'`, [workspaceId]);
  return rows[0]?.public_key;
}

async function sendContext(db: Queryable, workspaceId: string, sendId: string, email: string): Promise<SendContext | undefined> {
  const send = await getSend(db, workspaceId, sendId);
  if (!send) return undefined;
  const [campaign, dispatch, [user]] = await Promise.all([getCampaign(db, workspaceId, send.campaign_id), getDispatch(db, send.dispatch_id), usersByIds(db, workspaceId, [send.user_id])]);
  // The event must be about the address the send went to.
  if (!campaign || !dispatch || !user || user.email?.toLowerCase() !== email) return undefined;
  const variant = dispatch.definition.variants.find((v) => v.id === send.variant_id);
  return { workspaceId, sendKey: send.send_key, dispatchId: send.dispatch_id, campaign: campaignRef(campaign.id, campaign.name, campaign.definition), variant: { id: send.variant_id, name: variant?.name ?? send.variant_id }, user };
}

/** Applies one provider event; answers whether it matched a send. */
async function applyEvent(tx: Queryable, workspaceId: string, e: ProviderEvent): Promise<boolean> {
  const ctx = e.sendId ? await sendContext(tx, workspaceId, e.sendId, e.email) : undefined;
  const events: LogEvent[] = [];
  const at = e.time * 1000;
  const ev = (type: string, fields: Record<string, unknown>) => ctx && events.push(campaignEvent(`users.messages.email.${type}`, ctx, { email_address: e.email, esp: 'sendgrid', ...fields }, at, `sendgrid:${e.providerEventId}`));
  switch (e.outcome) {
    case 'bounce':
    case 'drop':
      await flagHardBounce(tx, workspaceId, e.email);
      if (ctx) await tx.query(`UPDATE campaign_sends SET state = 'bounced', reason = $2 WHERE send_key = $1 AND state IN ('delivered', 'sent')`, [ctx.sendKey, e.reason.slice(0, 200)]);
      ev('Bounce', { bounce_reason: e.reason, is_drop: e.outcome === 'drop' });
      break;
    case 'soft_bounce':
      ev('SoftBounce', { bounce_reason: e.reason });
      break;
    case 'spam':
      await tx.query(
        `INSERT INTO email_address_flags (workspace_id, email, spam_reported_at) VALUES ($1, $2, now())
         ON CONFLICT (workspace_id, email) DO UPDATE SET spam_reported_at = coalesce(email_address_flags.spam_reported_at, now())`,
        [workspaceId, e.email],
      );
      ev('MarkAsSpam', {});
      break;
    case 'unsubscribe': {
      const ids = ctx ? [ctx.user.id] : ((await userIdsByEmails(tx, workspaceId, [e.email])).get(e.email.toLowerCase()) ?? []);
      for (const id of ids) {
        const before = await setEmailSubscribe(tx, workspaceId, id, 'unsubscribed');
        if (ctx && before && before.before !== 'unsubscribed') {
          await tx.query(`UPDATE campaign_sends SET unsubscribed_at = coalesce(unsubscribed_at, now()) WHERE send_key = $1`, [ctx.sendKey]);
          ev('Unsubscribe', {});
          events.push(campaignEvent('users.behaviors.subscription.GlobalStateChange', ctx, { email_address: e.email, subscription_status: 'Unsubscribed', channel: 'email', state_change_source: 'SendGrid' }, at, `sendgrid:${e.providerEventId}`));
        }
      }
      break;
    }
  }
  if (events.length) await appendEvents(tx, workspaceId, events, { skipDuplicateIds: true });
  return ctx !== undefined;
}

const Accepted = Type.Object({ accepted: Type.Integer(), matched: Type.Integer(), ignored: Type.Integer() });
const ErrorBody = Type.Object({ message: Type.String(), errors: Type.Array(Type.Object({ type: Type.String(), path: Type.Optional(Type.String()) })) });

export function providerEventRoutes(deps: { db: Db; now?: () => number }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const { db } = deps;
    const now = deps.now ?? Date.now;

    app.put(
      '/admin/email/providers/sendgrid',
      {
        config: { permission: 'admin' as const },
        schema: {
          tags,
          summary: "Set the workspace's SendGrid Event Webhook verification key",
          body: Type.Object({ public_key: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
          response: { 200: Type.Object({ provider: Type.Literal('sendgrid'), configured: Type.Boolean() }) },
        },
      },
      async (request) => {
        const key = requireKey(request);
        const { public_key } = request.body as { public_key: string };
        if (!sendGridPublicKey(public_key)) throw new ApiError(400, 'public_key: must be a base64 P-256 public key (SendGrid\'s verification key)', [{ type: 'not a P-256 public key', path: 'public_key' }]);
        await db.query(
          `INSERT INTO email_provider_keys (workspace_id, provider, public_key) VALUES ($1, 'sendgrid', $2)
           ON CONFLICT (workspace_id, provider) DO UPDATE SET public_key = EXCLUDED.public_key, updated_at = now()`,
          [key.workspace_id, public_key],
        );
        return { provider: 'sendgrid' as const, configured: true };
      },
    );

    // The webhook's body is verified byte for byte: it is kept raw and parsed after the check.
    await app.register(async (scope) => {
      scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
      scope.post(
        '/email/events/sendgrid',
        {
          bodyLimit: MAX_BODY_BYTES,
          schema: {
            tags,
            summary: "SendGrid's signed Event Webhook (bounce, dropped, spamreport, unsubscribe)",
            description: 'The body is the raw JSON array SendGrid posts; it is checked after its signature (docs/reference/campaigns.md).',
            querystring: Type.Object({ workspace: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
            response: { 200: Accepted, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
          },
        },
        async (request) => {
          const { workspace } = request.query as { workspace: string };
          const stored = await publicKeyOf(db, workspace);
          const key = stored ? sendGridPublicKey(stored) : undefined;
          if (!key) throw new ApiError(404, 'workspace: no SendGrid verification key is set for this workspace', [{ type: 'not configured', path: 'workspace' }]);
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const sig = request.headers[SENDGRID_SIGNATURE_HEADER];
          const ts = request.headers[SENDGRID_TIMESTAMP_HEADER];
          const problem = checkSendGridSignature(key, typeof sig === 'string' ? sig : undefined, typeof ts === 'string' ? ts : undefined, raw, Math.floor(now() / 1000));
          if (problem) throw new ApiError(401, `${SENDGRID_SIGNATURE_HEADER}: ${problem}`, [{ type: problem, path: problem === 'stale_timestamp' ? SENDGRID_TIMESTAMP_HEADER : SENDGRID_SIGNATURE_HEADER }]);
          let body: unknown;
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new ApiError(400, 'body: not JSON', [{ type: 'not JSON', path: 'body' }]);
          }
          const mapped = mapSendGridEvents(body);
          // Nothing is applied from a batch with a bad event: SendGrid retries, nothing half done.
          if (mapped.problems.length) throw new ApiError(400, `${mapped.problems[0]!.path}: ${mapped.problems[0]!.type}`, mapped.problems.slice(0, 50));
          let matched = 0;
          await db.transaction(async (tx) => {
            for (const e of mapped.events) if (await applyEvent(tx, workspace, e)) matched++;
          });
          return { accepted: mapped.events.length, matched, ignored: mapped.ignored };
        },
      );
    });
  };
}
