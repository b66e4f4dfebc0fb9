/**
 * The admin routes the dashboard's campaign pages need (docs/reference/campaigns.md, "Dashboard"):
 * a live preview of one variant rendered for a chosen user, a test send to an address, an overview
 * of every campaign's results per variant and control, progress per dispatch, and the messages one
 * user received with their subscription states. Bearer key or session with `admin`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { composeEmail, type SmtpOutcome, type SmtpSettings } from '../channels/index.js';
import type { AppServices } from '../http/index.js';
import { ApiError, requireKey } from '../http/index.js';
import { usersByExternalIds, usersByIds, type User } from '../identity/index.js';
import { buildRenderScope, compileTemplate, renderTemplate, type RenderOutcome } from '../personalization/index.js';
import type { Db } from '../storage/index.js';
import { checkCampaignBody, type Variant } from './definition.js';
import { campaignOverview, dispatchProgress, messagesOfUser, type OverviewRow } from './dashboard-store.js';
import { flagsOf, getCampaign } from './store.js';
import { CampaignOverviewPage, ComposerChannel, Counts, OverviewQuery, PreviewBody, VariantContent, Progress, Rendered, TestSendBody, TestSendReply, UserMessages, UserParams, UserQuery } from './dashboard-contract.js';

const admin = { permission: 'admin' as const };
const tags = ['campaigns'];
const ErrorBody = Type.Object({ message: Type.String(), errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))) }, { additionalProperties: true });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export interface DashboardRouteDeps {
  db: Db;
  publicUrl: string;
  smtp: SmtpSettings;
  sendEmail(settings: SmtpSettings, email: ReturnType<typeof composeEmail>): Promise<SmtpOutcome>;
  trackingSecret(workspaceId: string): Buffer;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** Checks one variant's templates as a campaign would, naming fields `variant.…`. */
function checkedVariant(channel: Static<typeof ComposerChannel>, content: Static<typeof VariantContent>): Variant {
  const checked = checkCampaignBody({
    name: 'preview',
    channel,
    audience: { segment_id: 'preview' },
    from: { address: 'preview@rivulet.invalid' },
    variants: [{ id: 'preview', percent: 100, ...content }],
  });
  if (checked.problems) {
    const errors = checked.problems.map((p) => ({ path: p.field.replace(/^variants\[0\]/, 'variant'), type: p.line ? `${p.message} (line ${p.line}, column ${p.column})` : p.message }));
    throw new ApiError(400, `${errors[0]!.path}: ${errors[0]!.type}`, errors);
  }
  return checked.input.definition.variants[0]!;
}

async function userFor(db: Db, workspaceId: string, externalId: string | undefined): Promise<User | undefined> {
  if (externalId === undefined) return undefined;
  const [user] = await usersByExternalIds(db, workspaceId, [externalId]);
  if (!user) throw new ApiError(400, `external_id: no user ${externalId} in this workspace`, [{ type: 'unknown user', path: 'external_id' }]);
  return user;
}

function scopeFor(user: User | undefined, unsubscribeUrl: string) {
  const empty = { id: '00000000-0000-0000-0000-000000000000', external_id: null, email: null, phone: null, first_name: null, last_name: null, gender: null, dob: null, country: null, language: null, home_city: null, time_zone: null, email_subscribe: null, custom_attributes: {} };
  return buildRenderScope({
    profile: user ? { ...user, dob: user.dob } : empty,
    campaign: { api_id: 'preview', dispatch_id: 'preview', name: 'Preview', message_name: 'Preview', message_api_id: 'preview' },
    links: { unsubscribe: unsubscribeUrl },
  });
}

async function renderAll(sources: Array<string | undefined>, scope: Record<string, unknown>): Promise<{ texts: string[]; abort?: { abort_type: string; abort_log: string } }> {
  const texts: string[] = [];
  for (const source of sources) {
    if (source === undefined) {
      texts.push('');
      continue;
    }
    const compiled = compileTemplate(source);
    if (!compiled.template) return { texts, abort: { abort_type: 'liquid_error', abort_log: compiled.problems[0]?.message ?? 'does not compile' } };
    const out: RenderOutcome = await renderTemplate(compiled.template, scope);
    if (!out.ok) return { texts, abort: { abort_type: out.abortType, abort_log: out.abortLog } };
    texts.push(out.text);
  }
  return { texts };
}

function totalsOf(rows: OverviewRow[]): Static<typeof Counts> {
  const c: Static<typeof Counts> = { considered: 0, queued: 0, sent: 0, delivered: 0, bounces: 0, aborted: 0, skipped: 0, control: 0, unique_opens: 0, unique_clicks: 0, unsubscribes: 0, conversions: null };
  for (const r of rows) {
    c.considered += r.count;
    if (r.state === 'queued') c.queued += r.count;
    if (r.state === 'sent' || r.state === 'delivered' || r.state === 'bounced' || r.state === 'soft_bounced') c.sent += r.count;
    if (r.state === 'delivered') c.delivered += r.count;
    if (r.state === 'bounced' || r.state === 'soft_bounced') c.bounces += r.count;
    if (r.state === 'aborted') c.aborted += r.count;
    if (r.state === 'skipped') c.skipped += r.count;
    if (r.state === 'control') c.control += r.count;
    c.unique_opens += r.opened;
    c.unique_clicks += r.clicked;
    c.unsubscribes += r.unsubscribed;
  }
  return c;
}

export function campaignDashboardRoutes(deps: DashboardRouteDeps) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const { db } = deps;

    app.post(
      '/admin/campaigns/preview',
      { config: admin, schema: { tags, summary: "One variant's templates rendered for a chosen user (nothing is sent or recorded)", body: PreviewBody, response: { 200: Rendered, 400: ErrorBody } } },
      async (request) => {
        const key = requireKey(request);
        const body = request.body as Static<typeof PreviewBody>;
        const variant = checkedVariant(body.channel, body.variant);
        const user = await userFor(db, key.workspace_id, body.external_id);
        const scope = scopeFor(user, `${deps.publicUrl}/u/preview`);
        const who = user ? { user_id: user.id, external_id: user.external_id, email: user.email } : null;
        if (variant.email) {
          const e = variant.email;
          const { texts, abort } = await renderAll([e.subject, e.html, e.text], scope);
          if (abort) return { ok: false, user: who, abort };
          return { ok: true, user: who, email: { subject: texts[0]!, html: texts[1]!, text: texts[2]! } };
        }
        if (variant.content_card) {
          const c = variant.content_card;
          const { texts, abort } = await renderAll([c.title, c.description, c.image_url, c.url], scope);
          if (abort) return { ok: false, user: who, abort };
          return { ok: true, user: who, content_card: { title: texts[0]!, description: texts[1]!, image_url: texts[2]!, url: texts[3]!, pinned: c.pinned === true } };
        }
        if (variant.in_app_message) {
          const m = variant.in_app_message;
          const { texts, abort } = await renderAll([m.header, m.body, m.image_url, ...m.buttons.flatMap((b) => [b.text, b.url])], scope);
          if (abort) return { ok: false, user: who, abort };
          const buttons = m.buttons.map((b, i) => ({ id: b.id, text: texts[3 + 2 * i]!, url: texts[4 + 2 * i]! }));
          return { ok: true, user: who, in_app_message: { layout: m.layout, header: texts[0]!, body: texts[1]!, image_url: texts[2]!, buttons, trigger_events: m.trigger_events } };
        }
        const w = variant.webhook!;
        const names = Object.keys(w.headers);
        const { texts, abort } = await renderAll([w.url, w.body, ...names.map((n) => w.headers[n])], scope);
        if (abort) return { ok: false, user: who, abort };
        return { ok: true, user: who, webhook: { url: texts[0]!, method: w.method, body: texts[1]!, headers: Object.fromEntries(names.map((n, i) => [n, texts[i + 2]!])) } };
      },
    );

    app.post(
      '/admin/campaigns/test-send',
      {
        config: admin,
        schema: { tags, summary: 'Send one email variant, rendered for a chosen user, to an address (subject marked [Test]; no events)', body: TestSendBody, response: { 200: TestSendReply, 400: ErrorBody, 502: ErrorBody } },
      },
      async (request) => {
        const key = requireKey(request);
        const body = request.body as Static<typeof TestSendBody>;
        const variant = checkedVariant('email', { email: body.email });
        const user = await userFor(db, key.workspace_id, body.external_id);
        const sendKey = randomUUID();
        const scope = scopeFor(user, `${deps.publicUrl}/u/test`);
        const e = variant.email!;
        const { texts, abort } = await renderAll([e.subject, e.html, e.text, e.preheader], scope);
        if (abort) throw new ApiError(400, `email: the message aborted (${abort.abort_type}): ${abort.abort_log}`, [{ type: abort.abort_type, path: 'email' }]);
        const composed = composeEmail({
          email: { subject: `[Test] ${texts[0]}`, html: texts[1]!, ...(e.text !== undefined ? { text: texts[2] } : {}), ...(e.preheader !== undefined ? { preheader: texts[3] } : {}) },
          to: body.to,
          from: body.from,
          replyTo: body.reply_to,
          sendKey,
          workspaceId: key.workspace_id,
          publicUrl: deps.publicUrl,
          secret: deps.trackingSecret(key.workspace_id),
          listUnsubscribe: false,
          trackOpens: false,
          trackClicks: false,
        });
        const outcome = await deps.sendEmail(deps.smtp, composed);
        if (outcome.kind === 'delivered') return { delivered: true, send_id: sendKey, smtp_response: outcome.response };
        throw new ApiError(502, `The SMTP server refused the test message: ${outcome.reason}`, [{ type: outcome.kind, path: 'to' }]);
      },
    );

    app.get(
      '/admin/campaigns/overview',
      { config: admin, schema: { tags, summary: "Every campaign's results, per variant and control (newest first)", querystring: OverviewQuery, response: { 200: CampaignOverviewPage } } },
      async (request) => {
        const key = requireKey(request);
        const { limit = 200 } = request.query as { limit?: number };
        const { campaigns, rows } = await campaignOverview(db, key.workspace_id, limit);
        return {
          campaigns: campaigns.map((c) => {
            const mine = rows.filter((r) => r.campaign_id === c.id);
            const ids = [...new Set([...c.definition.variants.map((v) => v.id), ...mine.map((r) => r.variant_id)])];
            const named = new Map(c.definition.variants.map((v) => [v.id, v.name]));
            return {
              id: c.id,
              name: c.name,
              channel: c.channel,
              state: c.state,
              created_at: iso(c.created_at)!,
              totals: totalsOf(mine),
              variants: ids.map((id) => ({ variant_id: id, name: named.get(id) ?? (id === 'control' ? 'Control' : id), ...totalsOf(mine.filter((r) => r.variant_id === id)) })),
            };
          }),
        };
      },
    );

    app.get(
      '/admin/campaigns/:id/progress',
      { config: admin, schema: { tags, summary: 'Progress per dispatch: queued, sent, failed, aborted', params: IdParams, response: { 200: Progress, 404: ErrorBody } } },
      async (request) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const campaign = await getCampaign(db, key.workspace_id, id);
        if (!campaign) throw new ApiError(404, `Campaign ${id} not found`, [{ type: 'not found', path: 'id' }]);
        const dispatches = await dispatchProgress(db, key.workspace_id, id);
        return { campaign_id: id, state: campaign.state, dispatches: dispatches.map((d) => ({ ...d, created_at: iso(d.created_at)! })) };
      },
    );

    app.get(
      '/admin/campaigns/recipients/:user_id',
      { config: admin, schema: { tags, summary: 'The campaign messages one user received, and their subscription states', params: UserParams, querystring: UserQuery, response: { 200: UserMessages, 404: ErrorBody } } },
      async (request) => {
        const key = requireKey(request);
        const { user_id } = request.params as { user_id: string };
        const { limit = 100 } = request.query as { limit?: number };
        const [user] = await usersByIds(db, key.workspace_id, [user_id]);
        if (!user) throw new ApiError(404, `User ${user_id} not found`, [{ type: 'not found', path: 'user_id' }]);
        const flags = user.email ? (await flagsOf(db, key.workspace_id, [user.email])).get(user.email.toLowerCase()) : undefined;
        const messages = await messagesOfUser(db, key.workspace_id, user_id, limit);
        return {
          user_id,
          subscriptions: { email_subscribe: user.email_subscribe, push_subscribe: user.push_subscribe, email_hard_bounced: flags?.hard_bounced ?? false, email_spam_reported: flags?.spam_reported ?? false },
          messages: messages.map((m) => ({ ...m, created_at: iso(m.created_at)!, delivered_at: iso(m.delivered_at), opened_at: iso(m.opened_at), clicked_at: iso(m.clicked_at), unsubscribed_at: iso(m.unsubscribed_at) })),
        };
      },
    );
  };
}
