/**
 * Devices and sessions of users (the SDK-style session endpoint, rest-api.md §3): which user holds a
 * device, and the session counters kept on the profile.
 */
import type { Queryable } from '../storage/index.js';

export interface DeviceFields {
  device_id: string;
  app_id: string;
  platform?: string | undefined;
  os_version?: string | undefined;
  device_model?: string | undefined;
}

/** The device now belongs to `userId`, with the details given (missing ones keep their value). */
export async function upsertDevice(tx: Queryable, workspaceId: string, userId: string, d: DeviceFields): Promise<void> {
  await tx.query(
    `INSERT INTO user_devices (workspace_id, device_id, user_id, app_id, platform, os_version, device_model)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workspace_id, device_id) DO UPDATE SET user_id = EXCLUDED.user_id, app_id = EXCLUDED.app_id,
       platform = coalesce(EXCLUDED.platform, user_devices.platform),
       os_version = coalesce(EXCLUDED.os_version, user_devices.os_version),
       device_model = coalesce(EXCLUDED.device_model, user_devices.device_model), updated_at = now()`,
    [workspaceId, d.device_id, userId, d.app_id, d.platform ?? null, d.os_version ?? null, d.device_model ?? null],
  );
}

/** Moves a device to another user (the SDK's change of user to an identified profile). */
export async function moveDevice(tx: Queryable, workspaceId: string, deviceId: string, userId: string): Promise<void> {
  await tx.query('UPDATE user_devices SET user_id = $3, updated_at = now() WHERE workspace_id = $1 AND device_id = $2', [workspaceId, deviceId, userId]);
}

/** Counts a session that started at `timeMs` on the (locked) user's profile. */
export async function recordSessionStart(tx: Queryable, userId: string, timeMs: number): Promise<void> {
  await tx.query(
    `UPDATE users SET session_count = session_count + 1,
        first_session_at = least(coalesce(first_session_at, to_timestamp($2 / 1000.0)), to_timestamp($2 / 1000.0)),
        last_session_at = greatest(coalesce(last_session_at, to_timestamp($2 / 1000.0)), to_timestamp($2 / 1000.0)),
        updated_at = now()
      WHERE id = $1`,
    [userId, timeMs],
  );
}
