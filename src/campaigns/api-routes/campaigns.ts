/**
 * `GET /campaigns/list`, `GET /campaigns/details`, `POST /sends/id/create` (Braze's shapes) and the
 * admin campaign schedules, once or recurring (docs/reference/messaging-api.md §4, §3).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../http/index.js';
import { ApiError, Errors, requireKey } from '../../http/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import { getCampaign, type Campaign } from '../store.js';
import { cancelSchedule, insertSchedule, listCampaignSchedules, type Recurrence } from '../schedules.js';
import { bad, checkSchedule } from './message-body.js';

export const LIST_PAGE = 100;
export const SEND_IDS_PER_DAY = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const AnyQuery = { type: 'object', additionalProperties: true } as const;
const AnyBody = { type: 'object', additionalProperties: true } as const;
const Loose = { type: 'object', additionalProperties: true } as const;

function scheduleType(c: Campaign, recurring: boolean): string {
  switch (c.definition.delivery) {
    case 'api_triggered':
      return 'api_triggered';
    case 'api_campaign':
      return 'api_campaign';
    default:
      return recurring ? 'recurring' : 'date';
  }
}

async function sentRange(db: Queryable, campaignId: string): Promise<{ first: Date | null; last: Date | null }> {
  const { rows } = await db.query<{ first: Date | null; last: Date | null }>(
    `SELECT min(first_attempt_at) AS first, max(first_attempt_at) AS last FROM campaign_sends WHERE campaign_id = $1`,
    [campaignId],
  );
  return rows[0] ?? { first: null, last: null };
}

export function campaignApiRoutes(deps: { db: Db; now(): number }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    app.get('/campaigns/list', { config: { permission: 'campaigns.list' }, schema: { tags: ['messaging'], summary: "The workspace's campaigns, 100 a page by creation", querystring: AnyQuery, response: { 200: Loose } } }, async (request) => {
      const key = requireKey(request);
      const q = request.query as Record<string, unknown>;
      const page = q.page === undefined ? 0 : Number(q.page);
      if (!Number.isInteger(page) || page < 0) throw bad('page must be an integer from 0', 'page');
      const sort = q.sort_direction ?? 'desc';
      if (sort !== 'asc' && sort !== 'desc') throw bad('sort_direction must be asc or desc', 'sort_direction');
      const archived = q.include_archived === 'true' || q.include_archived === true;
      const editedAfter = q['last_edit.time[gt]'];
      if (editedAfter !== undefined && (typeof editedAfter !== 'string' || !Number.isFinite(Date.parse(editedAfter)))) throw bad('last_edit.time[gt] must be an ISO-8601 time', 'last_edit.time[gt]');
      // Braze's default order is newest first; `asc` oldest first.
      const { rows } = await deps.db.query<{ id: string; name: string; updated_at: Date; delivery: string | null }>(
        `SELECT id, name, updated_at, definition->>'delivery' AS delivery FROM campaigns
          WHERE workspace_id = $1 AND coalesce(definition->>'api_messages', 'false') <> 'true'
            AND ($2 OR state <> 'archived') AND ($3::timestamptz IS NULL OR updated_at > $3)
          ORDER BY created_at ${sort === 'asc' ? 'ASC' : 'DESC'}, id LIMIT $4 OFFSET $5`,
        [key.workspace_id, archived, editedAfter ?? null, LIST_PAGE, page * LIST_PAGE],
      );
      return { message: 'success', campaigns: rows.map((r) => ({ id: r.id, last_edited: new Date(r.updated_at).toISOString(), name: r.name, is_api_campaign: r.delivery === 'api_campaign', tags: [] })) };
    });

    app.get('/campaigns/details', { config: { permission: 'campaigns.details' }, schema: { tags: ['messaging'], summary: 'A campaign in Braze\'s export shape', querystring: AnyQuery, response: { 200: Loose } } }, async (request) => {
      const key = requireKey(request);
      const id = (request.query as Record<string, unknown>).campaign_id;
      const c = typeof id === 'string' && UUID.test(id) ? await getCampaign(deps.db, key.workspace_id, id) : undefined;
      if (!c || (c.definition as { api_messages?: boolean }).api_messages) throw bad('Invalid Campaign ID', 'campaign_id');
      const schedules = await listCampaignSchedules(deps.db, key.workspace_id, c.id);
      const sent = await sentRange(deps.db, c.id);
      const messages: Record<string, unknown> = {};
      for (const v of c.definition.variants) {
        messages[v.id] = c.channel === 'email'
          ? { channel: 'email', name: v.name, subject: v.email?.subject, body: v.email?.html, from: c.definition.from ? `${c.definition.from.name ? `${c.definition.from.name} ` : ''}<${c.definition.from.address}>` : undefined, reply_to: c.definition.reply_to }
          : { channel: 'webhook', name: v.name, url: v.webhook?.url, request_method: v.webhook?.method, body: v.webhook?.body };
      }
      if (c.definition.control_percent > 0) messages.control = { channel: c.channel, type: 'control' };
      return {
        message: 'success',
        created_at: new Date(c.created_at).toISOString(),
        updated_at: new Date(c.updated_at).toISOString(),
        archived: c.state === 'archived',
        draft: c.state === 'draft',
        enabled: c.state === 'active',
        has_post_launch_draft: false,
        name: c.name,
        description: '',
        schedule_type: scheduleType(c, schedules.some((s) => s.recurrence !== null)),
        channels: [c.channel],
        first_sent: sent.first ? new Date(sent.first).toISOString() : null,
        last_sent: sent.last ? new Date(sent.last).toISOString() : null,
        tags: [],
        teams: [],
        messages,
        conversion_behaviors: [],
      };
    });

    app.post('/sends/id/create', { config: { permission: 'sends.id.create' }, schema: { tags: ['messaging'], summary: 'Register a send id for an API campaign', body: AnyBody, response: { 201: Loose } } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const campaignId = body.campaign_id;
      if (typeof campaignId !== 'string' || !UUID.test(campaignId)) throw bad('Invalid Campaign ID', 'campaign_id');
      const sendId = body.send_id ?? randomUUID();
      if (typeof sendId !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(sendId)) throw bad('send_id must be 1 to 64 ASCII characters', 'send_id');
      await deps.db.transaction(async (tx) => {
        const c = await getCampaign(tx, key.workspace_id, campaignId, true);
        if (!c || (c.definition as { api_messages?: boolean }).api_messages) throw bad('Invalid Campaign ID', 'campaign_id');
        const { rows: existing } = await tx.query(`SELECT 1 FROM campaign_send_ids WHERE workspace_id = $1 AND campaign_id = $2 AND send_id = $3`, [key.workspace_id, campaignId, sendId]);
        if (existing.length) return;
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rivulet-send-ids:' || $1::text))`, [key.workspace_id]);
        const dayStart = new Date(Math.floor(deps.now() / 86_400_000) * 86_400_000);
        const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM campaign_send_ids WHERE workspace_id = $1 AND created_at >= $2`, [key.workspace_id, dayStart]);
        if (rows[0]!.n >= SEND_IDS_PER_DAY) throw new ApiError(429, `At most ${SEND_IDS_PER_DAY} new send ids a workspace a UTC day`, [{ type: 'rate limited', path: 'send_id' }]);
        await tx.query(`INSERT INTO campaign_send_ids (workspace_id, campaign_id, send_id, created_at) VALUES ($1, $2, $3, $4)`, [key.workspace_id, campaignId, sendId, new Date(deps.now())]);
      });
      return reply.status(201).send({ message: 'success', send_id: sendId });
    });

    // Admin: schedule a launch-kind campaign once or every day, week or month (UTC).
    const admin = { permission: 'admin' as const };
    const tags = ['campaigns'];
    app.post('/admin/campaigns/:id/schedules', { config: admin, schema: { tags, summary: 'Schedule a campaign to send at a time, once or recurring', body: AnyBody, response: { 201: Loose } } }, async (request, reply) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      const { runAt, localWall } = checkSchedule(body, deps.now(), '');
      if (localWall !== undefined) throw bad("in_local_time is not supported for a campaign's audience yet (only /messages/schedule with named users)", 'in_local_time');
      const every = body.recurrence;
      if (every !== undefined && every !== 'day' && every !== 'week' && every !== 'month') throw bad('recurrence must be day, week or month', 'recurrence');
      let until: Date | undefined;
      if (body.until !== undefined) {
        const t = typeof body.until === 'string' ? Date.parse(body.until) : NaN;
        if (!Number.isFinite(t) || t <= runAt.getTime()) throw bad('until must be an ISO-8601 time after time', 'until');
        until = new Date(t);
      }
      const s = await deps.db.transaction(async (tx) => {
        const c = UUID.test(id) ? await getCampaign(tx, key.workspace_id, id, true) : undefined;
        if (!c) throw Errors.notFound(`Campaign ${id}`);
        if ((c.definition.delivery ?? 'launch') !== 'launch') throw bad('only a campaign sent to its audience (delivery "launch") can be scheduled', 'id');
        if (c.state === 'stopped' || c.state === 'archived') throw new ApiError(409, `Campaign ${id} is ${c.state}`, [{ type: `campaign is ${c.state}`, path: 'id' }]);
        // Scheduling switches the campaign on (a launch that waits); its runs send to the audience then.
        if (c.state === 'draft') await tx.query(`UPDATE campaigns SET state = 'active', updated_at = now() WHERE id = $1`, [c.id]);
        return insertSchedule(tx, { workspaceId: key.workspace_id, kind: 'launch', campaignId: c.id, runAt, ...(every ? { recurrence: every as Recurrence } : {}), ...(until ? { until } : {}) });
      });
      return reply.status(201).send({ schedule_id: s.id, dispatch_id: s.first_dispatch_id, run_at: new Date(s.run_at).toISOString(), recurrence: s.recurrence });
    });

    app.get('/admin/campaigns/:id/schedules', { config: admin, schema: { tags, summary: "A campaign's pending schedules", response: { 200: Loose } } }, async (request) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      if (!UUID.test(id) || !(await getCampaign(deps.db, key.workspace_id, id))) throw Errors.notFound(`Campaign ${id}`);
      const rows = await listCampaignSchedules(deps.db, key.workspace_id, id);
      return { schedules: rows.map((s) => ({ schedule_id: s.id, run_at: new Date(s.run_at).toISOString(), recurrence: s.recurrence, runs: s.runs })) };
    });

    app.delete('/admin/campaigns/:id/schedules/:scheduleId', { config: admin, schema: { tags, summary: 'Cancel a campaign schedule', response: { 200: Loose } } }, async (request) => {
      const key = requireKey(request);
      const { scheduleId } = request.params as { scheduleId: string };
      const ok = UUID.test(scheduleId) && (await deps.db.transaction((tx) => cancelSchedule(tx, key.workspace_id, scheduleId, 'launch')));
      if (!ok) throw Errors.notFound(`Schedule ${scheduleId}`);
      return { deleted: true };
    });
  };
}


