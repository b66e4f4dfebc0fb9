/**
 * The gates a send passes before its first attempt (docs/reference/campaigns.md, "Frequency cap and
 * quiet hours"): the campaign's quiet hours in the user's time zone (postpone to their end, or
 * abort `quiet_hours`), then the workspace's global frequency cap (abort `frequency_capped`). Both
 * are enforced where the send is attempted, under the user's transaction-scoped advisory lock, so
 * they hold with several processes on one PostgreSQL. Pure parts (rule checks, local time) are
 * live in gate-rules.ts.
 */
import type { Db, Queryable } from '../storage/index.js';
import { appendEvents } from '../events/index.js';
import { usersByIds } from '../identity/index.js';
import { CONTROL_VARIANT } from './assignment.js';
import type { CampaignDefinition, Channel } from './definition.js';
import { campaignEvent } from './events.js';
import { getCampaignById, getDispatch, type SendRow } from './store.js';
import { quietUntil, type FrequencyRule } from './gate-rules.js';

export { checkFrequencyRules, checkQuietHours, localTime, quietUntil, type FrequencyRule, type QuietHours } from './gate-rules.js';

const dispatchDefs = new Map<string, CampaignDefinition>();
async function definitionOf(db: Queryable, dispatchId: string): Promise<CampaignDefinition | undefined> {
  let d = dispatchDefs.get(dispatchId);
  if (!d) {
    d = (await getDispatch(db, dispatchId))?.definition;
    if (!d) return undefined;
    if (dispatchDefs.size > 1000) dispatchDefs.clear();
    dispatchDefs.set(dispatchId, d);
  }
  return d;
}

/** A workspace's rules, read at most once a second per process (a change applies within a second). */
const RULES_TTL_MS = 1000;
const cachedRules = new Map<string, { rules: FrequencyRule[]; until: number }>();
async function rulesOf(db: Queryable, workspaceId: string): Promise<FrequencyRule[]> {
  const hit = cachedRules.get(workspaceId);
  if (hit && hit.until > Date.now()) return hit.rules;
  const { rows } = await db.query<{ rules: FrequencyRule[] }>(`SELECT rules FROM frequency_cap_rules WHERE workspace_id = $1`, [workspaceId]);
  const rules = rows[0]?.rules ?? [];
  if (cachedRules.size > 10_000) cachedRules.clear();
  cachedRules.set(workspaceId, { rules, until: Date.now() + RULES_TTL_MS });
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
const CATALOGUE_CHANNEL: Record<Channel, string> = { email: 'email', webhook: 'webhook', sms: 'sms', content_card: 'contentcard', in_app_message: 'inappmessage' };

export async function passGates(db: Db, row: SendRow, owner: string, nowMs: number): Promise<boolean> {
  if (row.attempts > 0) return true;
  const def = await definitionOf(db, row.dispatch_id);
  if (!def) return true;
  // In-app messages and content cards are exempt from the global frequency cap (Braze).
  const exempt = def.variants.some((v) => v.content_card || v.in_app_message);
  const rules = def.ignore_frequency_capping || exempt ? [] : await rulesOf(db, row.workspace_id);
  if (!def.quiet_hours && !rules.length) return true;
  const [user] = await usersByIds(db, row.workspace_id, [row.user_id]);
  if (!user) return true; // the attempt skips it
  const campaign = await getCampaignById(db, row.campaign_id);
  const channel = campaign?.channel ?? 'email';
  const abort = async (tx: Queryable, type: string, log: string) => {
    await tx.query(`UPDATE campaign_sends SET state = 'aborted', reason = $3, lease_owner = NULL, lease_until = NULL WHERE send_key = $1 AND lease_owner = $2 AND state = 'queued'`, [row.send_key, owner, type]);
    const variant = row.variant_id === CONTROL_VARIANT ? { id: CONTROL_VARIANT, name: 'Control' } : { id: row.variant_id, name: def.variants.find((v) => v.id === row.variant_id)?.name ?? row.variant_id };
    const ctx = { workspaceId: row.workspace_id, sendKey: row.send_key, dispatchId: row.dispatch_id, campaign: { id: row.campaign_id, name: campaign?.name ?? row.campaign_id }, variant, user };
    await appendEvents(tx, row.workspace_id, [campaignEvent(`users.messages.${CATALOGUE_CHANNEL[channel]}.Abort`, ctx, { abort_type: type, abort_log: log, version: '1', ...(channel === 'email' ? { email_address: user.email ?? '' } : {}) }, nowMs)]);
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
