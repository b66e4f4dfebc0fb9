/**
 * Subscription states and email lists (docs/reference/messaging-api.md §5): `/subscription/status/set|get`,
 * `/email/status`, `/email/hard_bounces`, `/email/unsubscribes`, `/email/bounce/remove`,
 * `/email/spam/remove`. Every state change appends its Currents event in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { appendEvents, type LogEvent } from '../../events/index.js';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { clearEmailFlag, datedEmails, groupStates, setEmailStateByAddress, setGroupState, userIdsByEmails, usersByExternalIds, usersByIds } from '../../identity/index.js';
import type { Db } from '../../storage/index.js';
import { bad } from './message-body.js';

export const MAX_ADDRESSES = 50;
export const MAX_LIST_LIMIT = 500;
const AnyBody = { type: 'object', additionalProperties: true } as const;
const AnyQuery = { type: 'object', additionalProperties: true } as const;
const Success = { type: 'object', properties: { message: { type: 'string' } }, additionalProperties: false } as const;
const STATUS_NAMES: Record<string, string> = { subscribed: 'Subscribed', unsubscribed: 'Unsubscribed', opted_in: 'Opted In' };
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A body or query value that may be one string or an array of them (`k=v&k=v`, `k[]=v`), ≤ 50. */
export function stringList(source: Record<string, unknown>, name: string, required: boolean): string[] {
  const raw = source[name] ?? source[`${name}[]`];
  if (raw === undefined) {
    if (required) throw bad(`${name} is required`, name);
    return [];
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_ADDRESSES) throw bad(`${name} holds more than ${MAX_ADDRESSES} values`, name);
  list.forEach((v, i) => {
    if (typeof v !== 'string' || !v || v.length > 512) throw bad(`${name}[${i}] must be a non-empty string`, `${name}[${i}]`);
  });
  return list as string[];
}

function userBlock(u: { id: string; external_id: string | null; time_zone: string | null }): LogEvent['user'] {
  return { user_id: u.id, ...(u.external_id ? { external_user_id: u.external_id } : {}), ...(u.time_zone ? { timezone: u.time_zone } : {}) };
}

function day(q: Record<string, unknown>, name: string): Date | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !DATE.test(v) || !Number.isFinite(Date.parse(`${v}T00:00:00Z`))) throw bad(`${name} must be a date YYYY-MM-DD`, name);
  return new Date(`${v}T00:00:00Z`);
}

function intParam(q: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const v = q[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`${name} must be an integer from ${min} to ${max}`, name);
  return n;
}

export function emailRoutes(deps: { db: Db; now(): number }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    app.post('/email/status', { config: { permission: 'email.status' }, schema: { tags: ['messaging'], summary: 'Set the global email subscription state of every holder of the addresses', body: AnyBody, response: { 201: Success } } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const emails = stringList(body, 'email', true);
      const state = body.subscription_state;
      if (state !== 'subscribed' && state !== 'unsubscribed' && state !== 'opted_in') throw bad('subscription_state must be subscribed, unsubscribed or opted_in', 'subscription_state');
      await deps.db.transaction(async (tx) => {
        const events: LogEvent[] = [];
        for (const email of emails) {
          for (const u of await setEmailStateByAddress(tx, key.workspace_id, email, state)) {
            if (u.before === state) continue;
            events.push({
              event_type: 'users.behaviors.subscription.GlobalStateChange',
              id: randomUUID(),
              time: Math.floor(deps.now() / 1000),
              user: userBlock(u),
              properties: { app_group_id: key.workspace_id, channel: 'email', subscription_status: STATUS_NAMES[state]!, state_change_source: 'REST API', email_address: email },
            });
          }
        }
        await appendEvents(tx, key.workspace_id, events);
      });
      return reply.status(201).send({ message: 'success' });
    });

    for (const [path, table, field, permission] of [
      ['/email/hard_bounces', 'hard_bounces', 'hard_bounced_at', 'email.hard_bounces'],
      ['/email/unsubscribes', 'email_unsubscribes', 'unsubscribed_at', 'email.unsubscribe'],
    ] as const) {
      const Reply = { type: 'object', properties: { message: { type: 'string' }, emails: { type: 'array', items: { type: 'object', properties: { email: { type: 'string' }, [field]: { type: 'string' } } } } } } as const;
      app.get(path, { config: { permission }, schema: { tags: ['messaging'], summary: `Addresses by ${field}, newest first`, querystring: AnyQuery, response: { 200: Reply } } }, async (request) => {
        const key = requireKey(request);
        const q = request.query as Record<string, unknown>;
        const email = q.email === undefined ? undefined : stringList(q, 'email', false)[0];
        const start = day(q, 'start_date');
        const end = day(q, 'end_date');
        if (!email && !start) throw bad('give start_date (and end_date) or email', 'start_date');
        if (!email && !end) throw bad('end_date is required with start_date', 'end_date');
        const sort = q.sort_direction ?? 'desc';
        if (sort !== 'asc' && sort !== 'desc') throw bad('sort_direction must be asc or desc', 'sort_direction');
        const rows = await datedEmails(deps.db, table, key.workspace_id, {
          ...(email ? { email } : {}),
          ...(start ? { start } : {}),
          ...(end ? { end } : {}),
          limit: intParam(q, 'limit', 100, 1, MAX_LIST_LIMIT),
          offset: intParam(q, 'offset', 0, 0, 1_000_000),
          asc: path === '/email/unsubscribes' && sort === 'asc',
        });
        return { emails: rows.map((r) => ({ email: r.email, [field]: new Date(r.at).toISOString() })), message: 'success' };
      });
    }

    for (const [path, flag, permission] of [
      ['/email/bounce/remove', 'hard_bounced_at', 'email.bounce.remove'],
      ['/email/spam/remove', 'spam_reported_at', 'email.spam.remove'],
    ] as const) {
      app.post(path, { config: { permission }, schema: { tags: ['messaging'], summary: `Clear the addresses' ${flag === 'hard_bounced_at' ? 'hard-bounce' : 'spam'} flag`, body: AnyBody, response: { 201: Success } } }, async (request, reply) => {
        const key = requireKey(request);
        const emails = stringList(request.body as Record<string, unknown>, 'email', true);
        await deps.db.transaction(async (tx) => {
          for (const e of emails) await clearEmailFlag(tx, key.workspace_id, e, flag);
        });
        return reply.status(201).send({ message: 'success' });
      });
    }

    app.post('/subscription/status/set', { config: { permission: 'subscription.status.set', rateLimitName: 'subscriptionSet' }, schema: { tags: ['messaging'], summary: "Set users' state in a subscription group", body: AnyBody, response: { 201: Success } } }, async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as Record<string, unknown>;
      const group = body.subscription_group_id;
      if (typeof group !== 'string' || !group || group.length > 128) throw bad('subscription_group_id is required', 'subscription_group_id');
      const state = body.subscription_state;
      if (state !== 'subscribed' && state !== 'unsubscribed') throw bad('subscription_state must be subscribed or unsubscribed', 'subscription_state');
      if (body.phone !== undefined) {
        if (body.email !== undefined) throw bad('Either an email address or a phone number should be provided, but not both.', 'phone');
        throw bad('phone numbers are not supported: this workspace has no SMS channel', 'phone');
      }
      const externalIds = stringList(body, 'external_id', false);
      const emails = stringList(body, 'email', false);
      if (!externalIds.length && !emails.length) throw bad('external_id or email is required', 'external_id');
      await deps.db.transaction(async (tx) => {
        const ids = new Set((await usersByExternalIds(tx, key.workspace_id, externalIds)).map((u) => u.id));
        for (const list of (await userIdsByEmails(tx, key.workspace_id, emails)).values()) for (const id of list) ids.add(id);
        const changed = await setGroupState(tx, key.workspace_id, group, [...ids], state);
        const users = await usersByIds(tx, key.workspace_id, changed);
        await appendEvents(
          tx,
          key.workspace_id,
          users.map((u) => ({
            event_type: 'users.behaviors.subscriptiongroup.StateChange',
            id: randomUUID(),
            time: Math.floor(deps.now() / 1000),
            user: userBlock(u),
            properties: { app_group_id: key.workspace_id, subscription_group_id: group, subscription_status: state === 'subscribed' ? 'Subscribed' : 'Unsubscribed', channel: 'email', state_change_source: 'REST API', ...(u.email ? { email_address: u.email } : {}) },
          })),
        );
      });
      return reply.status(201).send({ message: 'success' });
    });

    const StatusReply = { type: 'object', properties: { status: { type: 'object', additionalProperties: { type: 'string' } }, message: { type: 'string' } } } as const;
    app.get('/subscription/status/get', { config: { permission: 'subscription.status.get' }, schema: { tags: ['messaging'], summary: "Users' state in a subscription group", querystring: AnyQuery, response: { 200: StatusReply } } }, async (request) => {
      const key = requireKey(request);
      const q = request.query as Record<string, unknown>;
      const group = q.subscription_group_id;
      if (typeof group !== 'string' || !group) throw bad('subscription_group_id is required', 'subscription_group_id');
      const externalIds = stringList(q, 'external_id', false);
      const emails = externalIds.length ? [] : stringList(q, 'email', false);
      if (!externalIds.length && q.phone !== undefined) {
        if (q.email !== undefined) throw bad('Either an email address or a phone number should be provided, but not both.', 'phone');
        throw bad('phone numbers are not supported: this workspace has no SMS channel', 'phone');
      }
      if (!externalIds.length && !emails.length) throw bad('external_id or email is required', 'external_id');
      const status: Record<string, string> = {};
      const name = (s: string | undefined) => (s === 'subscribed' ? 'Subscribed' : s === 'unsubscribed' ? 'Unsubscribed' : 'Unknown');
      if (externalIds.length) {
        const users = await usersByExternalIds(deps.db, key.workspace_id, externalIds);
        const states = await groupStates(deps.db, key.workspace_id, group, users.map((u) => u.id));
        // A global email unsubscribe shows as Unsubscribed in every group (the group's own state is kept).
        const byExt = new Map(users.map((u) => [u.external_id, u.email_subscribe === 'unsubscribed' ? 'unsubscribed' : states.get(u.id)]));
        for (const e of externalIds) status[e] = name(byExt.get(e));
      } else {
        const holders = await userIdsByEmails(deps.db, key.workspace_id, emails);
        const ids = [...holders.values()].flat();
        const states = await groupStates(deps.db, key.workspace_id, group, ids);
        const globallyOut = new Set((await usersByIds(deps.db, key.workspace_id, ids)).filter((u) => u.email_subscribe === 'unsubscribed').map((u) => u.id));
        for (const e of emails) {
          const s = (holders.get(e.toLowerCase()) ?? []).map((id) => (globallyOut.has(id) ? 'unsubscribed' : states.get(id)));
          status[e] = name(s.includes('subscribed') ? 'subscribed' : s.includes('unsubscribed') ? 'unsubscribed' : undefined);
        }
      }
      return { status, message: 'success' };
    });
  };
}

