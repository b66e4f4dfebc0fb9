/**
 * `POST /campaigns/trigger/schedule/create|update|delete` (docs/reference/messaging-api.md §3): an
 * API-triggered campaign's send at a later time. The trigger body is checked (and its recipients
 * resolved) when scheduled; the run uses the campaign's definition as it is then, and only if the
 * campaign is still active.
 */
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import type { Db } from '../../storage/index.js';
import { cancelSchedule, getSchedule, insertSchedule, updateSchedule } from '../schedules.js';
import { checkTriggerBody, planTrigger } from '../trigger-route.js';
import { bad, checkSchedule, isObj } from './message-body.js';

const AnyBody = { type: 'object', additionalProperties: true } as const;
const Reply = {
  201: { type: 'object', properties: { message: { type: 'string' }, dispatch_id: { type: 'string' }, schedule_id: { type: 'string' }, errors: { type: 'array' } }, additionalProperties: false },
} as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function ids(body: unknown): { campaignId: string; scheduleId: string } {
  const b = isObj(body) ? body : {};
  if (typeof b.campaign_id !== 'string' || !UUID.test(b.campaign_id)) throw bad('Invalid Campaign ID', 'campaign_id');
  if (typeof b.schedule_id !== 'string' || !UUID.test(b.schedule_id)) throw bad('schedule_id is required', 'schedule_id');
  return { campaignId: b.campaign_id, scheduleId: b.schedule_id };
}

export function triggerScheduleRoutes(deps: { db: Db; now(): number }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    app.post('/campaigns/trigger/schedule/create', { config: { permission: 'campaigns.trigger.schedule.create', rateLimitName: 'messagingSends' }, schema: { tags: ['messaging'], summary: 'Schedule an API-triggered campaign send', body: AnyBody, response: Reply } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const { runAt, localWall } = checkSchedule(body.schedule, deps.now());
      if (localWall !== undefined) throw bad('in_local_time is not supported for trigger schedules yet', 'schedule.in_local_time');
      const checked = checkTriggerBody(body);
      const out = await deps.db.transaction(async (tx) => {
        const { campaign, trigger, errors } = await planTrigger(tx, key.workspace_id, checked);
        const s = await insertSchedule(tx, { workspaceId: key.workspace_id, kind: 'messages', campaignId: campaign.id, payload: { body: {}, trigger_campaign: true, dispatches: [{ campaign_id: campaign.id, definition: campaign.definition, trigger }] }, runAt });
        return { ...s, errors };
      });
      return reply.status(201).send({ message: 'success', dispatch_id: out.first_dispatch_id, schedule_id: out.id, ...(out.errors.length ? { errors: out.errors } : {}) });
    });

    app.post('/campaigns/trigger/schedule/update', { config: { permission: 'campaigns.trigger.schedule.update' }, schema: { tags: ['messaging'], summary: "Move an API-triggered campaign's scheduled send", body: AnyBody, response: Reply } }, async (request, reply) => {
      const key = requireKey(request);
      const { campaignId, scheduleId } = ids(request.body);
      const { runAt, localWall } = checkSchedule((request.body as Record<string, unknown>).schedule, deps.now());
      if (localWall !== undefined) throw bad('in_local_time is not supported for trigger schedules yet', 'schedule.in_local_time');
      await deps.db.transaction(async (tx) => {
        const s = await getSchedule(tx, key.workspace_id, scheduleId, true);
        if (!s || s.campaign_id !== campaignId || !s.payload?.trigger_campaign || s.state !== 'scheduled' || s.runs > 0) throw bad('Unknown schedule_id, or the schedule has started', 'schedule_id');
        await updateSchedule(tx, key.workspace_id, scheduleId, { runAt });
      });
      return reply.status(201).send({ message: 'success' });
    });

    app.post('/campaigns/trigger/schedule/delete', { config: { permission: 'campaigns.trigger.schedule.delete' }, schema: { tags: ['messaging'], summary: "Cancel an API-triggered campaign's scheduled send", body: AnyBody, response: Reply } }, async (request, reply) => {
      const key = requireKey(request);
      const { campaignId, scheduleId } = ids(request.body);
      const ok = await deps.db.transaction(async (tx) => {
        const s = await getSchedule(tx, key.workspace_id, scheduleId, true);
        return !!s && s.campaign_id === campaignId && !!s.payload?.trigger_campaign && (await cancelSchedule(tx, key.workspace_id, scheduleId, 'messages'));
      });
      if (!ok) throw bad('Unknown schedule_id, or the schedule has started', 'schedule_id');
      return reply.status(201).send({ message: 'success' });
    });
  };
}
