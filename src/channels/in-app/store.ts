/**
 * The in-app messages table (migration 170): one message per send, waiting for the device's user
 * to log one of its trigger events. The SDK fetches the pending ones (marking them delivered),
 * shows one when a trigger fires and reports its impression and clicks. A message that expires
 * unshown is aborted once, with its Abort event, when the device next asks.
 */
import { ApiError } from '../../http/index.js';
import { appendEvents, type LogEvent } from '../../events/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import { deviceFields, messageEvent, nameBasedId, type EventUser, type MessageContext, type ReportingDevice } from '../content-cards/message-event.js';

export type InAppLayout = 'modal' | 'slideup';

export interface InAppButton {
  id: string;
  text: string;
  url: string | null;
}

export interface InAppInput {
  layout: InAppLayout;
  header: string | null;
  body: string;
  image_url: string | null;
  buttons: InAppButton[];
  trigger_events: string[];
  expires_at: Date;
}

export interface InAppRow extends InAppInput {
  id: string;
  workspace_id: string;
  user_id: string;
  send_key: string;
  context: MessageContext;
  created_at: Date;
  delivered_at: Date | null;
  shown_at: Date | null;
  clicked_at: Date | null;
  aborted_at: Date | null;
}

export const IN_APP_EVENT = 'users.messages.inappmessage.';
/** The in-app Abort event requires a `version`: the version of the message format the SDK reads. */
export const IN_APP_FORMAT_VERSION = '1';

export const inAppMessageId = (sendKey: string) => nameBasedId(`in_app_message:${sendKey}`);

/**
 * Writes the message of a send (once). The catalogue has no in-app Send event (Braze's neither), so
 * nothing is appended here: the row's delivered_at records when a device first received it.
 */
export async function writeInAppMessage(tx: Queryable, ctx: MessageContext, m: InAppInput): Promise<string> {
  const id = inAppMessageId(ctx.sendKey);
  await tx.query(
    `INSERT INTO in_app_messages (id, workspace_id, user_id, send_key, layout, header, body, image_url, buttons, trigger_events, context, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (send_key) DO NOTHING`,
    [id, ctx.workspaceId, ctx.user.id, ctx.sendKey, m.layout, m.header, m.body, m.image_url, JSON.stringify(m.buttons), m.trigger_events, JSON.stringify(ctx), m.expires_at],
  );
  return id;
}

/** The Abort event of a message that could not be shown. */
export function inAppAbort(row: Pick<InAppRow, 'id' | 'context'>, abortType: string, abortLog: string, device: ReportingDevice | undefined, nowMs: number): LogEvent {
  return messageEvent(`${IN_APP_EVENT}Abort`, row.context, { ...deviceFields(device), card_id: row.id, version: IN_APP_FORMAT_VERSION, abort_type: abortType, abort_log: abortLog }, nowMs, `${row.id}:abort`);
}

/**
 * The user's messages still to show (neither shown, aborted nor expired), oldest first; they are
 * marked delivered. Expired unshown ones are aborted here (Abort `expired`), once.
 */
export async function pendingInAppMessages(db: Db, workspaceId: string, user: EventUser, device: ReportingDevice, nowMs: number): Promise<InAppRow[]> {
  const userId = user.id;
  return db.transaction(async (tx) => {
    const { rows: expired } = await tx.query<InAppRow>(
      `UPDATE in_app_messages SET aborted_at = now() WHERE workspace_id = $1 AND user_id = $2 AND shown_at IS NULL AND aborted_at IS NULL AND expires_at <= now() RETURNING *`,
      [workspaceId, userId],
    );
    if (expired.length) {
      await appendEvents(tx, workspaceId, expired.map((r) => inAppAbort({ id: r.id, context: { ...r.context, user } }, 'expired', `the message expired at ${new Date(r.expires_at).toISOString()} before any of its trigger events was logged`, device, nowMs)));
    }
    const { rows } = await tx.query<InAppRow>(
      `UPDATE in_app_messages SET delivered_at = coalesce(delivered_at, now())
        WHERE workspace_id = $1 AND user_id = $2 AND shown_at IS NULL AND aborted_at IS NULL AND expires_at > now() RETURNING *`,
      [workspaceId, userId],
    );
    return rows.sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime() || a.id.localeCompare(b.id)).slice(0, 50);
  });
}

export type InAppInteraction = 'Impression' | 'Click';

/**
 * Records an impression or a click the SDK reported for a message of the device's user. The
 * message's first impression marks it shown (it is not handed out again). A message of another
 * user is not found (404); a click names one of the message's buttons, or none (the body).
 */
export async function recordInAppInteraction(
  db: Db,
  args: { workspaceId: string; user: EventUser; messageId: string; kind: InAppInteraction; buttonId?: string | undefined; device: ReportingDevice; clientEventId: string; timeMs: number },
): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<InAppRow>(`SELECT * FROM in_app_messages WHERE id = $1 AND workspace_id = $2 AND user_id = $3 FOR UPDATE`, [
      /^[0-9a-f-]{36}$/i.test(args.messageId) ? args.messageId : '00000000-0000-0000-0000-000000000000',
      args.workspaceId,
      args.user.id,
    ]);
    const m = rows[0];
    if (!m) throw new ApiError(404, 'in-app message not found for this device', [{ type: 'unknown in-app message', path: 'message_id' }]);
    if (args.buttonId !== undefined && !m.buttons.some((b) => b.id === args.buttonId)) {
      throw new ApiError(400, `button_id ${args.buttonId} is not a button of this message`, [{ type: 'unknown button', path: 'button_id' }]);
    }
    await tx.query(`UPDATE in_app_messages SET ${args.kind === 'Impression' ? 'shown_at' : 'clicked_at'} = coalesce(${args.kind === 'Impression' ? 'shown_at' : 'clicked_at'}, now()) WHERE id = $1`, [m.id]);
    const fields = { ...deviceFields(args.device), card_id: m.id, ...(args.buttonId !== undefined ? { button_id: args.buttonId } : {}) };
    await appendEvents(tx, args.workspaceId, [messageEvent(`${IN_APP_EVENT}${args.kind}`, { ...m.context, user: args.user }, fields, args.timeMs, `${m.id}:${args.clientEventId}`)]);
  });
}

/**
 * Identity's merge hook: the source profile's content cards and in-app messages move to the target
 * (a device's anonymous profile identified as an existing user keeps its messages). Their later
 * events name the user who reported them (the `user` given to the record functions).
 */
export async function moveSdkMessages(tx: Queryable, ctx: { workspaceId: string; sourceId: string; targetId: string }): Promise<void> {
  for (const table of ['content_cards', 'in_app_messages']) {
    await tx.query(
      `UPDATE ${table} SET user_id = $3 WHERE workspace_id = $1 AND user_id = $2`,
      [ctx.workspaceId, ctx.sourceId, ctx.targetId],
    );
  }
}
