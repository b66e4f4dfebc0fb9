/**
 * Scheduled delivery (docs/reference/messaging-api.md §3): a schedule is a row; when it is due, a
 * worker writes its dispatch in the same transaction that takes the row with FOR UPDATE SKIP
 * LOCKED and moves it on (the next run of a recurring one, or done), so several processes on one
 * PostgreSQL never fire one run twice. The clock is injected (tests), the database's is not used.
 */
import { randomUUID } from 'node:crypto';
import { usersByIds } from '../identity/index.js';
import type { Db, Queryable } from '../storage/index.js';
import type { CampaignDefinition } from './definition.js';
import { getCampaign, getCampaignById, insertDispatch, type DispatchTrigger } from './store.js';

export type Recurrence = 'day' | 'week' | 'month';

export interface PlannedDispatch {
  campaign_id: string;
  definition: CampaignDefinition;
  trigger: DispatchTrigger;
}

export interface SchedulePayload {
  body: Record<string, unknown>;
  dispatches: PlannedDispatch[];
  /** A `/campaigns/trigger/schedule`: the run uses the campaign's definition then, if it is still active. */
  trigger_campaign?: boolean;
  /** In each recipient's local time: the wall-clock time read as UTC, when it was scheduled, the users handled. */
  local?: { wall: number; created: number; done: string[] };
}

export interface ScheduleRow {
  id: string;
  workspace_id: string;
  kind: 'messages' | 'launch';
  payload: SchedulePayload | null;
  campaign_id: string | null;
  run_at: Date;
  recurrence: Recurrence | null;
  until_at: Date | null;
  first_dispatch_id: string;
  runs: number;
  state: 'scheduled' | 'done' | 'deleted';
}

const COLUMNS = 'id, workspace_id, kind, payload, campaign_id, run_at, recurrence, until_at, first_dispatch_id, runs, state';

export async function insertSchedule(
  tx: Queryable,
  s: { workspaceId: string; kind: 'messages' | 'launch'; payload?: SchedulePayload; campaignId?: string; runAt: Date; recurrence?: Recurrence; until?: Date },
): Promise<ScheduleRow> {
  const { rows } = await tx.query<ScheduleRow>(
    `INSERT INTO campaign_schedules (id, workspace_id, kind, payload, campaign_id, run_at, recurrence, until_at, first_dispatch_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [randomUUID(), s.workspaceId, s.kind, s.payload ? JSON.stringify(s.payload) : null, s.campaignId ?? null, s.runAt, s.recurrence ?? null, s.until ?? null, randomUUID()],
  );
  return rows[0]!;
}

export async function getSchedule(tx: Queryable, workspaceId: string, id: string, lock = false): Promise<ScheduleRow | undefined> {
  const { rows } = await tx.query<ScheduleRow>(`SELECT ${COLUMNS} FROM campaign_schedules WHERE workspace_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [workspaceId, id]);
  return rows[0];
}

export async function listCampaignSchedules(tx: Queryable, workspaceId: string, campaignId: string): Promise<ScheduleRow[]> {
  const { rows } = await tx.query<ScheduleRow>(`SELECT ${COLUMNS} FROM campaign_schedules WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'scheduled' ORDER BY run_at`, [workspaceId, campaignId]);
  return rows;
}

export async function updateSchedule(tx: Queryable, workspaceId: string, id: string, change: { runAt?: Date; payload?: SchedulePayload | null }): Promise<void> {
  await tx.query(
    `UPDATE campaign_schedules SET run_at = coalesce($3, run_at), payload = coalesce($4::jsonb, payload), updated_at = now() WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id, change.runAt ?? null, change.payload ? JSON.stringify(change.payload) : null],
  );
}

/** Cancels a schedule that has not run yet; false if unknown, of another kind, or started. */
export async function cancelSchedule(tx: Queryable, workspaceId: string, id: string, kind: 'messages' | 'launch'): Promise<boolean> {
  const { rows } = await tx.query(
    `UPDATE campaign_schedules SET state = 'deleted', updated_at = now() WHERE workspace_id = $1 AND id = $2 AND kind = $3 AND state = 'scheduled' AND (runs = 0 OR recurrence IS NOT NULL) RETURNING id`,
    [workspaceId, id, kind],
  );
  return rows.length === 1;
}

/** The run after `at`: the same wall-clock time in UTC a day, a week or a calendar month later (clamped to the month's last day). */
export function nextRun(at: Date, every: Recurrence, anchorDay = at.getUTCDate()): Date {
  const d = new Date(at.getTime());
  if (every === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else if (every === 'week') d.setUTCDate(d.getUTCDate() + 7);
  else {
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth() + 1;
    const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
    d.setUTCFullYear(y, m, Math.min(anchorDay, last));
  }
  return d;
}

/** The UTC offset of a zone at an instant, in ms (an unknown zone is UTC). */
export function zoneOffsetMs(timeZone: string, atMs: number): number {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(atMs));
    const n = (t: string) => Number(parts.find((p) => p.type === t)!.value);
    return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(atMs / 1000) * 1000;
  } catch {
    return 0;
  }
}

/** The instant a wall-clock time (read as UTC ms) happens in a zone (null or unknown: UTC). */
export function instantOfWall(wallMs: number, timeZone: string | null): number {
  if (!timeZone) return wallMs;
  const first = wallMs - zoneOffsetMs(timeZone, wallMs);
  return wallMs - zoneOffsetMs(timeZone, first);
}

/**
 * A local-time schedule's run: dispatches the recipients whose wall-clock time has come, skips
 * those for whom it had already passed when it was scheduled, and returns when the next one's comes
 * (undefined when everyone is handled).
 */
async function fireLocal(tx: Queryable, s: ScheduleRow, nowMs: number, dispatchId: string): Promise<{ written: number; next?: number }> {
  const payload = s.payload!;
  const local = payload.local!;
  const done = new Set(local.done);
  const named = [...new Set(payload.dispatches.flatMap((p) => (p.trigger.recipients ?? []).map((r) => r.user_id)))].filter((id) => !done.has(id));
  const due = new Set<string>();
  let next: number | undefined;
  for (const u of await usersByIds(tx, s.workspace_id, named)) {
    const t = instantOfWall(local.wall, u.time_zone);
    if (t < local.created) done.add(u.id);
    else if (t <= nowMs) due.add(u.id);
    else next = Math.min(next ?? t, t);
  }
  let written = 0;
  if (due.size) {
    for (const [i, p] of payload.dispatches.entries()) {
      const campaign = await getCampaignById(tx, p.campaign_id);
      if (!campaign) continue;
      const trigger = { ...p.trigger, recipients: (p.trigger.recipients ?? []).filter((r) => due.has(r.user_id)) };
      await insertDispatch(tx, { ...campaign, definition: p.definition }, trigger, i === 0 ? dispatchId : randomUUID());
      written++;
    }
  }
  for (const id of due) done.add(id);
  await tx.query(`UPDATE campaign_schedules SET payload = $2 WHERE id = $1`, [s.id, JSON.stringify({ ...payload, local: { ...local, done: [...done] } })]);
  return { written, ...(next !== undefined ? { next } : {}) };
}

/** Fires the due schedules (up to `limit`) in one transaction; returns how many dispatches were written. */
export async function fireDueSchedules(db: Db, nowMs: number, limit = 20): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<ScheduleRow>(
      `SELECT ${COLUMNS} FROM campaign_schedules WHERE state = 'scheduled' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [new Date(nowMs), limit],
    );
    let written = 0;
    for (const s of rows) {
      const dispatchId = s.runs === 0 ? s.first_dispatch_id : randomUUID();
      if (s.kind === 'messages' && s.payload?.local) {
        const { written: n, next } = await fireLocal(tx, s, nowMs, dispatchId);
        written += n;
        await tx.query(`UPDATE campaign_schedules SET runs = runs + $2, run_at = coalesce($3, run_at), state = $4, updated_at = now() WHERE id = $1`, [s.id, n ? 1 : 0, next !== undefined ? new Date(next) : null, next !== undefined ? 'scheduled' : 'done']);
        continue;
      }
      if (s.kind === 'messages') {
        for (const [i, p] of (s.payload?.dispatches ?? []).entries()) {
          const campaign = await getCampaignById(tx, p.campaign_id);
          if (!campaign) continue;
          if (s.payload?.trigger_campaign) {
            if (campaign.state !== 'active') continue;
            await insertDispatch(tx, campaign, p.trigger, i === 0 ? dispatchId : randomUUID());
            written++;
            continue;
          }
          await insertDispatch(tx, { ...campaign, definition: p.definition }, p.trigger, i === 0 ? dispatchId : randomUUID());
          written++;
        }
      } else if (s.campaign_id) {
        const campaign = await getCampaign(tx, s.workspace_id, s.campaign_id);
        // A paused campaign skips the run; a stopped or archived one ends its schedule.
        if (campaign?.state === 'active') {
          await insertDispatch(tx, campaign, undefined, dispatchId);
          written++;
        } else if (!campaign || campaign.state === 'stopped' || campaign.state === 'archived') {
          await tx.query(`UPDATE campaign_schedules SET state = 'done', runs = runs + 1, updated_at = now() WHERE id = $1`, [s.id]);
          continue;
        }
      }
      let next = s.recurrence ? nextRun(new Date(s.run_at), s.recurrence) : undefined;
      // A process that was down for several periods fires once and moves past now.
      while (next && next.getTime() <= nowMs) next = nextRun(next, s.recurrence!);
      const done = !next || (s.until_at !== null && next.getTime() > new Date(s.until_at).getTime());
      await tx.query(`UPDATE campaign_schedules SET runs = runs + 1, run_at = coalesce($2, run_at), state = $3, updated_at = now() WHERE id = $1`, [s.id, done ? null : next, done ? 'done' : 'scheduled']);
    }
    return written;
  });
}

/** Polls for due schedules every `pollMs`; wakes the send workers when it wrote dispatches. */
export function startSchedulePoller(db: Db, opts: { pollMs: number; now(): number; wake(): void; onError(err: unknown): void }): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      while (!stopped && (await fireDueSchedules(db, opts.now())) > 0) opts.wake();
    } catch (err) {
      opts.onError(err);
    }
  };
  const timer = setInterval(() => {
    running = running.then(tick);
  }, opts.pollMs);
  timer.unref?.();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
