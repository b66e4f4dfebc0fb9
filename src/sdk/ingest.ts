/**
 * Applies an SDK upload through the tracking path: sessions and changes of user through the
 * session functions of src/tracking; custom events, purchases and attributes through the same
 * tracker as `/users/track` (the device's user named by its internal id), each run of consecutive
 * such events in one tracker call. The upload's client ids are claimed first (one statement), so a
 * retried upload applies nothing twice; events that failed give their claims back.
 */
import { apiErrorOf, ApiError } from '../http/index.js';
import { DomainError, UnknownDevice } from '../errors/index.js';
import { userByDeviceId, type MergeParticipant } from '../identity/index.js';
import type { Db } from '../storage/index.js';
import { changeUser, endSession, startSession, type Tracker } from '../tracking/index.js';
import type { BatchBody } from './contract.js';
import type { MappedEvent } from './batch.js';
import { claimClientEvents, releaseClientEvents, type SdkApp } from './store.js';
import { recordCardInteraction, recordInAppInteraction } from '../channels/index.js';

export interface IngestDeps {
  db: Db;
  tracker: Tracker;
  mergeParticipants: readonly MergeParticipant[];
}

export interface IngestResult {
  message: 'success';
  accepted: number;
  duplicates: number;
  errors: Array<{ id: string; index: number; type: string; status: number }>;
}

interface Device {
  device_id: string;
  app_id: string;
  platform: string;
  sdk_version: string | undefined;
  os_version: string | undefined;
  device_model: string | undefined;
}
type TrackArray = 'attributes' | 'events' | 'purchases';

function failure(err: unknown): { type: string; status: number } {
  if (!(err instanceof ApiError) && !(err instanceof DomainError)) throw err;
  const api = apiErrorOf(err);
  return { type: api.message, status: api.statusCode };
}

export async function ingestBatch(deps: IngestDeps, app: SdkApp, body: BatchBody, events: MappedEvent[]): Promise<IngestResult> {
  const result: IngestResult = { message: 'success', accepted: 0, duplicates: 0, errors: [] };
  const device: Device = {
    device_id: body.device_id,
    app_id: app.id,
    platform: 'web',
    sdk_version: body.sdk_version,
    os_version: body.os_version,
    device_model: body.device_model,
  };
  const claimed = await claimClientEvents(deps.db, app.id, events.map((e) => e.id));
  result.duplicates = events.length - claimed.size;
  const fresh = events.filter((e) => claimed.has(e.id));
  const failed: string[] = [];
  const fail = (e: MappedEvent, err: unknown) => {
    failed.push(e.id);
    result.errors.push({ id: e.id, index: e.index, ...failure(err) });
  };
  try {
    for (let i = 0; i < fresh.length; ) {
      const e = fresh[i]!;
      if (e.op.kind !== 'track') {
        try {
          await applySession(deps, app.workspace_id, device, e);
          result.accepted++;
        } catch (err) {
          fail(e, err);
        }
        i++;
        continue;
      }
      let j = i;
      while (j < fresh.length && fresh[j]!.op.kind === 'track') j++;
      await applyTrackRun(deps, app.workspace_id, device, fresh.slice(i, j), result, fail);
      i = j;
    }
  } finally {
    await releaseClientEvents(deps.db, app.id, failed);
  }
  return result;
}

async function applySession(deps: IngestDeps, workspaceId: string, device: Device, e: MappedEvent): Promise<void> {
  const op = e.op;
  if (op.kind === 'content_card' || op.kind === 'in_app_message') return applyMessageEvent(deps, workspaceId, device, e.id, op);
  if (op.kind === 'session_start') await startSession(deps.db, workspaceId, { ...device, session_id: op.sessionId, time: op.time });
  else if (op.kind === 'session_end') await endSession(deps.db, workspaceId, { ...device, session_id: op.sessionId, time: op.time, duration: op.duration });
  else if (op.kind === 'change_user') await changeUser(deps.db, workspaceId, { device_id: device.device_id, external_id: op.externalId }, deps.mergeParticipants);
}

/** Consecutive events, purchases and attributes in one `/users/track` body; its item errors map back to their events. */
async function applyTrackRun(
  deps: IngestDeps,
  workspaceId: string,
  device: Device,
  run: MappedEvent[],
  result: IngestResult,
  fail: (e: MappedEvent, err: unknown) => void,
): Promise<void> {
  let userId: string;
  try {
    const user = await userByDeviceId(deps.db, workspaceId, device.device_id);
    if (!user) throw new UnknownDevice();
    userId = user.id;
  } catch (err) {
    for (const e of run) fail(e, err);
    return;
  }
  const body: Record<TrackArray, unknown[]> = { attributes: [], events: [], purchases: [] };
  const owners: Record<TrackArray, MappedEvent[]> = { attributes: [], events: [], purchases: [] };
  for (const e of run) {
    if (e.op.kind !== 'track') continue;
    for (const [name, items] of Object.entries(e.op.body(userId, device.app_id)) as Array<[TrackArray, unknown[]]>) {
      body[name].push(...items);
      owners[name].push(...items.map(() => e));
    }
  }
  try {
    const response = await deps.tracker.track(workspaceId, body);
    const bad = new Set<MappedEvent>();
    for (const problem of response.errors ?? []) {
      const owner = owners[problem.input_array as TrackArray]?.[Number(problem.index)];
      if (owner && !bad.has(owner)) {
        bad.add(owner);
        fail(owner, new ApiError(400, String(problem.type), [problem]));
      }
    }
    result.accepted += run.length - bad.size;
  } catch (err) {
    for (const e of run) fail(e, err);
  }
}

/** A content card or in-app message interaction of the device's user (the message must be theirs). */
async function applyMessageEvent(deps: IngestDeps, workspaceId: string, device: Device, clientEventId: string, op: Extract<MappedEvent['op'], { kind: 'content_card' | 'in_app_message' }>): Promise<void> {
  const user = await userByDeviceId(deps.db, workspaceId, device.device_id);
  if (!user) throw new UnknownDevice();
  const who = { id: user.id, external_id: user.external_id, time_zone: user.time_zone };
  const reporting = { app_id: device.app_id, device_id: device.device_id, os_version: device.os_version, device_model: device.device_model };
  if (op.kind === 'content_card') {
    await recordCardInteraction(deps.db, { workspaceId, user: who, cardId: op.cardId, kind: op.interaction, device: reporting, clientEventId, timeMs: op.timeMs });
  } else {
    await recordInAppInteraction(deps.db, { workspaceId, user: who, messageId: op.messageId, kind: op.interaction, buttonId: op.buttonId, device: reporting, clientEventId, timeMs: op.timeMs });
  }
}
