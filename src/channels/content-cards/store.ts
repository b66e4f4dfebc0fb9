/**
 * The content cards table (migration 170): one card per send, written by the send in the send's
 * transaction; read by the SDK's feed; changed by the SDK's impressions, clicks and dismissals.
 */
import { ApiError } from '../../http/index.js';
import { appendEvents, type LogEvent } from '../../events/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import { deviceFields, messageEvent, nameBasedId, type EventUser, type MessageContext, type ReportingDevice } from './message-event.js';

export interface ContentCardInput {
  title: string;
  description: string;
  image_url: string | null;
  url: string | null;
  pinned: boolean;
  expires_at: Date;
}

export interface ContentCardRow extends ContentCardInput {
  id: string;
  workspace_id: string;
  user_id: string;
  send_key: string;
  context: MessageContext;
  created_at: Date;
  viewed_at: Date | null;
  clicked_at: Date | null;
  dismissed_at: Date | null;
}

export const CONTENT_CARD_EVENT = 'users.messages.contentcard.';

/** The card id of a send: stable, so a repeated attempt writes the same card. */
export const contentCardId = (sendKey: string) => nameBasedId(`content_card:${sendKey}`);

/** Writes the card of a send (once) and returns its Send event. Call inside the send's transaction. */
export async function writeContentCard(tx: Queryable, ctx: MessageContext, card: ContentCardInput, nowMs: number): Promise<LogEvent[]> {
  const id = contentCardId(ctx.sendKey);
  const { rows } = await tx.query(
    `INSERT INTO content_cards (id, workspace_id, user_id, send_key, title, description, image_url, url, pinned, context, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (send_key) DO NOTHING RETURNING id`,
    [id, ctx.workspaceId, ctx.user.id, ctx.sendKey, card.title, card.description, card.image_url, card.url, card.pinned, JSON.stringify(ctx), card.expires_at],
  );
  return rows.length ? [messageEvent(`${CONTENT_CARD_EVENT}Send`, ctx, { content_card_id: id }, nowMs, id)] : [];
}

/** The user's feed: cards neither dismissed nor expired, pinned ones first, then the newest. */
export async function contentCardFeed(db: Queryable, workspaceId: string, userId: string): Promise<ContentCardRow[]> {
  const { rows } = await db.query<ContentCardRow>(
    `SELECT * FROM content_cards WHERE workspace_id = $1 AND user_id = $2 AND dismissed_at IS NULL AND expires_at > now()
      ORDER BY pinned DESC, created_at DESC, id LIMIT 100`,
    [workspaceId, userId],
  );
  return rows;
}

export type CardInteraction = 'Impression' | 'Click' | 'Dismiss';

/**
 * Records what the SDK reported about a card of the device's user: its event (id derived from the
 * SDK's client event id, so a retried upload is one event), and the card's state. A dismissal is
 * recorded once; the card then leaves the feed for good. A card of another user is not found (404).
 */
export async function recordCardInteraction(
  db: Db,
  args: { workspaceId: string; user: EventUser; cardId: string; kind: CardInteraction; device: ReportingDevice; clientEventId: string; timeMs: number },
): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<ContentCardRow>(`SELECT * FROM content_cards WHERE id = $1 AND workspace_id = $2 AND user_id = $3 FOR UPDATE`, [
      /^[0-9a-f-]{36}$/i.test(args.cardId) ? args.cardId : '00000000-0000-0000-0000-000000000000',
      args.workspaceId,
      args.user.id,
    ]);
    const card = rows[0];
    if (!card) throw new ApiError(404, 'content card not found for this device', [{ type: 'unknown content card', path: 'card_id' }]);
    const column = args.kind === 'Impression' ? 'viewed_at' : args.kind === 'Click' ? 'clicked_at' : 'dismissed_at';
    const { rowCount } = await tx.query(`UPDATE content_cards SET ${column} = now() WHERE id = $1 AND ${args.kind === 'Dismiss' ? 'dismissed_at IS NULL' : 'true'}`, [card.id]);
    if (!rowCount) return;
    const fields = { ...deviceFields(args.device), content_card_id: card.id };
    await appendEvents(tx, args.workspaceId, [messageEvent(`${CONTENT_CARD_EVENT}${args.kind}`, { ...card.context, user: args.user }, fields, args.timeMs, `${card.id}:${args.clientEventId}`)]);
  });
}
