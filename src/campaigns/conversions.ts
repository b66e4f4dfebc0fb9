/**
 * The conversion reader (docs/reference/campaigns.md, "Conversions"): a leased reader of the event
 * log, like the Currents exporter, with its cursor in `campaign_log_readers`. It reads settled
 * events, finds each converting event's open receipts (delivered / sent sends and control
 * enrollments of campaigns with conversion behaviors) and appends one `users.campaigns.Conversion`
 * per receipt × behavior. The conversions, their events and the cursor's move commit in one
 * transaction fenced by the lease: every logged event is looked at exactly once, and a receipt
 * converts at most once per behavior (primary key of `campaign_conversions`).
 */
import { randomUUID } from 'node:crypto';
import { appendEvents, type LogEvent, type StoredEvent } from '../events/index.js';
import { advanceLogReader, releaseLogReader } from './log-reader.js';
import { Ticker } from '../leases/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { CONTROL_VARIANT } from './assignment.js';
import { CONVERTING_EVENT_TYPES, conversionsOf, type ConversionBehavior, type Receipt } from './conversion-rules.js';
import type { CampaignDefinition } from './definition.js';
import { campaignEvent, campaignRef } from './events.js';

const READER = 'conversions';

export interface ConversionReaderOptions {
  pollMs: number;
  leaseMs: number;
  pageSize: number;
}

interface ReceiptRow {
  send_key: string;
  workspace_id: string;
  user_id: string;
  campaign_id: string;
  campaign_name: string;
  dispatch_id: string;
  variant_id: string;
  at: number;
  definition: CampaignDefinition;
}

async function receiptsOf(db: Queryable, events: StoredEvent[]): Promise<Map<string, ReceiptRow[]>> {
  const ws: string[] = [];
  const users: string[] = [];
  for (const e of events) {
    ws.push(e.workspace_id);
    users.push(e.user.user_id!);
  }
  const { rows } = await db.query<ReceiptRow>(
    `SELECT s.send_key, s.workspace_id, s.user_id, s.campaign_id, c.name AS campaign_name, s.dispatch_id, s.variant_id,
            floor(extract(epoch FROM coalesce(s.delivered_at, s.created_at)))::float8 AS at, d.definition
       FROM (SELECT DISTINCT w, u FROM unnest($1::uuid[], $2::uuid[]) AS t(w, u)) who
       JOIN campaign_sends s ON s.workspace_id = who.w AND s.user_id = who.u
       JOIN campaign_dispatches d ON d.id = s.dispatch_id
       JOIN campaigns c ON c.id = s.campaign_id
      WHERE s.state IN ('delivered', 'sent', 'control')
        AND jsonb_typeof(d.definition->'conversion_behaviors') = 'array'
        AND jsonb_array_length(d.definition->'conversion_behaviors') > 0`,
    [ws, users],
  );
  const byUser = new Map<string, ReceiptRow[]>();
  for (const r of rows) {
    const key = `${r.workspace_id}:${r.user_id}`;
    const list = byUser.get(key) ?? [];
    list.push(r);
    byUser.set(key, list);
  }
  return byUser;
}

/** The Conversion events `events` produce, with the (send, behavior) pairs they claim. */
async function conversionsFor(db: Queryable, events: StoredEvent[]): Promise<Array<{ workspaceId: string; sendKey: string; index: number; event: LogEvent; cause: string }>> {
  const converting = events.filter((e) => CONVERTING_EVENT_TYPES.has(e.event_type) && typeof e.user?.user_id === 'string' && /^[0-9a-f-]{36}$/i.test(e.user.user_id));
  if (!converting.length) return [];
  const byUser = await receiptsOf(db, converting);
  const out: Array<{ workspaceId: string; sendKey: string; index: number; event: LogEvent; cause: string }> = [];
  for (const e of converting) {
    const rows = byUser.get(`${e.workspace_id}:${e.user.user_id}`);
    if (!rows) continue;
    const receipts: Array<Receipt & { row: ReceiptRow }> = rows.map((row) => ({
      send_key: row.send_key,
      campaign_id: row.campaign_id,
      at: Number(row.at),
      behaviors: (row.definition.conversion_behaviors ?? []) as ConversionBehavior[],
      row,
    }));
    for (const { receipt, index } of conversionsOf(e, receipts)) {
      const row = (receipt as Receipt & { row: ReceiptRow }).row;
      const variant = row.variant_id === CONTROL_VARIANT ? { id: CONTROL_VARIANT, name: 'Control' } : { id: row.variant_id, name: row.definition.variants.find((v) => v.id === row.variant_id)?.name ?? row.variant_id };
      const event = campaignEvent(
        'users.campaigns.Conversion',
        {
          workspaceId: row.workspace_id,
          sendKey: row.send_key,
          dispatchId: row.dispatch_id,
          campaign: campaignRef(row.campaign_id, row.campaign_name, row.definition),
          variant,
          user: { id: row.user_id, external_id: e.user.external_user_id ?? null, time_zone: e.user.timezone ?? null },
        },
        { conversion_behavior_index: index, conversion_behavior: JSON.stringify(receipt.behaviors[index]) },
        e.time * 1000,
        String(index),
      );
      out.push({ workspaceId: row.workspace_id, sendKey: row.send_key, index, event, cause: e.id });
    }
  }
  return out;
}

/** Reads one page; true if it moved (more may follow). */
export async function convertNextPage(db: Db, owner: string, opts: ConversionReaderOptions): Promise<boolean> {
  return advanceLogReader(db, READER, owner, opts, (events) => conversionsFor(db, events), applyConversions, () => anyConversionWindowOpen(db));
}

/**
 * Whether a receipt could still convert: a campaign with conversion behaviors that is live, or
 * changed within 60 days (twice the longest window, for sends delivered late in a dispatch).
 */
async function anyConversionWindowOpen(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ open: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM campaigns
                     WHERE (state IN ('active', 'paused') OR updated_at > now() - interval '60 days')
                       AND jsonb_typeof(definition->'conversion_behaviors') = 'array' AND jsonb_array_length(definition->'conversion_behaviors') > 0) AS open`,
  );
  return rows[0]?.open === true;
}

async function applyConversions(tx: Queryable, found: Awaited<ReturnType<typeof conversionsFor>>): Promise<void> {
  const byWorkspace = new Map<string, LogEvent[]>();
    for (const c of found) {
      const { rowCount } = await tx.query(`INSERT INTO campaign_conversions (send_key, behavior_index, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [c.sendKey, c.index, c.cause]);
      if (rowCount !== 1) continue;
      const list = byWorkspace.get(c.workspaceId) ?? [];
      list.push(c.event);
      byWorkspace.set(c.workspaceId, list);
    }
    for (const [ws, events] of byWorkspace) await appendEvents(tx, ws, events);
}

/** This process's conversion reader: a page at a time, every `pollMs`. */
export class ConversionReader {
  readonly owner = randomUUID();
  private readonly ticker: Ticker;

  constructor(
    private readonly db: Db,
    private readonly opts: ConversionReaderOptions,
    onError: (err: unknown) => void,
  ) {
    this.ticker = new Ticker(async () => {
      while (!this.ticker.isStopped && (await convertNextPage(this.db, this.owner, this.opts)));
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
