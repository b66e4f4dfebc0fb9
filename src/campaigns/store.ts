/** The campaigns capability's tables (migration 070): campaigns, dispatches, send rows, address flags. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';
import type { CampaignDefinition, CampaignInput, Channel } from './definition.js';

export type CampaignState = 'draft' | 'active' | 'paused' | 'stopped' | 'archived';

export interface Campaign {
  id: string;
  workspace_id: string;
  name: string;
  channel: Channel;
  state: CampaignState;
  definition: CampaignDefinition;
  created_at: Date;
  updated_at: Date;
}

/** What a `/campaigns/trigger/send` asked for: named recipients, or everyone (a broadcast). */
export interface DispatchTrigger {
  broadcast: boolean;
  trigger_properties: Record<string, unknown>;
  recipients?: Array<{ user_id: string; trigger_properties: Record<string, unknown> }>;
}

export interface Dispatch {
  id: string;
  workspace_id: string;
  campaign_id: string;
  definition: CampaignDefinition;
  trigger: DispatchTrigger | null;
  state: 'queued' | 'resolved';
  considered: number;
  created_at: Date;
}

export type SendState = 'queued' | 'sent' | 'delivered' | 'bounced' | 'soft_bounced' | 'aborted' | 'control' | 'skipped';

export interface SendRow {
  send_key: string;
  workspace_id: string;
  dispatch_id: string;
  campaign_id: string;
  user_id: string;
  variant_id: string;
  state: SendState;
  attempts: number;
  first_attempt_at: Date | null;
  delivered_at: Date | null;
  trigger_properties: Record<string, unknown> | null;
}

const CAMPAIGN_COLUMNS = 'id, workspace_id, name, channel, state, definition, created_at, updated_at';

export async function createCampaign(db: Queryable, workspaceId: string, input: CampaignInput): Promise<Campaign> {
  const { rows } = await db.query<Campaign>(
    `INSERT INTO campaigns (id, workspace_id, name, channel, definition) VALUES ($1, $2, $3, $4, $5) RETURNING ${CAMPAIGN_COLUMNS}`,
    [randomUUID(), workspaceId, input.name, input.channel, JSON.stringify(input.definition)],
  );
  return rows[0]!;
}

export async function updateCampaign(db: Queryable, workspaceId: string, id: string, input: CampaignInput): Promise<Campaign | undefined> {
  const { rows } = await db.query<Campaign>(
    `UPDATE campaigns SET name = $3, channel = $4, definition = $5, updated_at = now() WHERE workspace_id = $1 AND id = $2 RETURNING ${CAMPAIGN_COLUMNS}`,
    [workspaceId, id, input.name, input.channel, JSON.stringify(input.definition)],
  );
  return rows[0];
}

export async function getCampaign(db: Queryable, workspaceId: string, id: string, lock = false): Promise<Campaign | undefined> {
  const { rows } = await db.query<Campaign>(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [workspaceId, id]);
  return rows[0];
}

/** A page in creation order; `after` is the last id of the previous page. */
export async function listCampaigns(db: Queryable, workspaceId: string, limit: number, after?: string): Promise<Campaign[]> {
  const { rows } = await db.query<Campaign>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns
      WHERE workspace_id = $1 AND ($3::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM campaigns WHERE id = $3))
      ORDER BY created_at, id LIMIT $2`,
    [workspaceId, limit, after ?? null],
  );
  return rows;
}

export async function setCampaignState(db: Queryable, workspaceId: string, id: string, state: CampaignState): Promise<void> {
  await db.query(`UPDATE campaigns SET state = $3, updated_at = now() WHERE workspace_id = $1 AND id = $2`, [workspaceId, id, state]);
}

const DISPATCH_COLUMNS = 'id, workspace_id, campaign_id, definition, trigger, state, considered, created_at';

export async function insertDispatch(db: Queryable, campaign: Campaign, trigger?: DispatchTrigger, id: string = randomUUID()): Promise<Dispatch> {
  const { rows } = await db.query<Dispatch>(
    `INSERT INTO campaign_dispatches (id, workspace_id, campaign_id, definition, trigger) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${DISPATCH_COLUMNS}`,
    [id, campaign.workspace_id, campaign.id, JSON.stringify(campaign.definition), trigger ? JSON.stringify(trigger) : null],
  );
  return rows[0]!;
}

/** Claims one queued dispatch to resolve (a lease; another process takes it over if this one dies). */
export async function claimDispatch(db: Queryable, owner: string, leaseMs: number): Promise<Dispatch | undefined> {
  const { rows } = await db.query<Dispatch>(
    `UPDATE campaign_dispatches d SET resolve_owner = $1, resolve_lease_until = now() + make_interval(secs => $2::float8 / 1000)
      WHERE d.id = (SELECT id FROM campaign_dispatches
                     WHERE state = 'queued' AND (resolve_lease_until IS NULL OR resolve_lease_until < now())
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING ${DISPATCH_COLUMNS.split(', ').map((c) => `d.${c}`).join(', ')}`,
    [owner, leaseMs],
  );
  return rows[0];
}

export async function finishDispatch(db: Queryable, id: string, owner: string): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE campaign_dispatches SET state = 'resolved', resolve_owner = NULL, resolve_lease_until = NULL,
            considered = (SELECT count(*) FROM campaign_sends WHERE dispatch_id = $1)
      WHERE id = $1 AND resolve_owner = $2 RETURNING id`,
    [id, owner],
  );
  return rows.length === 1;
}

/** Gives a dispatch this owner was resolving back (at stop): another worker takes it up where it is. */
export async function releaseDispatch(db: Queryable, id: string, owner: string): Promise<void> {
  await db.query(`UPDATE campaign_dispatches SET resolve_owner = NULL, resolve_lease_until = NULL WHERE id = $1 AND resolve_owner = $2 AND state = 'queued'`, [id, owner]);
}

export interface NewSend {
  send_key: string;
  user_id: string;
  variant_id: string;
  state: 'queued' | 'control' | 'skipped';
  reason: string | null;
  trigger_properties?: Record<string, unknown> | null;
}

/** Writes send rows once: returns the keys written now (a repeat of the same rows writes none). */
export async function insertSends(db: Queryable, dispatch: Dispatch, sends: NewSend[]): Promise<Set<string>> {
  if (!sends.length) return new Set();
  const { rows } = await db.query<{ send_key: string }>(
    `INSERT INTO campaign_sends (send_key, workspace_id, dispatch_id, campaign_id, user_id, variant_id, state, reason, trigger_properties)
     SELECT s.send_key, $1, $2, $3, s.user_id, s.variant_id, s.state, s.reason, s.trigger_properties
       FROM jsonb_to_recordset($4::jsonb) AS s(send_key uuid, user_id uuid, variant_id text, state text, reason text, trigger_properties jsonb)
     ON CONFLICT (send_key) DO NOTHING
     RETURNING send_key`,
    [dispatch.workspace_id, dispatch.id, dispatch.campaign_id, JSON.stringify(sends)],
  );
  return new Set(rows.map((r) => r.send_key));
}

const SEND_COLUMNS = 'send_key, workspace_id, dispatch_id, campaign_id, user_id, variant_id, state, attempts, first_attempt_at, delivered_at, trigger_properties';

/** Claims due queued sends for this worker (leases; rows another worker holds are skipped). */
export async function claimSends(db: Queryable, owner: string, limit: number, leaseMs: number): Promise<SendRow[]> {
  const { rows } = await db.query<SendRow>(
    `UPDATE campaign_sends s SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::float8 / 1000)
      WHERE s.send_key IN (SELECT send_key FROM campaign_sends
                            WHERE state = 'queued' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
                              -- Pausing or stopping holds new sends; one already tried runs its course.
                              AND (attempts > 0 OR campaign_id IN (SELECT id FROM campaigns WHERE state = 'active'))
                            ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING ${SEND_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}`,
    [owner, limit, leaseMs],
  );
  return rows;
}

/** Extends the leases `owner` holds on `keys` (sends claimed and not yet finished by a live worker). */
export async function renewSendLeases(db: Queryable, owner: string, keys: string[], leaseMs: number): Promise<void> {
  await db.query(
    `UPDATE campaign_sends SET lease_until = now() + make_interval(secs => $3::float8 / 1000) WHERE send_key = ANY($2::uuid[]) AND lease_owner = $1 AND state = 'queued'`,
    [owner, keys, leaseMs],
  );
}

/** True while this owner still holds the send's lease (every write of an attempt is fenced by it). */
export async function holdsSend(db: Queryable, sendKey: string, owner: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM campaign_sends WHERE send_key = $1 AND lease_owner = $2 AND state = 'queued' FOR UPDATE`, [sendKey, owner]);
  return rows.length === 1;
}

export async function getSend(db: Queryable, workspaceId: string, sendKey: string): Promise<SendRow | undefined> {
  const { rows } = await db.query<SendRow>(`SELECT ${SEND_COLUMNS} FROM campaign_sends WHERE workspace_id = $1 AND send_key = $2`, [workspaceId, sendKey]);
  return rows[0];
}

export async function getDispatch(db: Queryable, id: string): Promise<Dispatch | undefined> {
  const { rows } = await db.query<Dispatch>(`SELECT ${DISPATCH_COLUMNS} FROM campaign_dispatches WHERE id = $1`, [id]);
  return rows[0];
}

export async function flagsOf(db: Queryable, workspaceId: string, emails: string[]): Promise<Map<string, { hard_bounced: boolean; spam_reported: boolean }>> {
  const out = new Map<string, { hard_bounced: boolean; spam_reported: boolean }>();
  if (!emails.length) return out;
  const { rows } = await db.query<{ email: string; hard_bounced: boolean; spam_reported: boolean }>(
    `SELECT email, hard_bounced_at IS NOT NULL AS hard_bounced, spam_reported_at IS NOT NULL AS spam_reported
       FROM email_address_flags WHERE workspace_id = $1 AND email = ANY($2::text[])`,
    [workspaceId, emails.map((e) => e.toLowerCase())],
  );
  for (const r of rows) out.set(r.email, { hard_bounced: r.hard_bounced, spam_reported: r.spam_reported });
  return out;
}

export async function flagHardBounce(db: Queryable, workspaceId: string, email: string): Promise<void> {
  await db.query(
    `INSERT INTO email_address_flags (workspace_id, email, hard_bounced_at) VALUES ($1, $2, now())
     ON CONFLICT (workspace_id, email) DO UPDATE SET hard_bounced_at = coalesce(email_address_flags.hard_bounced_at, now())`,
    [workspaceId, email.toLowerCase()],
  );
}

/** Per variant and state, and the unique opens, clicks and unsubscribes. */
export async function campaignStats(db: Queryable, workspaceId: string, campaignId: string): Promise<Array<{ variant_id: string; state: SendState; count: number; opened: number; clicked: number; unsubscribed: number }>> {
  const { rows } = await db.query<{ variant_id: string; state: SendState; count: number; opened: number; clicked: number; unsubscribed: number }>(
    `SELECT variant_id, state, count(*)::int AS count, count(opened_at)::int AS opened, count(clicked_at)::int AS clicked, count(unsubscribed_at)::int AS unsubscribed
       FROM campaign_sends WHERE workspace_id = $1 AND campaign_id = $2 GROUP BY variant_id, state ORDER BY variant_id, state`,
    [workspaceId, campaignId],
  );
  return rows;
}

/** Gives back the leases of sends this worker claimed but did not attempt (at stop). */
export async function releaseSends(db: Queryable, owner: string): Promise<void> {
  await db.query(`UPDATE campaign_sends SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND state = 'queued'`, [owner]);
}

/** A stopped campaign's sends not yet attempted end as skipped (`campaign_ended`). */
export async function endQueuedSends(db: Queryable, workspaceId: string, campaignId: string): Promise<number> {
  const { rows } = await db.query(
    `UPDATE campaign_sends SET state = 'skipped', reason = 'campaign_ended', lease_owner = NULL, lease_until = NULL
      WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'queued' AND attempts = 0 RETURNING send_key`,
    [workspaceId, campaignId],
  );
  return rows.length;
}

export async function markEngagement(db: Queryable, workspaceId: string, sendKey: string, column: 'opened_at' | 'clicked_at' | 'unsubscribed_at'): Promise<void> {
  await db.query(`UPDATE campaign_sends SET ${column} = coalesce(${column}, now()) WHERE workspace_id = $1 AND send_key = $2`, [workspaceId, sendKey]);
}

export async function getCampaignById(db: Queryable, id: string): Promise<Campaign | undefined> {
  const { rows } = await db.query<Campaign>(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1`, [id]);
  return rows[0];
}
