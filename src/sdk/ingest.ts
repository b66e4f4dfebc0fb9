/**
 * Applies an SDK upload through the tracking path: sessions and changes of user through the
 * session functions of src/tracking, custom events, purchases and attributes through the same
 * tracker as `/users/track` (the device's user named by its internal id). Each event is claimed by
 * its client id first, so a retried upload applies nothing twice; a failed event gives its claim back.
 */
import { apiErrorOf, ApiError } from '../http/index.js';
import { DomainError } from '../errors/index.js';
import { userByDeviceId, type MergeParticipant } from '../identity/index.js';
import type { Db } from '../storage/index.js';
import { changeUser, endSession, startSession, type Tracker } from '../tracking/index.js';
import { UnknownDevice } from '../errors/index.js';
import type { BatchBody } from './contract.js';
import type { MappedEvent } from './batch.js';
import { claimClientEvent, releaseClientEvent, type SdkApp } from './store.js';

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

export async function ingestBatch(deps: IngestDeps, app: SdkApp, body: BatchBody, events: MappedEvent[]): Promise<IngestResult> {
  const result: IngestResult = { message: 'success', accepted: 0, duplicates: 0, errors: [] };
  const device = {
    device_id: body.device_id,
    app_id: app.id,
    platform: 'web',
    sdk_version: body.sdk_version,
    os_version: body.os_version,
    device_model: body.device_model,
  };
  for (const e of events) {
    if (!(await claimClientEvent(deps.db, app.id, e.id))) {
      result.duplicates++;
      continue;
    }
    try {
      await applyOne(deps, app.workspace_id, device, e);
      result.accepted++;
    } catch (err) {
      await releaseClientEvent(deps.db, app.id, e.id);
      if (!(err instanceof ApiError) && !(err instanceof DomainError)) throw err;
      const api = apiErrorOf(err);
      result.errors.push({ id: e.id, index: e.index, type: api.message, status: api.statusCode });
    }
  }
  return result;
}

async function applyOne(deps: IngestDeps, workspaceId: string, device: Parameters<typeof startSession>[2] & object, e: MappedEvent): Promise<void> {
  const op = e.op;
  switch (op.kind) {
    case 'session_start':
      await startSession(deps.db, workspaceId, { ...device, session_id: op.sessionId, time: op.time });
      return;
    case 'session_end':
      await endSession(deps.db, workspaceId, { ...device, session_id: op.sessionId, time: op.time, duration: op.duration });
      return;
    case 'change_user':
      await changeUser(deps.db, workspaceId, { device_id: device.device_id, external_id: op.externalId }, deps.mergeParticipants);
      return;
    case 'track': {
      const user = await userByDeviceId(deps.db, workspaceId, device.device_id);
      if (!user) throw new UnknownDevice();
      const response = await deps.tracker.track(workspaceId, op.body(user.id, device.app_id));
      const problem = response.errors?.[0];
      if (problem) throw new ApiError(400, String(problem.type ?? 'invalid event'), [problem]);
      return;
    }
  }
}
