/**
 * `POST /messages/send` and `POST /messages/schedule/create|update|delete`
 * (docs/reference/messaging-api.md §2–3): API-only messages, email and webhook, to named users or a
 * segment. A 201 means every dispatch (or the schedule) is committed; a 400 creates nothing.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { findUsers, identifierKey } from '../../identity/index.js';
import { getSegment } from '../../segments/index.js';
import type { Queryable } from '../../storage/index.js';
import type { Db } from '../../storage/index.js';
import type { Channel } from '../definition.js';
import { getCampaign, insertDispatch, type Campaign, type DispatchTrigger } from '../store.js';
import { cancelSchedule, insertSchedule, getSchedule, updateSchedule, type PlannedDispatch } from '../schedules.js';
import { bad, checkMessagesBody, checkSchedule, isObj, type CheckedMessagesBody } from './message-body.js';

const AnyBody = { type: 'object', additionalProperties: true } as const;
const SendReply = {
  201: { type: 'object', properties: { message: { type: 'string' }, dispatch_id: { type: 'string' }, send_id: { type: 'string' }, schedule_id: { type: 'string' }, errors: { type: 'array' } }, additionalProperties: false },
} as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The workspace's hidden campaign for API messages sent without a campaign_id (one per channel). */
export async function implicitApiCampaign(tx: Queryable, workspaceId: string, channel: Channel): Promise<Campaign> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rivulet-api-messages:' || $1::text || ':' || $2::text))`, [workspaceId, channel]);
  const { rows } = await tx.query<{ id: string }>(`SELECT id FROM campaigns WHERE workspace_id = $1 AND channel = $2 AND definition->>'api_messages' = 'true' LIMIT 1`, [workspaceId, channel]);
  if (rows[0]) return (await getCampaign(tx, workspaceId, rows[0].id))!;
  const id = randomUUID();
  const definition = { delivery: 'api_campaign', api_messages: true, audience: { segment_id: '' }, variants: [], control_percent: 0, send_to: 'subscribed_or_opted_in' };
  await tx.query(`INSERT INTO campaigns (id, workspace_id, name, channel, state, definition) VALUES ($1, $2, $3, $4, 'active', $5)`, [id, workspaceId, `API messages (${channel})`, channel, JSON.stringify(definition)]);
  return (await getCampaign(tx, workspaceId, id))!;
}

/** Turns a checked body into the dispatches to write, checking what needs the database. */
export async function planDispatches(tx: Queryable, workspaceId: string, b: CheckedMessagesBody): Promise<{ planned: PlannedDispatch[]; errors: Array<{ type: string; path: string }> }> {
  if (b.segmentId && !(UUID.test(b.segmentId) && (await getSegment(tx, workspaceId, b.segmentId)))) throw bad(`Unknown segment: ${b.segmentId}`, 'segment_id', 'unknown segment');
  let campaign: Campaign | undefined;
  if (b.campaignId) {
    campaign = UUID.test(b.campaignId) ? await getCampaign(tx, workspaceId, b.campaignId) : undefined;
    if (!campaign || campaign.definition.delivery !== 'api_campaign' || (campaign.definition as { api_messages?: boolean }).api_messages) throw bad('Invalid Campaign ID', 'campaign_id');
    if (campaign.state !== 'active') throw bad(`Invalid Campaign ID: the campaign is ${campaign.state}; launch it to send`, 'campaign_id', 'Invalid Campaign ID');
    if (b.sendId) {
      const { rows } = await tx.query(`SELECT 1 FROM campaign_send_ids WHERE workspace_id = $1 AND campaign_id = $2 AND send_id = $3`, [workspaceId, campaign.id, b.sendId]);
      if (!rows.length) throw bad('send_id was not created for this campaign (POST /sends/id/create)', 'send_id');
    }
  }
  const found = await findUsers(tx, workspaceId, b.users.map((u) => u.id));
  const errors: Array<{ type: string; path: string }> = [];
  const recipients: NonNullable<DispatchTrigger['recipients']> = [];
  const seen = new Set<string>();
  for (const u of b.users) {
    const user = found.get(identifierKey(u.id));
    if (!user) errors.push({ type: 'user not found', path: u.path });
    else if (!seen.has(user.id)) {
      seen.add(user.id);
      recipients.push({ user_id: user.id, trigger_properties: {} });
    }
  }
  const trigger: DispatchTrigger = b.users.length ? { broadcast: false, trigger_properties: {}, recipients } : { broadcast: true, trigger_properties: {} };
  const planned: PlannedDispatch[] = [];
  for (const m of b.messages) {
    let target = campaign;
    let definition = m.definition;
    if (campaign) {
      const at = `messages.${m.channel}`;
      if (campaign.channel !== m.channel) throw bad('Mismatched Message Type', at);
      if (!m.variationId) throw bad('Message Variant Unspecified', `${at}.message_variation_id`);
      const variant = campaign.definition.variants.find((v) => v.id === m.variationId);
      if (!variant) throw bad('Invalid Message Variant', `${at}.message_variation_id`);
      definition = { ...definition, variants: definition.variants.map((v) => ({ ...v, name: variant.name })) };
    } else {
      target = await implicitApiCampaign(tx, workspaceId, m.channel);
      // Marks the dispatch too: its events carry campaign_id null (events.ts campaignRef).
      definition = { ...definition, api_messages: true } as typeof definition;
    }
    planned.push({ campaign_id: target!.id, definition, trigger });
  }
  return { planned, errors };
}

/** Writes planned dispatches; the first gets `firstId` if given. */
export async function writeDispatches(tx: Queryable, workspaceId: string, planned: PlannedDispatch[], firstId?: string): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, p] of planned.entries()) {
    const campaign = await getCampaign(tx, workspaceId, p.campaign_id);
    if (!campaign) continue;
    const d = await insertDispatch(tx, { ...campaign, definition: p.definition }, p.trigger, i === 0 && firstId ? firstId : randomUUID());
    ids.push(d.id);
  }
  return ids;
}

export function messagesRoutes(deps: { db: Db; wake(): void; now(): number }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    app.post('/messages/send', { config: { permission: 'messages.send', rateLimitName: 'messagingSends' }, schema: { tags: ['messaging'], summary: 'Send API-only email and webhook messages to named users or a segment', body: AnyBody, response: SendReply } }, async (request, reply) => {
      const key = requireKey(request);
      const checked = checkMessagesBody(request.body);
      const { ids, errors } = await deps.db.transaction(async (tx) => {
        const { planned, errors } = await planDispatches(tx, key.workspace_id, checked);
        return { ids: await writeDispatches(tx, key.workspace_id, planned), errors };
      });
      deps.wake();
      return reply.status(201).send({ message: 'success', dispatch_id: ids[0]!, ...(checked.sendId ? { send_id: checked.sendId } : {}), ...(errors.length ? { errors } : {}) });
    });

    app.post('/messages/schedule/create', { config: { permission: 'messages.schedule.create', rateLimitName: 'messagingSends' }, schema: { tags: ['messaging'], summary: 'Schedule API-only messages for a time in UTC', body: AnyBody, response: SendReply } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const { runAt, localWall } = checkSchedule(body.schedule, deps.now());
      const checked = checkMessagesBody(body);
      if (localWall !== undefined && !checked.users.length) throw bad('in_local_time needs named users (external_user_ids or user_aliases); a segment is sent at one UTC time', 'schedule.in_local_time');
      const out = await deps.db.transaction(async (tx) => {
        const { planned, errors } = await planDispatches(tx, key.workspace_id, checked);
        const local = localWall !== undefined ? { local: { wall: localWall, created: deps.now(), done: [] } } : {};
        const s = await insertSchedule(tx, { workspaceId: key.workspace_id, kind: 'messages', payload: { body: stripSchedule(body), dispatches: planned, ...local }, runAt });
        return { ...s, errors };
      });
      return reply.status(201).send({ message: 'success', dispatch_id: out.first_dispatch_id, schedule_id: out.id, ...(out.errors.length ? { errors: out.errors } : {}) });
    });

    app.post('/messages/schedule/update', { config: { permission: 'messages.schedule.update' }, schema: { tags: ['messaging'], summary: "Change a scheduled message's time or messages before it runs", body: AnyBody, response: SendReply } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const id = scheduleId(body);
      if (body.schedule === undefined && body.messages === undefined) throw bad('give a schedule and/or messages to change', 'schedule');
      const when = body.schedule !== undefined ? checkSchedule(body.schedule, deps.now()) : undefined;
      const runAt = when?.runAt;
      await deps.db.transaction(async (tx) => {
        const s = await getSchedule(tx, key.workspace_id, id, true);
        if (!s || s.kind !== 'messages' || s.state !== 'scheduled' || s.runs > 0) throw bad('Unknown schedule_id, or the schedule has started', 'schedule_id');
        let payload = s.payload!;
        if (body.messages !== undefined) {
          const merged = { ...(s.payload!.body as Record<string, unknown>), messages: body.messages };
          const { planned } = await planDispatches(tx, key.workspace_id, checkMessagesBody(merged));
          payload = { ...payload, body: merged, dispatches: planned };
        }
        if (when) {
          const { local: _old, ...rest } = payload;
          if (when.localWall !== undefined && !(payload.dispatches[0]?.trigger.recipients ?? []).length) throw bad('in_local_time needs named users (external_user_ids or user_aliases)', 'schedule.in_local_time');
          payload = { ...rest, ...(when.localWall !== undefined ? { local: { wall: when.localWall, created: deps.now(), done: [] } } : {}) };
        }
        await updateSchedule(tx, key.workspace_id, id, { ...(runAt ? { runAt } : {}), ...(payload ? { payload } : {}) });
      });
      return reply.status(201).send({ message: 'success' });
    });

    app.post('/messages/schedule/delete', { config: { permission: 'messages.schedule.delete' }, schema: { tags: ['messaging'], summary: 'Cancel a scheduled message before it runs', body: AnyBody, response: SendReply } }, async (request, reply) => {
      const key = requireKey(request);
      const id = scheduleId(request.body as Record<string, unknown>);
      const ok = await deps.db.transaction((tx) => cancelSchedule(tx, key.workspace_id, id, 'messages'));
      if (!ok) throw bad('Unknown schedule_id, or the schedule has started', 'schedule_id');
      return reply.status(201).send({ message: 'success' });
    });
  };
}

function scheduleId(body: unknown): string {
  const id = isObj(body) ? body.schedule_id : undefined;
  if (typeof id !== 'string' || !UUID.test(id)) throw bad('schedule_id is required', 'schedule_id');
  return id;
}

function stripSchedule(body: Record<string, unknown>): Record<string, unknown> {
  const { schedule: _s, ...rest } = body;
  return rest;
}
