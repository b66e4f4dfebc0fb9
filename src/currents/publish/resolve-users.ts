/**
 * User resolution for the publish API (docs/reference/currents.md §4): `user.user_id` must name a user of the
 * workspace; without it the user is found by `external_user_id`, then by `device_id`. Every id that
 * is given must agree with the user found; missing `user_id` and `external_user_id` are filled in
 * from the profile. Lookups are batched per request; the decision per event is a pure function.
 */
import { usersByDeviceIds, usersByExternalIds, usersByIds } from '../../identity/index.js';
import type { Queryable } from '../../storage/index.js';
import type { CurrentsEvent } from '../../events/index.js';

export interface KnownUser {
  id: string;
  externalId: string | null;
}

export interface UserDirectory {
  byId: Map<string, KnownUser>;
  byExternalId: Map<string, KnownUser>;
  /** device id → the user holding it. */
  byDevice: Map<string, KnownUser>;
}

export type Resolution =
  | { ok: true; user: CurrentsEvent['user'] }
  | { ok: false; type: string; path: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const given = (v: string | null | undefined): v is string => typeof v === 'string' && v !== '';

/** Loads every user the events name, in three queries. */
export async function loadUserDirectory(tx: Queryable, workspaceId: string, events: readonly CurrentsEvent[]): Promise<UserDirectory> {
  const ids = new Set<string>();
  const externalIds = new Set<string>();
  const devices = new Set<string>();
  for (const e of events) {
    if (given(e.user.user_id) && UUID.test(e.user.user_id)) ids.add(e.user.user_id.toLowerCase());
    if (given(e.user.external_user_id)) externalIds.add(e.user.external_user_id);
    if (given(e.user.device_id)) devices.add(e.user.device_id);
  }
  const toKnown = (u: { id: string; external_id: string | null }): KnownUser => ({ id: u.id, externalId: u.external_id });
  const byId = new Map((await usersByIds(tx, workspaceId, [...ids])).map((u) => [u.id, toKnown(u)]));
  const byExternalId = new Map((await usersByExternalIds(tx, workspaceId, [...externalIds])).map((u) => [u.external_id!, toKnown(u)]));
  const byDevice = new Map<string, KnownUser>();
  for (const [deviceId, u] of await usersByDeviceIds(tx, workspaceId, [...devices])) byDevice.set(deviceId, toKnown(u));
  return { byId, byExternalId, byDevice };
}

/**
 * The user block to store for one event, or why the event fails. `userIdNullable` is the
 * catalogue's word on the type: only then may an event be stored without a user.
 */
export function resolveUser(user: CurrentsEvent['user'], userIdNullable: boolean, directory: UserDirectory): Resolution {
  const { user_id: userId, external_user_id: externalId, device_id: deviceId } = user;
  let found: KnownUser | undefined;
  if (given(userId)) {
    found = UUID.test(userId) ? directory.byId.get(userId.toLowerCase()) : undefined;
    if (!found) return { ok: false, type: 'unknown user', path: 'user.user_id' };
  } else if (given(externalId)) {
    found = directory.byExternalId.get(externalId);
  } else if (given(deviceId)) {
    found = directory.byDevice.get(deviceId);
  }
  if (!found) {
    if (userIdNullable) return { ok: true, user: { ...user } };
    return { ok: false, type: 'unknown user', path: given(externalId) ? 'user.external_user_id' : given(deviceId) ? 'user.device_id' : 'user' };
  }
  if (given(externalId) && found.externalId !== externalId) {
    return { ok: false, type: 'user ids disagree: external_user_id names another user', path: 'user.external_user_id' };
  }
  if (given(deviceId)) {
    const holder = directory.byDevice.get(deviceId);
    if (holder && holder.id !== found.id) return { ok: false, type: 'user ids disagree: device_id belongs to another user', path: 'user.device_id' };
  }
  const resolved: CurrentsEvent['user'] = { ...user, user_id: found.id };
  if (!given(externalId) && found.externalId !== null) resolved.external_user_id = found.externalId;
  return { ok: true, user: resolved };
}
