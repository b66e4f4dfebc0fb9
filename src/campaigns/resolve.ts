/**
 * Resolving a dispatch's audience into send rows (docs/reference/campaigns.md §2): the segment's
 * members now, in batches; each considered user gets one row — queued, control (with its
 * EnrollInControl event) or skipped with a reason. Rows are keyed by UUIDv5(dispatch, user,
 * channel), so a resolution that another process takes over after a crash writes nothing twice.
 */
import { appendEvents } from '../events/index.js';
import { userOrdinals, usersByIds, type User } from '../identity/index.js';
import { getSegment, membersByOrdinal, type FilterNode, type OrdinalBitmap } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import { assignVariant, CONTROL_VARIANT, sendKey } from './assignment.js';
import type { CampaignDefinition, Channel } from './definition.js';
import { campaignEvent } from './events.js';
import { claimDispatch, finishDispatch, flagsOf, insertSends, type Dispatch, type NewSend } from './store.js';

export interface AudienceSource {
  members(workspaceId: string, filter: FilterNode): Promise<OrdinalBitmap>;
}

const BATCH = 1000;

/** Why a user is not sent an email now, or null if they may be. */
export function emailSkipReason(def: Pick<CampaignDefinition, 'send_to'>, user: Pick<User, 'email' | 'email_subscribe'>, flags?: { hard_bounced: boolean; spam_reported: boolean }): string | null {
  if (!user.email) return 'no_email';
  if (flags?.hard_bounced) return 'hard_bounced';
  if (flags?.spam_reported && def.send_to !== 'all') return 'spam_reported';
  const state = user.email_subscribe ?? 'subscribed';
  if (def.send_to === 'opted_in' && state !== 'opted_in') return 'not_opted_in';
  if (def.send_to === 'subscribed_or_opted_in' && state === 'unsubscribed') return 'unsubscribed';
  return null;
}

export async function decideSends(db: Db, dispatch: Dispatch, channel: Channel, users: User[], propsOf: (userId: string) => Record<string, unknown> | null = () => null): Promise<NewSend[]> {
  const def = dispatch.definition;
  const flags = channel === 'email' ? await flagsOf(db, dispatch.workspace_id, users.flatMap((u) => (u.email ? [u.email] : []))) : new Map();
  return users.map((u) => {
    const variant = assignVariant(def, dispatch.campaign_id, u.id);
    const key = sendKey(dispatch.id, u.id, channel);
    const trigger_properties = propsOf(u.id);
    if (variant === CONTROL_VARIANT) return { send_key: key, user_id: u.id, variant_id: variant, state: 'control', reason: null, trigger_properties };
    const skip = channel === 'email' ? emailSkipReason(def, u, u.email ? flags.get(u.email.toLowerCase()) : undefined) : channel === 'sms' && !u.phone ? 'no_phone' : null;
    return { send_key: key, user_id: u.id, variant_id: variant, state: skip ? 'skipped' : 'queued', reason: skip, trigger_properties };
  });
}

/** Resolves the oldest queued dispatch, if any; returns whether there was one. */
export async function resolveNextDispatch(db: Db, audience: AudienceSource, channelOf: (campaignId: string) => Promise<{ channel: Channel; name: string } | undefined>, owner: string, leaseMs: number, nowMs: () => number = Date.now): Promise<boolean> {
  const dispatch = await claimDispatch(db, owner, leaseMs);
  if (!dispatch) return false;
  const campaign = await channelOf(dispatch.campaign_id);
  const segmentId = dispatch.definition.audience.segment_id;
  const segment = segmentId ? await getSegment(db, dispatch.workspace_id, segmentId) : undefined;
  const trigger = dispatch.trigger;
  // A /messages/send naming users without a segment has no audience to intersect with.
  if (campaign && (segment || (!segmentId && trigger?.recipients))) {
    const members = segment ? await audience.members(dispatch.workspace_id, segment.filter) : undefined;
    const write = async (users: User[], notInAudience: string[] = []) => {
      const props = new Map(trigger?.recipients?.map((r) => [r.user_id, { ...trigger.trigger_properties, ...r.trigger_properties }]));
      const propsOf = (id: string) => (trigger ? (props.get(id) ?? trigger.trigger_properties) : null);
      const sends = await decideSends(db, dispatch, campaign.channel, users, propsOf);
      // Named recipients outside the campaign's audience are considered and skipped (selectors intersect).
      for (const id of notInAudience) sends.push({ send_key: sendKey(dispatch.id, id, campaign.channel), user_id: id, variant_id: assignVariant(dispatch.definition, dispatch.campaign_id, id), state: 'skipped', reason: 'not_in_audience' });
      const byId = new Map(users.map((u) => [u.id, u]));
      await db.transaction(async (tx) => {
        const { rows } = await tx.query(`SELECT 1 FROM campaign_dispatches WHERE id = $1 AND resolve_owner = $2 FOR UPDATE`, [dispatch.id, owner]);
        if (!rows.length) throw new Error(`lost the lease on dispatch ${dispatch.id}`);
        const written = await insertSends(tx, dispatch, sends);
        const controls = sends.filter((s) => s.state === 'control' && written.has(s.send_key));
        const events = controls.map((s) => {
          const u = byId.get(s.user_id)!;
          return campaignEvent(
            'users.campaigns.EnrollInControl',
            { workspaceId: dispatch.workspace_id, sendKey: s.send_key, dispatchId: dispatch.id, campaign: { id: dispatch.campaign_id, name: campaign.name }, variant: { id: CONTROL_VARIANT, name: 'Control' }, user: u },
            {},
            nowMs(),
          );
        });
        await appendEvents(tx, dispatch.workspace_id, events);
      });
    };
    if (trigger?.recipients) {
      const ids = trigger.recipients.map((r) => r.user_id);
      const ordinals = await userOrdinals(db, dispatch.workspace_id, ids);
      const inside = ids.filter((id) => ordinals.has(id) && (!members || members.has(ordinals.get(id)!)));
      const outside = ids.filter((id) => ordinals.has(id) && members !== undefined && !members.has(ordinals.get(id)!));
      await write(await usersByIds(db, dispatch.workspace_id, inside), outside);
    } else if (members) {
      let after = -1;
      for (;;) {
        const ordinals = members.page(after, BATCH);
        if (!ordinals.length) break;
        after = ordinals.at(-1)!;
        const ids = (await membersByOrdinal(db, dispatch.workspace_id, ordinals)).map((m) => m.user_id);
        await write(await usersByIds(db, dispatch.workspace_id, ids));
      }
    }
  }
  await finishDispatch(db, dispatch.id, owner);
  return true;
}
