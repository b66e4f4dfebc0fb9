/**
 * Builders for the events the core itself produces (docs/reference/currents.md §1, "What the core produces").
 * Pure: a profile and an input in, a Currents-format event out, with a fresh UUID id.
 */
import { randomUUID } from 'node:crypto';
import type { LogEvent } from '../events/index.js';
import type { User, UserRef } from '../identity/index.js';
import type { SubscriptionChange } from './apply-attributes.js';
import type { EventItem, PurchaseItem } from './validate.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

function userBlock(user: UserRef, deviceId?: string | null): LogEvent['user'] {
  const block: LogEvent['user'] = { user_id: user.id };
  if (user.external_id) block.external_user_id = user.external_id;
  if (deviceId) block.device_id = deviceId;
  if (user.time_zone) block.timezone = user.time_zone;
  return block;
}

function compact(props: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(props)) if (props[k] === undefined) delete props[k];
  return props;
}

export function customEvent(user: UserRef, item: EventItem, workspaceId: string): LogEvent {
  return {
    event_type: 'users.behaviors.CustomEvent',
    id: randomUUID(),
    time: seconds(item.timeMs),
    user: userBlock(user),
    properties: compact({
      app_id: item.appId,
      name: item.name,
      custom_properties: item.properties,
      app_group_id: workspaceId,
    }),
  };
}

/** Braze counts quantity X as X purchases of one: X events, each with its own id. */
export function purchaseEvents(user: UserRef, item: PurchaseItem, workspaceId: string): LogEvent[] {
  return Array.from({ length: item.quantity }, () => ({
    event_type: 'users.behaviors.Purchase',
    id: randomUUID(),
    time: seconds(item.timeMs),
    user: userBlock(user),
    properties: compact({
      app_id: item.appId,
      product_id: item.productId,
      price: item.price,
      currency: item.currency,
      purchase_properties: item.properties,
      app_group_id: workspaceId,
    }),
  }));
}

const STATUS_NAMES: Record<string, string> = { subscribed: 'Subscribed', unsubscribed: 'Unsubscribed', opted_in: 'Opted In' };

export function subscriptionStateChange(user: User, change: SubscriptionChange, workspaceId: string, nowMs: number): LogEvent {
  return {
    event_type: 'users.behaviors.subscription.GlobalStateChange',
    id: randomUUID(),
    time: seconds(nowMs),
    user: userBlock(user),
    properties: compact({
      app_group_id: workspaceId,
      channel: change.channel,
      subscription_status: STATUS_NAMES[change.status] ?? change.status,
      state_change_source: 'REST API',
      email_address: change.channel === 'email' ? (user.email ?? undefined) : undefined,
    }),
  };
}

export interface DeviceContext {
  device_id: string;
  app_id: string;
  platform?: string | undefined;
  os_version?: string | undefined;
  device_model?: string | undefined;
  sdk_version?: string | undefined;
}

function deviceProps(d: DeviceContext): Record<string, unknown> {
  return { platform: d.platform, os_version: d.os_version, device_model: d.device_model };
}

export function sessionStart(user: User, d: DeviceContext, sessionId: string, timeMs: number, workspaceId: string): LogEvent {
  return {
    event_type: 'users.behaviors.app.SessionStart',
    id: randomUUID(),
    time: seconds(timeMs),
    user: userBlock(user, d.device_id),
    properties: compact({ app_id: d.app_id, session_id: sessionId, app_group_id: workspaceId, ...deviceProps(d) }),
  };
}

export function firstSession(user: User, d: DeviceContext, sessionId: string, timeMs: number, workspaceId: string): LogEvent {
  return {
    event_type: 'users.behaviors.app.FirstSession',
    id: randomUUID(),
    time: seconds(timeMs),
    user: userBlock(user, d.device_id),
    properties: compact({
      app_id: d.app_id,
      session_id: sessionId,
      app_group_id: workspaceId,
      gender: user.gender ?? undefined,
      country: user.country ?? undefined,
      language: user.language ?? undefined,
      sdk_version: d.sdk_version,
      ...deviceProps(d),
    }),
  };
}

export function sessionEnd(
  user: User,
  d: DeviceContext,
  sessionId: string,
  durationSeconds: number | undefined,
  timeMs: number,
  workspaceId: string,
): LogEvent {
  return {
    event_type: 'users.behaviors.app.SessionEnd',
    id: randomUUID(),
    time: seconds(timeMs),
    user: userBlock(user, d.device_id),
    properties: compact({ app_id: d.app_id, session_id: sessionId, duration: durationSeconds, app_group_id: workspaceId, ...deviceProps(d) }),
  };
}

export interface Location {
  latitude: number;
  longitude: number;
  altitude?: number | undefined;
  ll_accuracy?: number | undefined;
  alt_accuracy?: number | undefined;
}

export function locationEvent(user: User, d: DeviceContext, loc: Location, timeMs: number, workspaceId: string): LogEvent {
  return {
    event_type: 'users.behaviors.Location',
    id: randomUUID(),
    time: seconds(timeMs),
    user: userBlock(user, d.device_id),
    properties: compact({ app_id: d.app_id, ...loc, app_group_id: workspaceId, ...deviceProps(d) }),
  };
}
