/**
 * The SDK-style session endpoint (issue: "anonymous users exist the way an SDK creates them").
 * A device seen for the first time creates an anonymous user; sessions and locations are logged
 * as Currents events; a change of user identifies the device's profile (docs/reference/rest-api.md §3, rules 3–4).
 */
import { UnknownDevice } from '../errors/index.js';
import { Errors } from '../http/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import {
  createUsers,
  identityKey,
  identifyProfile,
  lockIdentityKeys,
  moveDevice,
  recordSessionStart,
  upsertDevice,
  userByDeviceId,
  usersByExternalIds,
  usersByIds,
  type MergeBehavior,
  type MergeParticipant,
  type User,
} from '../identity/index.js';
import { transactionWithRetry, isRetryableConflict, isUniqueViolation, type Db } from '../storage/index.js';
import { firstSession, locationEvent, sessionEnd, sessionStart, type DeviceContext, type Location } from './core-events.js';
import { parseTime } from './time.js';

export interface SessionStartInput extends DeviceContext {
  session_id: string;
  time?: string | undefined;
  location?: Location | undefined;
}

export interface SessionEndInput extends DeviceContext {
  session_id: string;
  duration?: number | undefined;
  time?: string | undefined;
}

const retry = { retryOn: (e: unknown) => isRetryableConflict(e) || isUniqueViolation(e), attempts: 4 };

function eventTime(raw: string | undefined, nowMs: number): number {
  if (raw === undefined) return nowMs;
  const ms = parseTime(raw);
  if (ms === undefined || ms < 0) throw Errors.badRequest('time must be an ISO-8601 date-time', 'time');
  return Math.min(ms, nowMs);
}


export interface SessionStartResult {
  message: 'success';
  user_id: string;
  external_id: string | null;
  new_user: boolean;
  first_session: boolean;
}

export async function startSession(db: Db, workspaceId: string, input: SessionStartInput, nowMs = Date.now()): Promise<SessionStartResult> {
  const timeMs = eventTime(input.time, nowMs);
  return transactionWithRetry(
    db,
    async (tx) => {
      await lockIdentityKeys(tx, [identityKey.device(workspaceId, input.device_id)]);
      let user = await userByDeviceId(tx, workspaceId, input.device_id);
      const newUser = !user;
      if (!user) user = (await createUsers(tx, workspaceId, [{}]))[0]!;
      await upsertDevice(tx, workspaceId, user.id, input);
      const [locked] = await usersByIds(tx, workspaceId, [user.id], 'no key update');
      user = locked!;
      const first = user.session_count === 0;
      await recordSessionStart(tx, user.id, timeMs);
      const events: LogEvent[] = [];
      if (first) events.push(firstSession(user, input, input.session_id, timeMs, workspaceId));
      events.push(sessionStart(user, input, input.session_id, timeMs, workspaceId));
      if (input.location) events.push(locationEvent(user, input, input.location, timeMs, workspaceId));
      await appendEvents(tx, workspaceId, events);
      return { message: 'success' as const, user_id: user.id, external_id: user.external_id, new_user: newUser, first_session: first };
    },
    retry,
  );
}

export async function endSession(db: Db, workspaceId: string, input: SessionEndInput, nowMs = Date.now()): Promise<{ message: 'success'; user_id: string }> {
  const timeMs = eventTime(input.time, nowMs);
  return transactionWithRetry(db, async (tx) => {
    const user = await userByDeviceId(tx, workspaceId, input.device_id);
    if (!user) throw new UnknownDevice();
    await appendEvents(tx, workspaceId, [sessionEnd(user, input, input.session_id, input.duration, timeMs, workspaceId)]);
    return { message: 'success' as const, user_id: user.id };
  });
}

export interface ChangeUserInput {
  device_id: string;
  external_id: string;
  merge_behavior?: MergeBehavior | undefined;
}

/**
 * The SDK's change of user. An anonymous device profile is identified (or merged into the existing
 * holder of the external id); a device whose profile is already someone else moves to that user.
 */
export async function changeUser(
  db: Db,
  workspaceId: string,
  input: ChangeUserInput,
  participants: readonly MergeParticipant[],
): Promise<{ message: 'success'; user_id: string; change: string }> {
  return transactionWithRetry(
    db,
    async (tx) => {
      // Both identity keys at once (step 1 of the lock order): identifyProfile re-takes the external id's.
      await lockIdentityKeys(tx, [identityKey.device(workspaceId, input.device_id), identityKey.externalId(workspaceId, input.external_id)]);
      const current = await userByDeviceId(tx, workspaceId, input.device_id);
      if (!current) throw new UnknownDevice();
      if (current.external_id === null) {
        const outcome = await identifyProfile(tx, workspaceId, current.id, input.external_id, input.merge_behavior ?? 'merge', participants);
        if (!outcome.ok) throw Errors.badRequest(outcome.error);
        return { message: 'success' as const, user_id: outcome.userId, change: outcome.change };
      }
      if (current.external_id === input.external_id) return { message: 'success' as const, user_id: current.id, change: 'none' };
      let target: User | undefined = (await usersByExternalIds(tx, workspaceId, [input.external_id]))[0];
      target ??= (await createUsers(tx, workspaceId, [{ externalId: input.external_id }]))[0]!;
      await moveDevice(tx, workspaceId, input.device_id, target.id);
      return { message: 'success' as const, user_id: target.id, change: 'device_moved' };
    },
    retry,
  );
}
