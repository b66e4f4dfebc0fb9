/** Read-only queries behind the dashboard's campaign pages: results per variant, progress per dispatch, one user's messages. */
import type { Queryable } from '../storage/index.js';
import type { Campaign, SendState } from './store.js';

export interface OverviewRow {
  campaign_id: string;
  variant_id: string;
  state: SendState;
  count: number;
  opened: number;
  clicked: number;
  unsubscribed: number;
}

/** The newest `limit` campaigns and their send rows grouped by variant and state. */
export async function campaignOverview(db: Queryable, workspaceId: string, limit: number): Promise<{ campaigns: Campaign[]; rows: OverviewRow[] }> {
  const { rows: campaigns } = await db.query<Campaign>(
    `SELECT id, workspace_id, name, channel, state, definition, created_at, updated_at FROM campaigns
      WHERE workspace_id = $1 AND state <> 'archived' ORDER BY created_at DESC, id LIMIT $2`,
    [workspaceId, limit],
  );
  if (!campaigns.length) return { campaigns, rows: [] };
  const { rows } = await db.query<OverviewRow>(
    `SELECT campaign_id, variant_id, state, count(*)::int AS count, count(opened_at)::int AS opened, count(clicked_at)::int AS clicked, count(unsubscribed_at)::int AS unsubscribed
       FROM campaign_sends WHERE workspace_id = $1 AND campaign_id = ANY($2::uuid[]) GROUP BY campaign_id, variant_id, state`,
    [workspaceId, campaigns.map((c) => c.id)],
  );
  return { campaigns, rows };
}

export interface DispatchProgress {
  dispatch_id: string;
  created_at: Date;
  state: 'resolving' | 'resolved';
  total: number;
  queued: number;
  sent: number;
  failed: number;
  aborted: number;
  skipped: number;
  control: number;
}

/** Per dispatch (newest first): sent counts delivered emails and sent webhooks; failed counts bounces. */
export async function dispatchProgress(db: Queryable, workspaceId: string, campaignId: string, limit = 50): Promise<DispatchProgress[]> {
  const { rows } = await db.query<DispatchProgress>(
    `SELECT d.id AS dispatch_id, d.created_at, CASE WHEN d.state = 'queued' THEN 'resolving' ELSE 'resolved' END AS state,
            coalesce(s.total, 0)::int AS total, coalesce(s.queued, 0)::int AS queued, coalesce(s.sent, 0)::int AS sent,
            coalesce(s.failed, 0)::int AS failed, coalesce(s.aborted, 0)::int AS aborted, coalesce(s.skipped, 0)::int AS skipped, coalesce(s.control, 0)::int AS control
       FROM campaign_dispatches d
       LEFT JOIN LATERAL (
         SELECT count(*) AS total,
                count(*) FILTER (WHERE state = 'queued') AS queued,
                count(*) FILTER (WHERE state IN ('sent', 'delivered')) AS sent,
                count(*) FILTER (WHERE state IN ('bounced', 'soft_bounced')) AS failed,
                count(*) FILTER (WHERE state = 'aborted') AS aborted,
                count(*) FILTER (WHERE state = 'skipped') AS skipped,
                count(*) FILTER (WHERE state = 'control') AS control
           FROM campaign_sends WHERE dispatch_id = d.id) s ON true
      WHERE d.workspace_id = $1 AND d.campaign_id = $2
      ORDER BY d.created_at DESC LIMIT $3`,
    [workspaceId, campaignId, limit],
  );
  return rows;
}

export interface UserMessage {
  send_id: string;
  campaign_id: string;
  campaign_name: string;
  channel: string;
  variant_id: string;
  dispatch_id: string;
  state: string;
  reason: string | null;
  created_at: Date;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  unsubscribed_at: Date | null;
}

export async function messagesOfUser(db: Queryable, workspaceId: string, userId: string, limit: number): Promise<UserMessage[]> {
  const { rows } = await db.query<UserMessage>(
    `SELECT s.send_key AS send_id, s.campaign_id, c.name AS campaign_name, c.channel, s.variant_id, s.dispatch_id, s.state, s.reason,
            s.created_at, s.delivered_at, s.opened_at, s.clicked_at, s.unsubscribed_at
       FROM campaign_sends s JOIN campaigns c ON c.id = s.campaign_id
      WHERE s.workspace_id = $1 AND s.user_id = $2
      ORDER BY s.created_at DESC LIMIT $3`,
    [workspaceId, userId, limit],
  );
  return rows;
}
