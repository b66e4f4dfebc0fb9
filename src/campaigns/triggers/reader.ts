/**
 * The trigger reader (docs/reference/campaigns.md, "Action-based delivery"): a leased reader of the
 * event log (its cursor in `campaign_log_readers`, like the conversion reader and the Currents
 * exporter) — the track route knows nothing of campaigns. Each matching event of an active
 * action-based campaign becomes one `campaign_trigger_occurrences` row, keyed by (campaign, user,
 * event), committed with the cursor's move under the lease: exactly once. A second pass turns due
 * occurrences into one-recipient dispatches (claimed with FOR UPDATE SKIP LOCKED, so several
 * processes share them), which the send pipeline resolves against the audience like any other.
 */
import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '../../events/index.js';
import { advanceLogReader, releaseLogReader } from '../log-reader.js';
import { Ticker } from '../../leases/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import type { CampaignDefinition } from '../definition.js';
import { insertDispatch, type Campaign } from '../store.js';
import { TRIGGER_EVENT_TYPES, triggerDue, type CampaignTrigger } from './rules.js';

const READER = 'triggers';
const TRIGGER_TYPES = new Set(Object.values(TRIGGER_EVENT_TYPES));

export interface TriggerReaderOptions {
  pollMs: number;
  leaseMs: number;
  pageSize: number;
  now(): number;
}

async function activeTriggered(db: Queryable, workspaces: string[]): Promise<Map<string, Array<{ id: string; trigger: CampaignTrigger }>>> {
  const { rows } = await db.query<{ id: string; workspace_id: string; definition: CampaignDefinition }>(
    `SELECT id, workspace_id, definition FROM campaigns WHERE workspace_id = ANY($1::uuid[]) AND state = 'active' AND definition->>'delivery' = 'action_based'`,
    [workspaces],
  );
  const out = new Map<string, Array<{ id: string; trigger: CampaignTrigger }>>();
  for (const r of rows) {
    if (!r.definition.trigger) continue;
    const list = out.get(r.workspace_id) ?? [];
    list.push({ id: r.id, trigger: r.definition.trigger });
    out.set(r.workspace_id, list);
  }
  return out;
}

/** Whether an action-based campaign is live (else a page is scanned past unread). */
async function anyActionBased(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ live: boolean }>(`SELECT EXISTS (SELECT 1 FROM campaigns WHERE state = 'active' AND definition->>'delivery' = 'action_based') AS live`);
  return rows[0]?.live === true;
}

/** Reads one page of the log into occurrences; true if it moved. */
export async function readTriggerPage(db: Db, owner: string, opts: TriggerReaderOptions): Promise<boolean> {
  const prepare = async (events: StoredEvent[]) => {
    const candidates = events.filter((e) => TRIGGER_TYPES.has(e.event_type) && typeof e.user?.user_id === 'string' && /^[0-9a-f-]{36}$/i.test(e.user.user_id));
    const campaigns = candidates.length ? await activeTriggered(db, [...new Set(candidates.map((e) => e.workspace_id))]) : new Map();
    const nowS = opts.now() / 1000;
    const found: Array<{ campaignId: string; event: StoredEvent; due: number }> = [];
    for (const e of candidates) {
      for (const c of campaigns.get(e.workspace_id) ?? []) {
        const due = triggerDue(c.trigger, e, nowS);
        if (due !== undefined) found.push({ campaignId: c.id, event: e, due });
      }
    }
    return found;
  };
  return advanceLogReader(db, READER, owner, opts, prepare, async (tx, found) => {
    for (const f of found) {
      const p = f.event.properties;
      const props = (f.event.event_type === TRIGGER_EVENT_TYPES.custom_event ? p.custom_properties : f.event.event_type === TRIGGER_EVENT_TYPES.purchase ? { product_id: p.product_id, price: p.price, currency: p.currency, ...(p.purchase_properties as object | undefined) } : {}) ?? {};
      await tx.query(
        `INSERT INTO campaign_trigger_occurrences (campaign_id, user_id, event_id, workspace_id, due_at, properties)
         VALUES ($1, $2, $3, $4, to_timestamp($5::float8), $6) ON CONFLICT DO NOTHING`,
        [f.campaignId, f.event.user.user_id, f.event.id, f.event.workspace_id, f.due, JSON.stringify(props)],
      );
    }
  }, () => anyActionBased(db));
}

/**
 * Turns due occurrences into dispatches (a batch at a time); answers how many dispatches it made.
 * Re-eligibility: a user who received (or was enrolled in control of) the campaign is skipped —
 * forever, or until `reeligible_after_seconds` after that receipt. Not receiving keeps eligibility.
 */
export async function dispatchDueOccurrences(db: Db, limit: number): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ campaign_id: string; user_id: string; event_id: string; properties: Record<string, unknown> }>(
      `SELECT campaign_id, user_id, event_id, properties FROM campaign_trigger_occurrences
        WHERE state = 'pending' AND due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    let made = 0;
    const set = (o: { campaign_id: string; user_id: string; event_id: string }, state: string, dispatchId: string | null = null) =>
      tx.query(`UPDATE campaign_trigger_occurrences SET state = $4, dispatch_id = $5 WHERE campaign_id = $1 AND user_id = $2 AND event_id = $3`, [o.campaign_id, o.user_id, o.event_id, state, dispatchId]);
    for (const o of rows) {
      const { rows: cs } = await tx.query<Campaign>(`SELECT id, workspace_id, name, channel, state, definition, created_at, updated_at FROM campaigns WHERE id = $1`, [o.campaign_id]);
      const c = cs[0];
      const trigger = c?.definition.trigger;
      if (!c || c.state !== 'active' || !trigger) {
        await set(o, 'expired');
        continue;
      }
      const again = trigger.reeligible_after_seconds;
      const { rows: received } = await tx.query(
        `SELECT 1 FROM campaign_sends WHERE workspace_id = $1 AND user_id = $2 AND campaign_id = $3
            AND state IN ('queued', 'sent', 'delivered', 'bounced', 'soft_bounced', 'control')
            AND ($4::float8 IS NULL OR coalesce(delivered_at, created_at) > now() - make_interval(secs => $4::float8))
         UNION ALL
         -- A dispatch made for this user but not resolved yet counts as received.
         SELECT 1 FROM campaign_trigger_occurrences o JOIN campaign_dispatches d ON d.id = o.dispatch_id
          WHERE o.campaign_id = $3 AND o.user_id = $2 AND o.state = 'dispatched' AND d.state = 'queued'
         LIMIT 1`,
        [c.workspace_id, o.user_id, c.id, again ?? null],
      );
      if (received.length) {
        await set(o, 'ineligible');
        continue;
      }
      const dispatch = await insertDispatch(tx, c, { broadcast: false, trigger_properties: {}, recipients: [{ user_id: o.user_id, trigger_properties: o.properties }] });
      await set(o, 'dispatched', dispatch.id);
      made++;
    }
    return made;
  });
}

export class TriggerReader {
  readonly owner = randomUUID();
  private readonly ticker: Ticker;

  constructor(
    private readonly db: Db,
    private readonly opts: TriggerReaderOptions,
    private readonly wake: () => void,
    onError: (err: unknown) => void,
  ) {
    this.ticker = new Ticker(async () => {
      while (!this.ticker.isStopped && (await readTriggerPage(this.db, this.owner, this.opts)));
      let made = 0;
      for (let n = -1; n !== 0 && !this.ticker.isStopped; made += n) n = await dispatchDueOccurrences(this.db, 200);
      if (made) this.wake();
    }, opts.pollMs, onError);
  }

  start(): void {
    this.ticker.start();
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    await releaseLogReader(this.db, READER, this.owner);
  }
}
