import { describe, expect, it } from 'vitest';
import {
  CURRENTS_EVENT_TYPES,
  SELECTABLE_EVENT_TYPES,
  eventTypeSpec,
  fieldPlacement,
  isKnownEventType,
  isSelectableType,
  validateCurrentsEvent,
  type CurrentsEvent,
} from './catalogue.js';

const NOW = 1_700_000_000;
const s = { type: 'string', nullable: false } as const;
const s_ = { type: 'string', nullable: true } as const;

function fieldsOf(type: string): Record<string, { type: string; nullable: boolean }> {
  const spec = eventTypeSpec(type);
  if (!spec) throw new Error(`no spec for ${type}`);
  return Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, { type: f.type, nullable: f.nullable }]));
}

describe('catalogue contents', () => {
  it('lists every type of docs/reference/currents.md §1, legacy included, and nothing else', () => {
    expect(CURRENTS_EVENT_TYPES).toHaveLength(56);
    expect(CURRENTS_EVENT_TYPES.filter((t) => t.startsWith('users.behaviors.'))).toHaveLength(10);
    expect(CURRENTS_EVENT_TYPES.filter((t) => t.startsWith('users.campaigns.'))).toHaveLength(3);
    expect(CURRENTS_EVENT_TYPES.filter((t) => t.startsWith('users.canvas.'))).toHaveLength(7);
    const channels = ['contentcard', 'email', 'inappmessage', 'pushnotification', 'sms', 'webhook', 'newsfeedcard'];
    expect(channels.map((c) => CURRENTS_EVENT_TYPES.filter((t) => t.startsWith(`users.messages.${c}.`)).length)).toEqual([5, 10, 3, 5, 8, 2, 3]);
    expect(new Set(CURRENTS_EVENT_TYPES).size).toBe(56);
  });

  it('excludes the types the reference leaves out of this version', () => {
    for (const t of ['users.messages.whatsapp.Send', 'users.messages.email.Retry', 'users.messages.webhook.Failure', 'users.canvasstep.Progression']) {
      expect(isKnownEventType(t)).toBe(false);
    }
  });

  it('records category and channel', () => {
    expect(eventTypeSpec('users.behaviors.Purchase')).toMatchObject({ category: 'behaviors', channel: null, legacy: false });
    expect(eventTypeSpec('users.campaigns.Conversion')).toMatchObject({ category: 'campaigns', channel: null });
    expect(eventTypeSpec('users.canvas.exit.PerformedEvent')).toMatchObject({ category: 'canvas', channel: null });
    expect(eventTypeSpec('users.messages.sms.CarrierSend')).toMatchObject({ category: 'messages', channel: 'sms' });
    expect(eventTypeSpec('users.messages.newsfeedcard.Click')).toMatchObject({ category: 'messages', channel: 'newsfeedcard', legacy: true });
  });

  it('builds CustomEvent from BASE CTX DEVICE AD plus its other fields', () => {
    expect(fieldsOf('users.behaviors.CustomEvent')).toEqual({
      id: s,
      user_id: s,
      external_user_id: s_,
      time: { type: 'int', nullable: false },
      app_group_id: s_,
      timezone: s_,
      platform: s_,
      os_version: s_,
      device_model: s_,
      device_id: s_,
      ad_id: s_,
      ad_id_type: s_,
      ad_tracking_enabled: { type: 'boolean', nullable: true },
      app_id: s_,
      name: s,
      custom_properties: { type: 'object', nullable: true },
    });
  });

  it('lets the other-fields spec win over a group', () => {
    expect(fieldsOf('users.canvas.exit.MatchedAudience')['app_group_id']).toEqual(s);
    expect(fieldsOf('users.messages.pushnotification.Abort')['platform']).toEqual(s);
    expect(fieldsOf('users.messages.pushnotification.Bounce')['platform']).toEqual(s_);
    expect(fieldsOf('users.behaviors.subscription.GlobalStateChange')['campaign_id']).toEqual(s_);
    expect(fieldsOf('users.behaviors.Location')['app_id']).toEqual(s);
    expect(fieldsOf('users.messages.inappmessage.Abort')['app_id']).toEqual(s_);
    expect(fieldsOf('users.messages.inappmessage.Abort')['version']).toEqual(s);
    expect(fieldsOf('users.messages.email.Click')['suspected_bot_click_reason']).toEqual({ type: 'array<string>', nullable: true });
  });

  it('gives sms.InboundReceive a nullable user_id and no BASE group', () => {
    const f = fieldsOf('users.messages.sms.InboundReceive');
    expect(f['user_id']).toEqual(s_);
    expect(f['app_group_id']).toEqual(s);
    expect(f['media_urls']).toEqual({ type: 'array<string?>', nullable: true });
    expect(f['timezone']).toBeUndefined();
  });

  it('places fields in the envelope as §4 says', () => {
    expect(['id', 'time', 'event_type'].map(fieldPlacement)).toEqual(['top', 'top', 'top']);
    expect(['user_id', 'external_user_id', 'device_id', 'timezone'].map(fieldPlacement)).toEqual(['user', 'user', 'user', 'user']);
    expect(fieldPlacement('app_group_id')).toBe('properties');
    expect(eventTypeSpec('users.messages.newsfeedcard.Click')!.fields['timezone']!.placement).toBe('user');
  });

  it('makes every type but the legacy ones selectable', () => {
    expect(SELECTABLE_EVENT_TYPES).toHaveLength(53);
    expect(isSelectableType('users.messages.email.Deferral')).toBe(true);
    expect(isSelectableType('users.messages.newsfeedcard.Click')).toBe(false);
    expect(isSelectableType('users.messages.whatsapp.Send')).toBe(false);
  });
});

function customEvent(over: Partial<CurrentsEvent> = {}): Record<string, unknown> {
  return {
    event_type: 'users.behaviors.CustomEvent',
    id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    time: 1477502783,
    user: { user_id: '639a35d1', external_user_id: 'u42', device_id: 'dev_1', timezone: 'America/Chicago' },
    properties: {
      app_id: 'web',
      platform: 'ios',
      os_version: '17.6.1',
      device_model: 'iPhone 15',
      name: 'rented_movie',
      custom_properties: { movie: 'The Sad Egg' },
    },
    ...over,
  };
}

const errorsOf = (raw: unknown, now = NOW) => {
  const r = validateCurrentsEvent(raw, now);
  return r.ok ? [] : r.errors;
};

describe('validateCurrentsEvent', () => {
  it('accepts the §4 example and returns it in canonical shape', () => {
    const r = validateCurrentsEvent(customEvent(), NOW);
    expect(r).toEqual({ ok: true, event: customEvent() });
  });

  it('rejects a non-object', () => {
    expect(errorsOf([])).toEqual([{ type: 'invalid event', path: '' }]);
    expect(errorsOf('x')).toEqual([{ type: 'invalid event', path: '' }]);
  });

  it('rejects an unknown or missing event_type', () => {
    expect(errorsOf(customEvent({ event_type: 'users.behaviors.Nope' }))).toEqual([{ type: 'unknown event_type', path: 'event_type' }]);
    const { event_type: _, ...noType } = customEvent();
    expect(errorsOf(noType)).toEqual([{ type: 'missing field event_type', path: 'event_type' }]);
  });

  it('checks id: a string of 1 to 128 characters', () => {
    expect(errorsOf(customEvent({ id: '' }))).toEqual([{ type: 'invalid id', path: 'id' }]);
    expect(errorsOf(customEvent({ id: 'x'.repeat(129) }))).toEqual([{ type: 'invalid id', path: 'id' }]);
    expect(errorsOf(customEvent({ id: 'x'.repeat(128) }))).toEqual([]);
    expect(errorsOf(customEvent({ id: 12 as unknown as string }))).toEqual([{ type: 'invalid id', path: 'id' }]);
    const { id: _, ...noId } = customEvent();
    expect(errorsOf(noId)).toEqual([{ type: 'missing field id', path: 'id' }]);
  });

  it('checks time: an integer ≥ 0, at most one hour ahead', () => {
    expect(errorsOf(customEvent({ time: -1 }))).toEqual([{ type: 'invalid time', path: 'time' }]);
    expect(errorsOf(customEvent({ time: 1.5 }))).toEqual([{ type: 'invalid time', path: 'time' }]);
    expect(errorsOf(customEvent({ time: '1477502783' as unknown as number }))).toEqual([{ type: 'invalid time', path: 'time' }]);
    expect(errorsOf(customEvent({ time: NOW + 3601 }))).toEqual([{ type: 'invalid time', path: 'time' }]);
    expect(errorsOf(customEvent({ time: NOW + 3600 }))).toEqual([]);
    expect(errorsOf(customEvent({ time: 0 }))).toEqual([]);
  });

  it('requires non-nullable fields, except user.user_id', () => {
    const e = customEvent();
    delete (e['properties'] as Record<string, unknown>)['name'];
    expect(errorsOf(e)).toEqual([{ type: 'missing field name', path: 'properties.name' }]);
    expect(errorsOf(customEvent({ user: { external_user_id: 'u42' } }))).toEqual([]);
    expect(errorsOf(customEvent({ user: { user_id: null, external_user_id: 'u42' } }))).toEqual([]);
    expect(errorsOf({ ...customEvent(), properties: { name: null } })).toEqual([{ type: 'missing field name', path: 'properties.name' }]);
    expect(errorsOf({ ...customEvent(), user: undefined, properties: { name: 'x' } })).toEqual([]);
  });

  it('accepts null for nullable fields', () => {
    expect(errorsOf(customEvent({ user: { user_id: 'u', external_user_id: null, device_id: null, timezone: null } }))).toEqual([]);
    expect(errorsOf({ ...customEvent(), properties: { name: 'x', app_id: null, custom_properties: null } })).toEqual([]);
  });

  it('checks types: int, float, boolean, object, arrays', () => {
    const loc = (p: Record<string, unknown>) => ({
      event_type: 'users.behaviors.Location',
      id: 'e1',
      time: 1,
      user: { user_id: 'u' },
      properties: { app_id: 'a', latitude: 1.5, longitude: 2, ...p },
    });
    expect(errorsOf(loc({}))).toEqual([]);
    expect(errorsOf(loc({ latitude: '1.5' }))).toEqual([{ type: 'invalid field latitude', path: 'properties.latitude' }]);
    expect(errorsOf(loc({ ad_tracking_enabled: 'yes' }))).toEqual([{ type: 'invalid field ad_tracking_enabled', path: 'properties.ad_tracking_enabled' }]);
    const deferral = (p: Record<string, unknown>) => ({
      event_type: 'users.messages.email.Deferral',
      id: 'e1',
      time: 1,
      user: { user_id: 'u' },
      properties: { email_address: 'a@b.c', ...p },
    });
    expect(errorsOf(deferral({ attempt_count: 2 }))).toEqual([]);
    expect(errorsOf(deferral({ attempt_count: 2.5 }))).toEqual([{ type: 'invalid field attempt_count', path: 'properties.attempt_count' }]);
    expect(errorsOf({ ...customEvent(), properties: { name: 'x', custom_properties: [1] } })).toEqual([
      { type: 'invalid field custom_properties', path: 'properties.custom_properties' },
    ]);
    const click = (reason: unknown) => ({
      event_type: 'users.messages.email.Click',
      id: 'e1',
      time: 1,
      user: { user_id: 'u' },
      properties: { email_address: 'a@b.c', suspected_bot_click_reason: reason },
    });
    expect(errorsOf(click(['a', 'b']))).toEqual([]);
    expect(errorsOf(click(['a', null]))).toEqual([{ type: 'invalid field suspected_bot_click_reason', path: 'properties.suspected_bot_click_reason' }]);
    const inbound = (urls: unknown) => ({
      event_type: 'users.messages.sms.InboundReceive',
      id: 'e1',
      time: 1,
      user: {},
      properties: { app_group_id: 'ws', user_phone_number: '+1', inbound_phone_number: '+2', action: 'STOP', message_body: 'stop', media_urls: urls },
    });
    expect(errorsOf(inbound(['a', null]))).toEqual([]);
    expect(errorsOf(inbound([1]))).toEqual([{ type: 'invalid field media_urls', path: 'properties.media_urls' }]);
    expect(errorsOf(customEvent({ user: { user_id: 7 as unknown as string } }))).toEqual([{ type: 'invalid field user_id', path: 'user.user_id' }]);
  });

  it('rejects unknown fields at every level, and user fields placed in properties', () => {
    expect(errorsOf({ ...customEvent(), extra: 1 })).toEqual([{ type: 'unknown field extra', path: 'extra' }]);
    expect(errorsOf(customEvent({ user: { user_id: 'u', email: 'x' } as CurrentsEvent['user'] }))).toEqual([
      { type: 'unknown field email', path: 'user.email' },
    ]);
    expect(errorsOf({ ...customEvent(), properties: { name: 'x', nmae: 'y' } })).toEqual([{ type: 'unknown field nmae', path: 'properties.nmae' }]);
    expect(errorsOf({ ...customEvent(), properties: { name: 'x', device_id: 'd' } })).toEqual([
      { type: 'unknown field device_id', path: 'properties.device_id' },
    ]);
    expect(errorsOf({ ...customEvent(), properties: { name: 'x', id: 'd' } })).toEqual([{ type: 'unknown field id', path: 'properties.id' }]);
  });

  it('accepts device_id and timezone in user on any type', () => {
    const conv = {
      event_type: 'users.campaigns.Conversion',
      id: 'e1',
      time: 1,
      user: { user_id: 'u', device_id: 'd', timezone: 'UTC' },
      properties: { campaign_id: 'c' },
    };
    expect(eventTypeSpec('users.campaigns.Conversion')!.fields['device_id']).toBeUndefined();
    expect(errorsOf(conv)).toEqual([]);
    expect(errorsOf({ ...conv, user: { device_id: 5 } })).toEqual([{ type: 'invalid field device_id', path: 'user.device_id' }]);
  });

  it('rejects user or properties that are not objects', () => {
    expect(errorsOf({ ...customEvent(), user: 'u42' })).toEqual([{ type: 'invalid field user', path: 'user' }]);
    expect(errorsOf({ ...customEvent(), properties: [] })).toEqual([
      { type: 'invalid field properties', path: 'properties' },
    ]);
  });

  it('rejects an event over 900 KiB serialized', () => {
    const big = (n: number) => ({ ...customEvent(), properties: { name: 'x', custom_properties: { blob: 'a'.repeat(n) } } });
    const base = Buffer.byteLength(JSON.stringify(big(0)));
    expect(errorsOf(big(900 * 1024 - base))).toEqual([]);
    expect(errorsOf(big(900 * 1024 - base + 1))).toEqual([{ type: 'event too large', path: '' }]);
  });

  it('reports every error of an event, not just the first', () => {
    expect(errorsOf({ event_type: 'users.behaviors.Purchase', id: '', time: -5, properties: { price: 'free' } })).toEqual([
      { type: 'invalid id', path: 'id' },
      { type: 'invalid time', path: 'time' },
      { type: 'missing field product_id', path: 'properties.product_id' },
      { type: 'invalid field price', path: 'properties.price' },
      { type: 'missing field currency', path: 'properties.currency' },
    ]);
  });
});

/**
 * Events shaped exactly as the core's builders produce them (src/tracking/core-events.ts): the
 * validator is the contract those builders must meet.
 */
describe('events the core produces', () => {
  const user = { user_id: '0b9f7d1e-3c1a-4c55-9d0e-1f1e7f2a9c11', external_user_id: 'u42', timezone: 'Europe/Paris' };
  const withDevice = { ...user, device_id: 'dev_1' };
  const samples: Record<string, unknown>[] = [
    {
      event_type: 'users.behaviors.CustomEvent',
      id: 'a1b2c3d4-0000-4000-8000-000000000001',
      time: 1_699_999_000,
      user,
      properties: { app_id: 'app_1', name: 'rented_movie', custom_properties: { movie: 'The Sad Egg', nested: { a: [1, 2] } }, app_group_id: 'ws_1' },
    },
    {
      event_type: 'users.behaviors.CustomEvent',
      id: 'a1b2c3d4-0000-4000-8000-000000000002',
      time: 1_699_999_000,
      user: { user_id: user.user_id },
      properties: { name: 'anonymous_thing', app_group_id: 'ws_1' },
    },
    {
      event_type: 'users.behaviors.Purchase',
      id: 'a1b2c3d4-0000-4000-8000-000000000003',
      time: 1_699_999_000,
      user,
      properties: { app_id: 'app_1', product_id: 'sku_9', price: 12.5, currency: 'EUR', purchase_properties: { color: 'red' }, app_group_id: 'ws_1' },
    },
    {
      event_type: 'users.behaviors.Purchase',
      id: 'a1b2c3d4-0000-4000-8000-000000000004',
      time: 1_699_999_000,
      user,
      properties: { product_id: 'sku_9', price: 0, currency: 'USD', app_group_id: 'ws_1' },
    },
    {
      event_type: 'users.behaviors.subscription.GlobalStateChange',
      id: 'a1b2c3d4-0000-4000-8000-000000000005',
      time: 1_699_999_000,
      user,
      properties: { app_group_id: 'ws_1', channel: 'email', subscription_status: 'Unsubscribed', state_change_source: 'REST API', email_address: 'a@b.com' },
    },
    {
      event_type: 'users.behaviors.app.SessionStart',
      id: 'a1b2c3d4-0000-4000-8000-000000000006',
      time: 1_699_999_000,
      user: withDevice,
      properties: { app_id: 'app_1', session_id: 's1', app_group_id: 'ws_1', platform: 'ios', os_version: '17.6.1', device_model: 'iPhone 15' },
    },
    {
      event_type: 'users.behaviors.app.FirstSession',
      id: 'a1b2c3d4-0000-4000-8000-000000000007',
      time: 1_699_999_000,
      user: withDevice,
      properties: {
        app_id: 'app_1',
        session_id: 's1',
        app_group_id: 'ws_1',
        gender: 'F',
        country: 'FR',
        language: 'fr',
        sdk_version: '1.2.3',
        platform: 'android',
      },
    },
    {
      event_type: 'users.behaviors.app.SessionEnd',
      id: 'a1b2c3d4-0000-4000-8000-000000000008',
      time: 1_699_999_000,
      user: withDevice,
      properties: { app_id: 'app_1', session_id: 's1', duration: 42.5, app_group_id: 'ws_1' },
    },
    {
      event_type: 'users.behaviors.Location',
      id: 'a1b2c3d4-0000-4000-8000-000000000009',
      time: 1_699_999_000,
      user: withDevice,
      properties: { app_id: 'app_1', latitude: 48.85, longitude: 2.35, altitude: 35, ll_accuracy: 5, alt_accuracy: 3, app_group_id: 'ws_1' },
    },
  ];

  it.each(samples.map((e) => [e['event_type'] as string, e]))('%s passes the validator', (_type, event) => {
    expect(validateCurrentsEvent(event, NOW)).toEqual({ ok: true, event });
  });
});
