/**
 * `POST /campaigns/trigger/send` (docs/reference/campaigns.md §7), Braze's API-triggered campaign
 * send: named recipients (≤ 50) or a broadcast to the campaign's audience, with trigger properties
 * the templates read as `api_trigger_properties`. A 201 means the dispatch is committed; sending
 * follows. A 400 sends nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../http/index.js';
import { requireKey } from '../http/index.js';
import { ApiError } from '../http/index.js';
import { findUsers, identifierKey, type Identifier } from '../identity/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { getCampaign, insertDispatch, type Campaign, type DispatchTrigger } from './store.js';
import { TriggerSent } from './contract.js';

export const MAX_RECIPIENTS = 50;
export const MAX_PROPERTIES_BYTES = 50 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (message: string, path: string, type = message) => new ApiError(400, message, [{ type, path }]);

function properties(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw bad(`${path} must be an object`, path);
  if (Buffer.byteLength(JSON.stringify(v)) > MAX_PROPERTIES_BYTES) throw bad(`${path} is larger than ${MAX_PROPERTIES_BYTES} bytes`, path);
  return v;
}

function identifierOf(r: Obj, path: string): Identifier {
  const given = ['external_user_id', 'user_alias', 'braze_id', 'email'].filter((k) => r[k] !== undefined);
  if (given.length !== 1) throw bad(`${path} must name the user by exactly one of external_user_id, user_alias, braze_id, email`, path);
  const text = (k: string) => {
    if (typeof r[k] !== 'string' || (r[k] as string).length === 0 || (r[k] as string).length > 512) throw bad(`${path}.${k} must be a non-empty string`, `${path}.${k}`);
    return r[k] as string;
  };
  switch (given[0]) {
    case 'external_user_id':
      return { kind: 'external_id', externalId: text('external_user_id') };
    case 'braze_id':
      return { kind: 'braze_id', userId: text('braze_id') };
    case 'email':
      return { kind: 'email', email: text('email') };
    default: {
      const a = r.user_alias;
      if (!isObj(a) || typeof a.alias_name !== 'string' || typeof a.alias_label !== 'string') throw bad(`${path}.user_alias needs alias_name and alias_label`, `${path}.user_alias`);
      return { kind: 'user_alias', alias: { alias_name: a.alias_name, alias_label: a.alias_label } };
    }
  }
}

export interface CheckedTrigger {
  campaignId: string;
  broadcast: boolean;
  top: Obj;
  wanted: Array<{ id: Identifier; props: Obj; path: string }>;
}

/** Checks a trigger body (pure); every problem is a 400 naming its field. */
export function checkTriggerBody(body: Obj): CheckedTrigger {
  if (typeof body.campaign_id !== 'string' || body.campaign_id.length === 0) throw bad('campaign_id is required', 'campaign_id', 'Invalid Campaign ID');
  if (Array.isArray(body.attachments) && body.attachments.length > 0) throw bad('attachments are not supported', 'attachments');
  if (body.audience !== undefined) throw bad('audience (Connected Audience) is not supported yet: name recipients, or broadcast to the campaign\'s segment', 'audience');
  if (body.send_id !== undefined) throw bad('send_id is not supported yet', 'send_id');
  const broadcast = body.broadcast === true;
  const raw = body.recipients;
  if (raw !== undefined && !Array.isArray(raw)) throw bad('recipients must be an array', 'recipients');
  if (broadcast && raw !== undefined) throw bad('broadcast cannot be combined with recipients', 'broadcast');
  if (!broadcast && (!raw || raw.length === 0)) throw bad('No Recipients', 'recipients');
  if (raw && raw.length > MAX_RECIPIENTS) throw bad('The max number of external_ids and aliases per request was exceeded', 'recipients');
  const top = properties(body.trigger_properties, 'trigger_properties');

  const wanted = (raw ?? []).map((r: unknown, i: number) => {
    const path = `recipients[${i}]`;
    if (!isObj(r)) throw bad(`${path} must be an object`, path);
    if (r.send_to_existing_only === false || r.attributes !== undefined) throw bad(`${path}: creating users from a send (send_to_existing_only: false, attributes) is not supported yet`, path);
    return { id: identifierOf(r, path), props: properties(r.trigger_properties, `${path}.trigger_properties`), path };
  });
  return { campaignId: body.campaign_id, broadcast, top, wanted };
}

/** The campaign (locked, active, API-triggered) and the dispatch's trigger; users not found are non-fatal errors. */
export async function planTrigger(tx: Queryable, workspaceId: string, c: CheckedTrigger): Promise<{ campaign: Campaign; trigger: DispatchTrigger; errors: Array<{ type: string; path: string }> }> {
  const campaign = /^[0-9a-f-]{36}$/i.test(c.campaignId) ? await getCampaign(tx, workspaceId, c.campaignId, true) : undefined;
  if (!campaign || (campaign.definition.delivery ?? 'launch') !== 'api_triggered') throw bad('Invalid Campaign ID', 'campaign_id');
  if (campaign.state !== 'active') throw bad(`Invalid Campaign ID: the campaign is ${campaign.state}; launch it to take triggers`, 'campaign_id', 'Invalid Campaign ID');
  const found = await findUsers(tx, workspaceId, c.wanted.map((w) => w.id));
  const errors: Array<{ type: string; path: string }> = [];
  const recipients: NonNullable<DispatchTrigger['recipients']> = [];
  const seen = new Set<string>();
  for (const w of c.wanted) {
    const user = found.get(identifierKey(w.id));
    if (!user) errors.push({ type: 'user not found', path: w.path });
    else if (!seen.has(user.id)) {
      // A user named twice gets one message; the first object wins.
      seen.add(user.id);
      recipients.push({ user_id: user.id, trigger_properties: w.props });
    }
  }
  return { campaign, trigger: { broadcast: c.broadcast, trigger_properties: c.top, ...(c.broadcast ? {} : { recipients }) }, errors };
}

export function triggerSendRoute(deps: { db: Db; wake(): void }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    app.post(
      '/campaigns/trigger/send',
      {
        config: { permission: 'campaigns.trigger.send', rateLimitName: 'messagingSends' },
        schema: { tags: ['messaging'], summary: 'Send an API-triggered campaign to named recipients or its whole audience', response: { 201: TriggerSent }, body: { type: 'object', additionalProperties: true } },
      },
      async (request, reply) => {
        const key = requireKey(request);
        const checked = checkTriggerBody(request.body as Obj);
        const { dispatchId, errors } = await deps.db.transaction(async (tx) => {
          const { campaign, trigger, errors } = await planTrigger(tx, key.workspace_id, checked);
          const dispatch = await insertDispatch(tx, campaign, trigger);
          return { dispatchId: dispatch.id, errors };
        });
        deps.wake();
        return reply.status(201).send({ message: 'success', dispatch_id: dispatchId, ...(errors.length ? { errors } : {}) });
      },
    );
  };
}
