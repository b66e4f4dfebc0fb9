/**
 * The campaign admin API (Bearer key with `admin`; docs/reference/campaigns.md §5): create, list,
 * read, replace, launch, pause, resume, stop, statistics — and the recipient routes of the email
 * channel (opens, clicks, unsubscribe), whose events are the campaign's.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { trackingRoutes, type TrackingPayload } from '../channels/index.js';
import { appendEvents } from '../events/index.js';
import type { AppServices } from '../http/index.js';
import { requireKey } from '../http/index.js';
import { ApiError, Errors } from '../http/index.js';
import { setEmailSubscribe, usersByIds } from '../identity/index.js';
import { getSegment } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import { checkCampaignBody, type CampaignInput } from './definition.js';
import { campaignEvent, campaignRef, type SendContext } from './events.js';
import { campaignStats, createCampaign, endQueuedSends, getCampaign, getDispatch, getSend, insertDispatch, listCampaigns, markEngagement, setCampaignState, updateCampaign, type Campaign } from './store.js';
import { Campaign as CampaignView, CampaignPage, CampaignStats, Launched } from './contract.js';

const admin = { permission: 'admin' as const };
const tags = ['campaigns'];
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const ListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);
const BodyDoc = { type: 'object', additionalProperties: true, description: 'A campaign: {name, channel, audience: {segment_id}, variants: [...], control_percent, from, send_to}; docs/reference/campaigns.md §1' } as const;

function present(c: Campaign) {
  return { id: c.id, name: c.name, channel: c.channel, state: c.state, ...c.definition, created_at: c.created_at, updated_at: c.updated_at };
}

export interface CampaignRouteDeps {
  db: Db;
  wake(): void;
  audienceSize(workspaceId: string, segmentId: string): Promise<number>;
  trackingSecret(workspaceId: string): Buffer;
}

async function validInput(db: Db, workspaceId: string, body: unknown): Promise<CampaignInput> {
  const checked = checkCampaignBody(body);
  if (checked.problems) {
    const errors = checked.problems.map((p) => ({ type: p.line ? `${p.message} (line ${p.line}, column ${p.column})` : p.message, path: p.field }));
    throw new ApiError(400, `${errors[0]!.path}: ${errors[0]!.type}`, errors);
  }
  const segmentId = checked.input.definition.audience.segment_id;
  // An API campaign without a segment: each /messages/send names its audience.
  if (!(checked.input.definition.delivery === 'api_campaign' && segmentId === '') && !(await getSegment(db, workspaceId, segmentId))) {
    throw new ApiError(400, `audience.segment_id: no segment ${checked.input.definition.audience.segment_id} in this workspace`, [{ type: 'unknown segment', path: 'audience.segment_id' }]);
  }
  return checked.input;
}

export function campaignRoutes(deps: CampaignRouteDeps) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const { db } = deps;
    const campaignOf = async (workspaceId: string, id: string, lock = false) => {
      const c = await getCampaign(db, workspaceId, id, lock);
      if (!c) throw Errors.notFound(`Campaign ${id}`);
      return c;
    };

    app.post('/admin/campaigns', { config: admin, schema: { tags, response: { 201: CampaignView }, summary: 'Create a campaign (a draft)', body: BodyDoc } }, async (request, reply) => {
      const key = requireKey(request);
      return reply.status(201).send(present(await createCampaign(db, key.workspace_id, await validInput(db, key.workspace_id, request.body))));
    });

    app.get('/admin/campaigns', { config: admin, schema: { tags, response: { 200: CampaignPage }, summary: "This workspace's campaigns, a page at a time", querystring: ListQuery } }, async (request) => {
      const key = requireKey(request);
      const q = request.query as { limit?: number; cursor?: string };
      const limit = q.limit ?? 100;
      const page = await listCampaigns(db, key.workspace_id, limit + 1, q.cursor);
      return { campaigns: page.slice(0, limit).map(present), next_cursor: page.length > limit ? page[limit - 1]!.id : null };
    });

    app.get('/admin/campaigns/:id', { config: admin, schema: { tags, response: { 200: CampaignView }, summary: 'A campaign', params: IdParams } }, async (request) => {
      return present(await campaignOf(requireKey(request).workspace_id, (request.params as { id: string }).id));
    });

    app.put('/admin/campaigns/:id', { config: admin, schema: { tags, response: { 200: CampaignView }, summary: "Replace a campaign's definition (dispatches under way keep theirs)", params: IdParams, body: BodyDoc } }, async (request) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      const input = await validInput(db, key.workspace_id, request.body);
      const current = await campaignOf(key.workspace_id, id);
      if (current.state === 'stopped' || current.state === 'archived') throw new ApiError(409, `Campaign ${id} is ${current.state}`, [{ type: `campaign is ${current.state}`, path: 'id' }]);
      return present((await updateCampaign(db, key.workspace_id, id, input))!);
    });

    app.post('/admin/campaigns/:id/launch', { config: admin, schema: { tags, response: { 201: Launched }, summary: 'Send the campaign to its audience now (a dispatch)', params: IdParams } }, async (request, reply) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      const dispatch = await db.transaction(async (tx) => {
        const c = await getCampaign(tx, key.workspace_id, id, true);
        if (!c) throw Errors.notFound(`Campaign ${id}`);
        if (c.state === 'stopped' || c.state === 'archived') throw new ApiError(409, `Campaign ${id} is ${c.state}`, [{ type: `campaign is ${c.state}`, path: 'id' }]);
        const apiOnly = c.definition.delivery === 'api_triggered' || c.definition.delivery === 'api_campaign';
        if (c.definition.delivery !== 'api_campaign' && !(await getSegment(tx, key.workspace_id, c.definition.audience.segment_id))) throw new ApiError(409, 'The campaign\'s segment no longer exists', [{ type: 'unknown segment', path: 'audience.segment_id' }]);
        await setCampaignState(tx, key.workspace_id, id, 'active');
        // An API-triggered campaign is only switched on: /campaigns/trigger/send makes its dispatches.
        // An API campaign likewise (/messages/send makes its dispatches), and an action-based one (its trigger reader does: triggers/reader.ts).
        return apiOnly || c.definition.delivery === 'action_based' ? undefined : insertDispatch(tx, c);
      });
      deps.wake();
      const campaign = await campaignOf(key.workspace_id, id);
      if (!dispatch) return reply.status(201).send({ dispatch_id: null, state: campaign.state });
      const size = await deps.audienceSize(key.workspace_id, campaign.definition.audience.segment_id);
      return reply.status(201).send({ dispatch_id: dispatch.id, audience_size: size });
    });

    for (const [action, from, to] of [
      ['pause', ['active'], 'paused'],
      ['resume', ['paused'], 'active'],
      ['stop', ['draft', 'active', 'paused'], 'stopped'],
      ['archive', ['draft', 'stopped'], 'archived'],
    ] as const) {
      app.post(`/admin/campaigns/:id/${action}`, { config: admin, schema: { tags, response: { 200: CampaignView }, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a campaign`, params: IdParams } }, async (request) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const ended = await db.transaction(async (tx) => {
          const c = await getCampaign(tx, key.workspace_id, id, true);
          if (!c) throw Errors.notFound(`Campaign ${id}`);
          if (!(from as readonly string[]).includes(c.state)) throw new ApiError(409, `Campaign ${id} is ${c.state}; ${action} needs ${from.join(' or ')}`, [{ type: `campaign is ${c.state}`, path: 'id' }]);
          await setCampaignState(tx, key.workspace_id, id, to);
          return to === 'stopped' ? endQueuedSends(tx, key.workspace_id, id) : 0;
        });
        if (to === 'active') deps.wake();
        return { ...present(await campaignOf(key.workspace_id, id)), ...(to === 'stopped' ? { sends_ended: ended } : {}) };
      });
    }

    app.get('/admin/campaigns/:id/stats', { config: admin, schema: { tags, response: { 200: CampaignStats }, summary: 'Sends per variant and state, unique opens, clicks and unsubscribes', params: IdParams } }, async (request) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      await campaignOf(key.workspace_id, id);
      const variants: Record<string, Record<string, number>> = {};
      for (const r of await campaignStats(db, key.workspace_id, id)) {
        const v = (variants[r.variant_id] ??= { considered: 0, unique_opens: 0, unique_clicks: 0, unsubscribes: 0 });
        v[r.state] = r.count;
        v.considered! += r.count;
        v.unique_opens! += r.opened;
        v.unique_clicks! += r.clicked;
        v.unsubscribes! += r.unsubscribed;
      }
      return { campaign_id: id, variants };
    });

    // The recipient's routes: each verified token names its send, whose row gives the event's ids.
    const contextOf = async (p: TrackingPayload): Promise<{ ctx: SendContext; email: string | null } | undefined> => {
      const send = await getSend(db, p.w, p.s);
      if (!send) return undefined;
      const [campaign, dispatch, [user]] = await Promise.all([getCampaign(db, p.w, send.campaign_id), getDispatch(db, send.dispatch_id), usersByIds(db, p.w, [send.user_id])]);
      if (!campaign || !dispatch || !user) return undefined;
      const variant = dispatch.definition.variants.find((v) => v.id === send.variant_id);
      return {
        ctx: { workspaceId: p.w, sendKey: p.s, dispatchId: send.dispatch_id, campaign: campaignRef(campaign.id, campaign.name, campaign.definition), variant: { id: send.variant_id, name: variant?.name ?? send.variant_id }, user },
        email: user.email,
      };
    };
    const record = async (p: TrackingPayload, type: string, fields: Record<string, unknown>, column: 'opened_at' | 'clicked_at', at: Date) => {
      const found = await contextOf(p);
      if (!found) return;
      await db.transaction(async (tx) => {
        await markEngagement(tx, p.w, p.s, column);
        await appendEvents(tx, p.w, [campaignEvent(type, found.ctx, { email_address: found.email ?? '', esp: 'smtp', ...fields }, at.getTime(), `${at.getTime()}:${Math.random()}`)]);
      });
    };
    await app.register(
      trackingRoutes({
        secretFor: async (ws) => deps.trackingSecret(ws),
        onOpen: (p, s) => record(p, 'users.messages.email.Open', { user_agent: s.userAgent, machine_open: null }, 'opened_at', s.at),
        onClick: (p, s) =>
          record(p, 'users.messages.email.Click', { url: p.url, link_id: p.lid, link_alias: p.alias, user_agent: s.userAgent, is_suspected_bot_click: s.head, ...(s.head ? { suspected_bot_click_reason: ['head_request'] } : {}) }, 'clicked_at', s.at),
        onUnsubscribe: async (p, s) => {
          const found = await contextOf(p);
          if (!found) return;
          await db.transaction(async (tx) => {
            const before = await setEmailSubscribe(tx, p.w, found.ctx.user.id, 'unsubscribed');
            await markEngagement(tx, p.w, p.s, 'unsubscribed_at');
            if (!before || before.before === 'unsubscribed') return;
            const t = s.at.getTime();
            await appendEvents(tx, p.w, [
              campaignEvent('users.messages.email.Unsubscribe', found.ctx, { email_address: found.email ?? '' }, t),
              campaignEvent('users.behaviors.subscription.GlobalStateChange', found.ctx, { email_address: found.email, subscription_status: 'Unsubscribed', channel: 'email', state_change_source: s.source }, t),
            ]);
          });
        },
      }),
    );
  };
}
