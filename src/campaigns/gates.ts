/**
 * The gates a send passes before its first attempt (docs/reference/campaigns.md, "Frequency cap and
 * quiet hours"): the campaign's quiet hours in the user's time zone (postpone to their end, or
 * abort `quiet_hours`), then the workspace's global frequency cap (abort `frequency_capped`). Both
 * are enforced where the send is attempted, under the user's transaction-scoped advisory lock, so
 * they hold with several processes on one PostgreSQL. Pure parts (rule checks, local time) are
 * live in gate-rules.ts.
 */
import type { Db, Queryable } from '../storage/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import { usersByIds, type User } from '../identity/index.js';
import { CONTROL_VARIANT } from './assignment.js';
import type { CampaignDefinition, Channel } from './definition.js';
import { campaignEvent, campaignRef } from './events.js';
import { getCampaignById, getDispatch, type SendRow } from './store.js';
import { quietUntil, type FrequencyRule } from './gate-rules.js';

export { checkFrequencyRules, checkQuietHours, localTime, quietUntil, type FrequencyRule, type QuietHours } from './gate-rules.js';

/** Promises, not values: the lanes of a batch that ask at once share one read (single flight). */
const dispatchDefs = new Map<string, Promise<CampaignDefinition | undefined>>();
function definitionOf(db: Queryable, dispatchId: string): Promise<CampaignDefinition | undefined> {
  let d = dispatchDefs.get(dispatchId);
  if (!d) {
    if (dispatchDefs.size > 1000) dispatchDefs.clear();
    d = getDispatch(db, dispatchId).then((found) => {
      if (!found) dispatchDefs.delete(dispatchId);
      return found?.definition;
    });
    dispatchDefs.set(dispatchId, d);
    d.catch(() => dispatchDefs.delete(dispatchId));
  }
  return d;
}

/** A workspace's rules, read at most once a second per process (a change applies within a second). */
const RULES_TTL_MS = 1000;
const cachedRules = new Map<string, { rules: Promise<FrequencyRule[]>; until: number }>();
function rulesOf(db: Queryable, workspaceId: string): Promise<FrequencyRule[]> {
  const hit = cachedRules.get(workspaceId);
  if (hit && hit.until > Date.now()) return hit.rules;
  if (cachedRules.size > 10_000) cachedRules.clear();
  // One read per expiry however many lanes ask at once (single flight).
  const rules = db.query<{ rules: FrequencyRule[] }>(`SELECT rules FROM frequency_cap_rules WHERE workspace_id = $1`, [workspaceId]).then(({ rows }) => rows[0]?.rules ?? []);
  const entry = { rules, until: Date.now() + RULES_TTL_MS };
  cachedRules.set(workspaceId, entry);
  rules.catch(() => cachedRules.get(workspaceId) === entry && cachedRules.delete(workspaceId));
  return rules;
}

export async function setFrequencyRules(db: Queryable, workspaceId: string, rules: FrequencyRule[]): Promise<void> {
  await db.query(
    `INSERT INTO frequency_cap_rules (workspace_id, rules) VALUES ($1, $2) ON CONFLICT (workspace_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`,
    [workspaceId, JSON.stringify(rules)],
  );
  // This process applies the change at once; the others within RULES_TTL_MS.
  cachedRules.delete(workspaceId);
}

export async function getFrequencyRules(db: Queryable, workspaceId: string): Promise<FrequencyRule[]> {
  const { rows } = await db.query<{ rules: FrequencyRule[] }>(`SELECT rules FROM frequency_cap_rules WHERE workspace_id = $1`, [workspaceId]);
  return rows[0]?.rules ?? [];
}

/**
 * Passes `row` (held by `owner`) through quiet hours and the frequency cap before its first
 * attempt. True: attempt it now. False: it was postponed or aborted here (with its Abort event).
 */
/** The catalogue's name of each campaign channel (`users.messages.<name>.*`). */
const CATALOGUE_CHANNEL: Record<Channel, string> = { email: 'email', webhook: 'webhook', sms: 'sms', pushnotification: 'pushnotification', content_card: 'contentcard', in_app_message: 'inappmessage' };

/** The fields a channel's Abort event needs beyond the abort's own (the catalogue's required ones). */
function abortFields(channel: Channel, user: User): Record<string, string> {
  if (channel === 'email') return { email_address: user.email ?? '' };
  if (channel === 'in_app_message') return { version: '1' };
  if (channel === 'pushnotification') return { platform: 'web' };
  return {};
}

/** In-app messages and content cards are exempt from the global frequency cap (Braze). */
const capExempt = (def: CampaignDefinition) => def.variants.some((v) => v.content_card || v.in_app_message);

export async function passGates(db: Db, row: SendRow, owner: string, nowMs: number, prefetched?: User): Promise<boolean> {
  if (row.attempts > 0) return true;
  const def = await definitionOf(db, row.dispatch_id);
  if (!def) return true;
  const rules = def.ignore_frequency_capping || capExempt(def) ? [] : await rulesOf(db, row.workspace_id);
  if (!def.quiet_hours && !rules.length) return true;
  // The batch's users were read at claim time (attempt.ts prefetch); a lone call reads its own.
  const user = prefetched ?? (await usersByIds(db, row.workspace_id, [row.user_id]))[0];
  if (!user) return true; // the attempt skips it
  const campaign = await getCampaignById(db, row.campaign_id);
  const channel = campaign?.channel ?? 'email';
  const abort = async (tx: Queryable, type: string, log: string) => {
    await tx.query(`UPDATE campaign_sends SET state = 'aborted', reason = $3, lease_owner = NULL, lease_until = NULL WHERE send_key = $1 AND lease_owner = $2 AND state = 'queued'`, [row.send_key, owner, type]);
    const variant = row.variant_id === CONTROL_VARIANT ? { id: CONTROL_VARIANT, name: 'Control' } : { id: row.variant_id, name: def.variants.find((v) => v.id === row.variant_id)?.name ?? row.variant_id };
    const ctx = { workspaceId: row.workspace_id, sendKey: row.send_key, dispatchId: row.dispatch_id, campaign: campaignRef(row.campaign_id, campaign?.name ?? row.campaign_id, def), variant, user };
    await appendEvents(tx, row.workspace_id, [campaignEvent(`users.messages.${CATALOGUE_CHANNEL[channel]}.Abort`, ctx, { abort_type: type, abort_log: log, ...abortFields(channel, user) }, nowMs)]);
  };
  return db.transaction(async (tx) => {
    const { rows: held } = await tx.query(`SELECT 1 FROM campaign_sends WHERE send_key = $1 AND lease_owner = $2 AND state = 'queued' FOR UPDATE`, [row.send_key, owner]);
    if (!held.length) return false;
    if (def.quiet_hours) {
      const until = quietUntil(def.quiet_hours, nowMs, user.time_zone);
      if (until !== undefined) {
        if (def.quiet_hours.fallback === 'abort') {
          await abort(tx, 'quiet_hours', `quiet hours ${def.quiet_hours.start_hour}:00-${def.quiet_hours.end_hour}:00 in ${user.time_zone ?? 'UTC'}`);
        } else {
          await tx.query(`UPDATE campaign_sends SET next_attempt_at = to_timestamp($2::float8 / 1000), lease_owner = NULL, lease_until = NULL WHERE send_key = $1`, [row.send_key, until]);
        }
        return false;
      }
    }
    const applying = rules.filter((r) => r.channel === 'any' || r.channel === channel);
    if (!applying.length) return true;
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('frequency-cap:' || $1 || ':' || $2, 0))`, [row.workspace_id, row.user_id]);
    for (const r of applying) {
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM frequency_cap_hits WHERE workspace_id = $1 AND user_id = $2 AND ($3 = 'any' OR channel = $3) AND taken_at > clock_timestamp() - make_interval(secs => $4::float8)`,
        [row.workspace_id, row.user_id, r.channel, r.window_seconds],
      );
      if (Number(rows[0]!.n) >= r.count) {
        await abort(tx, 'frequency_capped', `${r.count} ${r.channel} message(s) per ${r.window_seconds} s reached`);
        return false;
      }
    }
    await tx.query(`INSERT INTO frequency_cap_hits (workspace_id, user_id, channel, taken_at, send_key) VALUES ($1, $2, $3, clock_timestamp(), $4) ON CONFLICT DO NOTHING`, [row.workspace_id, row.user_id, channel, row.send_key]);
    return true;
  });
}

interface Gated {
  row: SendRow;
  def: CampaignDefinition;
  user: User;
  rules: FrequencyRule[];
}

/**
 * `passGates` for a claimed batch, in one transaction per workspace instead of one per send: the
 * sends still held are locked with one statement, quiet hours are decided in memory, the users'
 * advisory locks are taken in one statement (in hash order, so two batches cannot deadlock), the
 * hits of every (user, rule) pair in their windows are counted with one query, and the aborts,
 * postponements, new hits and Abort events are written with one statement each. Sends of one user
 * in one batch are decided in order, each counting the hits the earlier ones took, exactly as one
 * at a time. Returns the keys of the sends to attempt now (the others were postponed or aborted
 * here, or are no longer held).
 */
export async function passGatesBatch(db: Db, rows: SendRow[], owner: string, nowMs: number, users: Map<string, User>): Promise<Set<string>> {
  const pass = new Set<string>();
  const byWorkspace = new Map<string, Gated[]>();
  for (const row of rows) {
    const def = row.attempts > 0 ? undefined : await definitionOf(db, row.dispatch_id);
    const rules = !def || def.ignore_frequency_capping || capExempt(def) ? [] : await rulesOf(db, row.workspace_id);
    const user = users.get(`${row.workspace_id}:${row.user_id}`);
    // Nothing to check (or no user: the attempt skips it).
    if (!def || (!def.quiet_hours && !rules.length) || !user) {
      pass.add(row.send_key);
      continue;
    }
    const list = byWorkspace.get(row.workspace_id);
    if (list) list.push({ row, def, user, rules });
    else byWorkspace.set(row.workspace_id, [{ row, def, user, rules }]);
  }
  for (const [ws, items] of byWorkspace) {
    const campaigns = new Map<string, Awaited<ReturnType<typeof getCampaignById>>>();
    for (const { row } of items) if (!campaigns.has(row.campaign_id)) campaigns.set(row.campaign_id, await getCampaignById(db, row.campaign_id));
    const wsRules = await rulesOf(db, ws);
    await db.transaction(async (tx) => {
      const { rows: held } = await tx.query<{ send_key: string }>(
        `SELECT send_key FROM campaign_sends WHERE send_key = ANY($1::uuid[]) AND lease_owner = $2 AND state = 'queued' ORDER BY send_key FOR UPDATE`,
        [items.map((i) => i.row.send_key), owner],
      );
      const isHeld = new Set(held.map((r) => r.send_key));
      const aborts: Array<{ send_key: string; reason: string }> = [];
      const postpones: Array<{ send_key: string; at: number }> = [];
      const events: LogEvent[] = [];
      const abort = (it: Gated, channel: Channel, type: string, log: string) => {
        const { row, def, user } = it;
        aborts.push({ send_key: row.send_key, reason: type });
        const variant = row.variant_id === CONTROL_VARIANT ? { id: CONTROL_VARIANT, name: 'Control' } : { id: row.variant_id, name: def.variants.find((v) => v.id === row.variant_id)?.name ?? row.variant_id };
        const campaign = campaigns.get(row.campaign_id);
        const ctx = { workspaceId: row.workspace_id, sendKey: row.send_key, dispatchId: row.dispatch_id, campaign: campaignRef(row.campaign_id, campaign?.name ?? row.campaign_id, def), variant, user };
        events.push(campaignEvent(`users.messages.${CATALOGUE_CHANNEL[channel]}.Abort`, ctx, { abort_type: type, abort_log: log, ...abortFields(channel, user) }, nowMs));
      };
      const capped: Array<Gated & { channel: Channel }> = [];
      for (const it of items) {
        if (!isHeld.has(it.row.send_key)) continue;
        const channel = campaigns.get(it.row.campaign_id)?.channel ?? 'email';
        const quiet = it.def.quiet_hours;
        const until = quiet ? quietUntil(quiet, nowMs, it.user.time_zone) : undefined;
        if (quiet && until !== undefined) {
          if (quiet.fallback === 'abort') abort(it, channel, 'quiet_hours', `quiet hours ${quiet.start_hour}:00-${quiet.end_hour}:00 in ${it.user.time_zone ?? 'UTC'}`);
          else postpones.push({ send_key: it.row.send_key, at: until });
          continue;
        }
        if (!it.rules.some((r) => r.channel === 'any' || r.channel === channel)) {
          pass.add(it.row.send_key);
          continue;
        }
        capped.push({ ...it, channel });
      }
      if (capped.length) {
        const userIds = [...new Set(capped.map((c) => c.row.user_id))];
        await tx.query(
          `SELECT count(*) FROM (SELECT pg_advisory_xact_lock(s.h) FROM (SELECT DISTINCT hashtextextended('frequency-cap:' || $1 || ':' || u, 0) AS h FROM unnest($2::text[]) AS u ORDER BY h) s) taken`,
          [ws, userIds],
        );
        const { rows: counts } = await tx.query<{ user_id: string; i: number; n: number }>(
          `SELECT u AS user_id, r.i, count(h.send_key)::int AS n
             FROM unnest($2::uuid[]) AS u
            CROSS JOIN jsonb_to_recordset($3::jsonb) AS r(i int, channel text, window_seconds float8)
             LEFT JOIN frequency_cap_hits h ON h.workspace_id = $1 AND h.user_id = u AND (r.channel = 'any' OR h.channel = r.channel)
                                          AND h.taken_at > clock_timestamp() - make_interval(secs => r.window_seconds)
            GROUP BY u, r.i`,
          [ws, userIds, JSON.stringify(wsRules.map((r, i) => ({ i, channel: r.channel, window_seconds: r.window_seconds })))],
        );
        const taken = new Map(counts.map((c) => [`${c.user_id}:${c.i}`, Number(c.n)]));
        const hits: Array<{ user_id: string; channel: string; send_key: string }> = [];
        for (const c of capped) {
          // The workspace's rules as read for this batch (a change applies within RULES_TTL_MS, as one at a time).
          const applying = wsRules.map((r, i) => ({ r, i })).filter(({ r }) => r.channel === 'any' || r.channel === c.channel);
          if (!applying.length) {
            pass.add(c.row.send_key);
            continue;
          }
          const over = applying.find(({ r, i }) => (taken.get(`${c.row.user_id}:${i}`) ?? 0) >= r.count);
          if (over) {
            abort(c, c.channel, 'frequency_capped', `${over.r.count} ${over.r.channel} message(s) per ${over.r.window_seconds} s reached`);
            continue;
          }
          for (const { i } of applying) taken.set(`${c.row.user_id}:${i}`, (taken.get(`${c.row.user_id}:${i}`) ?? 0) + 1);
          hits.push({ user_id: c.row.user_id, channel: c.channel, send_key: c.row.send_key });
          pass.add(c.row.send_key);
        }
        if (hits.length) {
          await tx.query(
            `INSERT INTO frequency_cap_hits (workspace_id, user_id, channel, taken_at, send_key)
             SELECT $1, h.user_id, h.channel, clock_timestamp(), h.send_key FROM jsonb_to_recordset($2::jsonb) AS h(user_id uuid, channel text, send_key uuid)
             ON CONFLICT DO NOTHING`,
            [ws, JSON.stringify(hits)],
          );
        }
      }
      if (aborts.length) {
        await tx.query(
          `UPDATE campaign_sends s SET state = 'aborted', reason = v.reason, lease_owner = NULL, lease_until = NULL
             FROM jsonb_to_recordset($1::jsonb) AS v(send_key uuid, reason text) WHERE s.send_key = v.send_key`,
          [JSON.stringify(aborts)],
        );
      }
      if (postpones.length) {
        await tx.query(
          `UPDATE campaign_sends s SET next_attempt_at = to_timestamp(v.at / 1000), lease_owner = NULL, lease_until = NULL
             FROM jsonb_to_recordset($1::jsonb) AS v(send_key uuid, at float8) WHERE s.send_key = v.send_key`,
          [JSON.stringify(postpones)],
        );
      }
      await appendEvents(tx, ws, events);
    });
  }
  return pass;
}
