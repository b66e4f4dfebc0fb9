/**
 * Golden tests for the Currents → Mixpanel mapping (docs/reference/currents.md §2). Every expected event is
 * written out by hand from the reference; none is computed by the code under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENTS_EVENT_TYPES, validateCurrentsEvent, type CurrentsEvent } from '../../events/catalogue.js';
import { insertIdFor, uuidV5 } from './insert-id.js';
import { mapCurrentsEvent, mapForImport, skipReason, toMixpanelEvent, type MixpanelEvent, type MixpanelMappingSettings } from './mapping.js';

const T = 1_700_000_000;
const ID = 'a3bb189e-8bf9-3888-9912-ace4e6543002';
const USER = { user_id: 'b_1', external_user_id: 'u42', device_id: 'dev_1', timezone: 'Europe/Paris' };
const NO_DEVICE = { user_id: 'b_1', external_user_id: 'u42', timezone: 'Europe/Paris' };
const SETTINGS: MixpanelMappingSettings = { selectedTypes: new Set(CURRENTS_EVENT_TYPES), token: 'tok' };
/** The five properties every mapped event starts with, for an event with id `ID`. */
const HEAD = { distinct_id: 'u42', $insert_id: ID, time: T, token: 'tok', $partner_id: 'rivulet' };

interface Golden {
  type: string;
  id?: string;
  user?: CurrentsEvent['user'];
  properties: Record<string, unknown>;
  expected: MixpanelEvent;
}

function eventOf(g: Golden): CurrentsEvent {
  return { event_type: g.type, id: g.id ?? ID, time: T, user: g.user ?? USER, properties: g.properties };
}

const GOLDEN: Golden[] = [
  // Behaviors
  {
    type: 'users.behaviors.CustomEvent',
    properties: {
      app_id: 'app_1',
      platform: 'ios',
      os_version: '17.6.1',
      device_model: 'iPhone 15',
      ad_id: null,
      name: 'rented_movie',
      custom_properties: { movie: 'The Sad Egg', stars: 4, tags: ['a', 'b'], meta: { x: 1 }, gone: null },
      app_group_id: 'ws_1',
    },
    expected: {
      event: '[Braze Custom Event] rented_movie',
      properties: {
        ...HEAD,
        $device: 'iPhone 15',
        $os: '17.6.1',
        device_id: 'dev_1',
        app_id: 'app_1',
        platform: 'ios',
        name: 'rented_movie',
        '[Custom event property] movie': 'The Sad Egg',
        '[Custom event property] stars': 4,
        '[Custom event property] tags': ['a', 'b'],
        '[Custom event property] meta': { x: 1 },
        '[Custom event property] gone': null,
        app_group_id: 'ws_1',
      },
    },
  },
  {
    type: 'users.behaviors.InstallAttribution',
    user: NO_DEVICE,
    properties: { source: 'Organic', app_group_id: 'ws_1' },
    expected: { event: 'Install Attribution', properties: { ...HEAD, source: 'Organic', app_group_id: 'ws_1' } },
  },
  {
    type: 'users.behaviors.Location',
    properties: { app_id: 'app_1', latitude: 48.85, longitude: 2.35, altitude: null, ll_accuracy: 5, platform: 'android', ad_tracking_enabled: false },
    expected: {
      event: 'Location',
      properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', latitude: 48.85, longitude: 2.35, ll_accuracy: 5, platform: 'android', ad_tracking_enabled: false },
    },
  },
  {
    type: 'users.behaviors.Purchase',
    properties: {
      app_id: 'app_1',
      product_id: 'sku_9',
      price: 12.5,
      currency: 'EUR',
      purchase_properties: { color: 'red', size: 42 },
      device_model: null,
      os_version: '14',
    },
    expected: {
      event: 'Purchase',
      properties: {
        ...HEAD,
        $os: '14',
        device_id: 'dev_1',
        app_id: 'app_1',
        product_id: 'sku_9',
        price: 12.5,
        currency: 'EUR',
        '[Purchase property] color': 'red',
        '[Purchase property] size': 42,
      },
    },
  },
  {
    type: 'users.behaviors.Uninstall',
    properties: { app_id: 'app_1', app_group_id: 'ws_1' },
    expected: { event: 'Uninstall', properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', app_group_id: 'ws_1' } },
  },
  {
    type: 'users.behaviors.app.FirstSession',
    properties: { app_id: 'app_1', session_id: 's1', gender: 'F', country: 'FR', language: 'fr', sdk_version: '1.2.3', platform: 'ios', app_group_id: 'ws_1' },
    expected: {
      event: 'First Session',
      properties: {
        ...HEAD,
        device_id: 'dev_1',
        app_id: 'app_1',
        session_id: 's1',
        gender: 'F',
        country: 'FR',
        language: 'fr',
        sdk_version: '1.2.3',
        platform: 'ios',
        app_group_id: 'ws_1',
      },
    },
  },
  {
    type: 'users.behaviors.app.SessionEnd',
    properties: { app_id: 'app_1', duration: 42.5, session_id: 's1', os_version: '17.6.1' },
    expected: { event: 'Session End', properties: { ...HEAD, $os: '17.6.1', device_id: 'dev_1', app_id: 'app_1', duration: 42.5, session_id: 's1' } },
  },
  {
    type: 'users.behaviors.app.SessionStart',
    properties: { app_id: 'app_1', session_id: 's1', device_model: 'Pixel 8' },
    expected: { event: 'Session Start', properties: { ...HEAD, $device: 'Pixel 8', device_id: 'dev_1', app_id: 'app_1', session_id: 's1' } },
  },
  {
    type: 'users.behaviors.subscription.GlobalStateChange',
    user: NO_DEVICE,
    properties: {
      app_group_id: 'ws_1',
      email_address: 'a@b.com',
      state_change_source: 'REST API',
      subscription_status: 'Unsubscribed',
      channel: 'email',
      canvas_id: null,
      campaign_id: 'c1',
    },
    expected: {
      event: 'Global Subscription State Change',
      properties: {
        ...HEAD,
        app_group_id: 'ws_1',
        email_address: 'a@b.com',
        state_change_source: 'REST API',
        subscription_status: 'Unsubscribed',
        channel: 'email',
        campaign_id: 'c1',
      },
    },
  },
  {
    type: 'users.behaviors.subscriptiongroup.StateChange',
    user: NO_DEVICE,
    properties: { subscription_group_id: 'sg_1', subscription_status: 'Subscribed', channel: 'sms', phone_number: '+15550001', send_id: 's1', dispatch_id: 'd1' },
    expected: {
      event: 'Subscription Group State Change',
      properties: {
        ...HEAD,
        subscription_group_id: 'sg_1',
        subscription_status: 'Subscribed',
        channel: 'sms',
        phone_number: '+15550001',
        send_id: 's1',
        dispatch_id: 'd1',
      },
    },
  },
  // Campaigns
  {
    type: 'users.campaigns.Abort',
    id: 'evt:2024/05/01#17',
    user: NO_DEVICE,
    properties: { campaign_id: 'c1', abort_type: 'quiet_hours', abort_log: 'quiet hours', canvas_id: 'cv1' },
    expected: {
      event: 'Campaign Abort',
      properties: {
        ...HEAD,
        $insert_id: '0f3279e7-6a80-5842-95d6-5cac3fbe6a90',
        campaign_id: 'c1',
        abort_type: 'quiet_hours',
        abort_log: 'quiet hours',
        canvas_id: 'cv1',
      },
    },
  },
  {
    type: 'users.campaigns.Conversion',
    user: NO_DEVICE,
    properties: { campaign_id: 'c1', conversion_behavior_index: 0, conversion_behavior: '{"type":"purchase"}', send_id: 's1' },
    expected: {
      event: 'Campaign Conversion',
      properties: { ...HEAD, campaign_id: 'c1', conversion_behavior_index: 0, conversion_behavior: '{"type":"purchase"}', send_id: 's1' },
    },
  },
  {
    type: 'users.campaigns.EnrollInControl',
    user: NO_DEVICE,
    properties: { campaign_id: 'c1', message_variation_id: 'mv1', app_group_id: 'ws_1' },
    expected: { event: 'Campaign Control Group Enrollment', properties: { ...HEAD, campaign_id: 'c1', message_variation_id: 'mv1', app_group_id: 'ws_1' } },
  },
  // Canvas
  {
    type: 'users.canvas.Abort',
    properties: { canvas_id: 'cv1', canvas_step_id: 'st1', abort_type: 'liquid_abort_message', canvas_step_message_variation_id: 'csmv1' },
    expected: {
      event: 'Canvas Abort',
      properties: {
        ...HEAD,
        device_id: 'dev_1',
        canvas_id: 'cv1',
        canvas_step_id: 'st1',
        abort_type: 'liquid_abort_message',
        canvas_step_message_variation_id: 'csmv1',
      },
    },
  },
  {
    type: 'users.canvas.Conversion',
    user: NO_DEVICE,
    properties: { canvas_id: 'cv1', canvas_variation_id: 'var1', conversion_behavior_index: 1 },
    expected: { event: 'Canvas Conversion', properties: { ...HEAD, canvas_id: 'cv1', canvas_variation_id: 'var1', conversion_behavior_index: 1 } },
  },
  {
    type: 'users.canvas.Entry',
    user: NO_DEVICE,
    properties: { canvas_id: 'cv1', canvas_variation_id: 'var1', in_control_group: false },
    expected: { event: 'Canvas Entry', properties: { ...HEAD, canvas_id: 'cv1', canvas_variation_id: 'var1', in_control_group: false } },
  },
  {
    type: 'users.canvas.exit.MatchedAudience',
    user: NO_DEVICE,
    properties: { app_group_id: 'ws_1', canvas_id: 'cv1', canvas_variation_id: 'var1', canvas_api_id: 'api_cv1' },
    expected: {
      event: 'Exit Match Audience',
      properties: { ...HEAD, app_group_id: 'ws_1', canvas_id: 'cv1', canvas_variation_id: 'var1', canvas_api_id: 'api_cv1' },
    },
  },
  {
    type: 'users.canvas.exit.PerformedEvent',
    user: NO_DEVICE,
    properties: { app_group_id: 'ws_1', canvas_id: 'cv1', canvas_variation_id: 'var1', canvas_step_api_id: 'api_st1' },
    expected: {
      event: 'Exit Perform Event',
      properties: { ...HEAD, app_group_id: 'ws_1', canvas_id: 'cv1', canvas_variation_id: 'var1', canvas_step_api_id: 'api_st1' },
    },
  },
  {
    type: 'users.canvas.experimentstep.Conversion',
    user: NO_DEVICE,
    properties: { canvas_id: 'cv1', experiment_step_id: 'xs1', experiment_split_id: 'sp1', conversion_behavior: 'purchase' },
    expected: {
      event: 'Experiment Step Conversion',
      properties: { ...HEAD, canvas_id: 'cv1', experiment_step_id: 'xs1', experiment_split_id: 'sp1', conversion_behavior: 'purchase' },
    },
  },
  {
    type: 'users.canvas.experimentstep.SplitEntry',
    user: NO_DEVICE,
    properties: { experiment_step_id: 'xs1', experiment_split_name: 'A', in_control_group: true },
    expected: { event: 'Experiment Split Entry', properties: { ...HEAD, experiment_step_id: 'xs1', experiment_split_name: 'A', in_control_group: true } },
  },
  // Content Cards
  {
    type: 'users.messages.contentcard.Abort',
    properties: { campaign_id: 'c1', abort_type: 'rate_limit', abort_log: null },
    expected: { event: 'Content Card Abort', properties: { ...HEAD, device_id: 'dev_1', campaign_id: 'c1', abort_type: 'rate_limit' } },
  },
  {
    type: 'users.messages.contentcard.Click',
    properties: { content_card_id: 'cc1', app_id: 'app_1', platform: 'web', os_version: 'Windows', device_model: null, send_id: 's1' },
    expected: {
      event: 'Content Card Click',
      properties: { ...HEAD, $os: 'Windows', device_id: 'dev_1', content_card_id: 'cc1', app_id: 'app_1', platform: 'web', send_id: 's1' },
    },
  },
  {
    type: 'users.messages.contentcard.Dismiss',
    properties: { content_card_id: 'cc1', app_id: 'app_1', ad_id: 'ad1', ad_id_type: 'idfa' },
    expected: { event: 'Content Card Dismiss', properties: { ...HEAD, device_id: 'dev_1', content_card_id: 'cc1', app_id: 'app_1', ad_id: 'ad1', ad_id_type: 'idfa' } },
  },
  {
    type: 'users.messages.contentcard.Impression',
    properties: { content_card_id: 'cc1', app_id: 'app_1', device_model: 'iPad' },
    expected: { event: 'Content Card Impression', properties: { ...HEAD, $device: 'iPad', device_id: 'dev_1', content_card_id: 'cc1', app_id: 'app_1' } },
  },
  {
    type: 'users.messages.contentcard.Send',
    properties: { content_card_id: 'cc1', message_extras: '{"k":"v"}' },
    expected: { event: 'Content Card Send', properties: { ...HEAD, device_id: 'dev_1', content_card_id: 'cc1', message_extras: '{"k":"v"}' } },
  },
  // Email
  {
    type: 'users.messages.email.Abort',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', abort_type: 'blocked_email' },
    expected: { event: 'Email Abort', properties: { ...HEAD, email_address: 'a@b.com', abort_type: 'blocked_email' } },
  },
  {
    type: 'users.messages.email.Bounce',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', esp: 'SendGrid', from_domain: 'mail.x.com', sending_ip: '1.2.3.4', bounce_reason: '550', is_drop: true },
    expected: {
      event: 'Email Bounce',
      properties: { ...HEAD, email_address: 'a@b.com', esp: 'SendGrid', from_domain: 'mail.x.com', sending_ip: '1.2.3.4', bounce_reason: '550', is_drop: true },
    },
  },
  {
    type: 'users.messages.email.Click',
    user: NO_DEVICE,
    properties: {
      email_address: 'a@b.com',
      url: 'https://x.com',
      link_id: 'l1',
      is_suspected_bot_click: false,
      suspected_bot_click_reason: ['prefetch'],
      device_model: 'iPhone',
      device_os: 'iOS',
    },
    expected: {
      event: 'Email Click',
      properties: {
        ...HEAD,
        $device: 'iPhone',
        email_address: 'a@b.com',
        url: 'https://x.com',
        link_id: 'l1',
        is_suspected_bot_click: false,
        suspected_bot_click_reason: ['prefetch'],
        device_os: 'iOS',
      },
    },
  },
  {
    type: 'users.messages.email.Deferral',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', attempt_count: 3, deferral_reason: '421' },
    expected: { event: 'Email Deferral', properties: { ...HEAD, email_address: 'a@b.com', attempt_count: 3, deferral_reason: '421' } },
  },
  {
    type: 'users.messages.email.Delivery',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', sending_ip: '1.2.3.4', ip_pool: 'pool_a' },
    expected: { event: 'Email Delivery', properties: { ...HEAD, email_address: 'a@b.com', sending_ip: '1.2.3.4', ip_pool: 'pool_a' } },
  },
  {
    type: 'users.messages.email.MarkAsSpam',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', user_agent: 'Mozilla/5.0' },
    expected: { event: 'Email Mark As Spam', properties: { ...HEAD, email_address: 'a@b.com', user_agent: 'Mozilla/5.0' } },
  },
  {
    type: 'users.messages.email.Open',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', machine_open: 'true', is_amp: false, mailbox_provider: 'Gmail' },
    expected: { event: 'Email Open', properties: { ...HEAD, email_address: 'a@b.com', machine_open: 'true', is_amp: false, mailbox_provider: 'Gmail' } },
  },
  {
    // The example of docs/reference/currents.md §2.2, byte for byte.
    type: 'users.messages.email.Send',
    id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    user: { user_id: 'b_1', external_user_id: 'u42', device_id: 'dev_1' },
    properties: { app_group_id: 'ws_1', campaign_id: 'c1', campaign_name: 'Welcome', email_address: 'a@b.com', send_id: 's1', dispatch_id: 'd1' },
    expected: {
      event: 'Email Send',
      properties: {
        distinct_id: 'u42',
        $insert_id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
        time: 1700000000,
        token: 'tok',
        $partner_id: 'rivulet',
        device_id: 'dev_1',
        app_group_id: 'ws_1',
        campaign_id: 'c1',
        campaign_name: 'Welcome',
        email_address: 'a@b.com',
        send_id: 's1',
        dispatch_id: 'd1',
      },
    },
  },
  {
    type: 'users.messages.email.SoftBounce',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', bounce_reason: 'mailbox full' },
    expected: { event: 'Email Soft Bounce', properties: { ...HEAD, email_address: 'a@b.com', bounce_reason: 'mailbox full' } },
  },
  {
    type: 'users.messages.email.Unsubscribe',
    user: NO_DEVICE,
    properties: { email_address: 'a@b.com', canvas_name: 'Onboarding' },
    expected: { event: 'Email Unsubscribe', properties: { ...HEAD, email_address: 'a@b.com', canvas_name: 'Onboarding' } },
  },
  // In-app messages
  {
    type: 'users.messages.inappmessage.Abort',
    properties: { version: '2', abort_type: 'trigger_mismatch', app_id: null },
    expected: { event: 'In-App Message Abort', properties: { ...HEAD, device_id: 'dev_1', version: '2', abort_type: 'trigger_mismatch' } },
  },
  {
    type: 'users.messages.inappmessage.Click',
    properties: { app_id: 'app_1', button_id: '0', card_id: 'card1' },
    expected: { event: 'In-App Message Click', properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', button_id: '0', card_id: 'card1' } },
  },
  {
    type: 'users.messages.inappmessage.Impression',
    properties: { app_id: 'app_1', locale_key: 'fr' },
    expected: { event: 'In-App Message Impression', properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', locale_key: 'fr' } },
  },
  // Push
  {
    type: 'users.messages.pushnotification.Abort',
    properties: { platform: 'ios', abort_type: 'invalid_push_token' },
    expected: { event: 'Push Notification Abort', properties: { ...HEAD, device_id: 'dev_1', platform: 'ios', abort_type: 'invalid_push_token' } },
  },
  {
    type: 'users.messages.pushnotification.Bounce',
    properties: { app_id: 'app_1', platform: 'android', push_token: 'ptok' },
    expected: { event: 'Push Notification Bounce', properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', platform: 'android', push_token: 'ptok' } },
  },
  {
    type: 'users.messages.pushnotification.IosForeground',
    properties: { app_id: 'app_1', platform: 'ios' },
    expected: { event: 'Push Notification iOS Foreground', properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', platform: 'ios' } },
  },
  {
    type: 'users.messages.pushnotification.Open',
    properties: { app_id: 'app_1', button_action_type: 'URI', os_version: '17' },
    expected: { event: 'Push Notification Open', properties: { ...HEAD, $os: '17', device_id: 'dev_1', app_id: 'app_1', button_action_type: 'URI' } },
  },
  {
    type: 'users.messages.pushnotification.Send',
    properties: { app_id: 'app_1', platform: 'ios', push_token: 'ptok', message_extras: null, dispatch_id: 'd1' },
    expected: {
      event: 'Push Notification Send',
      properties: { ...HEAD, device_id: 'dev_1', app_id: 'app_1', platform: 'ios', push_token: 'ptok', dispatch_id: 'd1' },
    },
  },
  // SMS
  {
    type: 'users.messages.sms.Abort',
    user: NO_DEVICE,
    properties: { app_group_id: 'ws_1', abort_type: 'quiet_hours', subscription_group_id: 'sg_1' },
    expected: { event: 'SMS Abort', properties: { ...HEAD, app_group_id: 'ws_1', abort_type: 'quiet_hours', subscription_group_id: 'sg_1' } },
  },
  {
    type: 'users.messages.sms.CarrierSend',
    user: NO_DEVICE,
    properties: { to_phone_number: '+15550001', from_phone_number: '+15550002', subscription_group_id: 'sg_1' },
    expected: {
      event: 'SMS Carrier Send',
      properties: { ...HEAD, to_phone_number: '+15550001', from_phone_number: '+15550002', subscription_group_id: 'sg_1' },
    },
  },
  {
    type: 'users.messages.sms.Delivery',
    user: NO_DEVICE,
    properties: { to_phone_number: '+15550001', is_sms_fallback: false },
    expected: { event: 'SMS Delivery', properties: { ...HEAD, to_phone_number: '+15550001', is_sms_fallback: false } },
  },
  {
    type: 'users.messages.sms.DeliveryFailure',
    user: NO_DEVICE,
    properties: { error: 'Undeliverable', provider_error_code: '30003' },
    expected: { event: 'SMS Delivery Failure', properties: { ...HEAD, error: 'Undeliverable', provider_error_code: '30003' } },
  },
  {
    type: 'users.messages.sms.InboundReceive',
    user: { external_user_id: 'u42' },
    properties: {
      app_group_id: 'ws_1',
      user_phone_number: '+15550001',
      inbound_phone_number: '+15550002',
      action: 'STOP',
      message_body: 'stop',
      media_urls: ['https://m.x/1.jpg', null],
    },
    expected: {
      event: 'SMS Inbound Received',
      properties: {
        ...HEAD,
        app_group_id: 'ws_1',
        user_phone_number: '+15550001',
        inbound_phone_number: '+15550002',
        action: 'STOP',
        message_body: 'stop',
        media_urls: ['https://m.x/1.jpg', null],
      },
    },
  },
  {
    type: 'users.messages.sms.Rejection',
    user: NO_DEVICE,
    properties: { from_phone_number: '+15550002', error: 'Blocked' },
    expected: { event: 'SMS Rejection', properties: { ...HEAD, from_phone_number: '+15550002', error: 'Blocked' } },
  },
  {
    type: 'users.messages.sms.Send',
    user: NO_DEVICE,
    properties: { category: 'Marketing', to_phone_number: '+15550001' },
    expected: { event: 'SMS Send', properties: { ...HEAD, category: 'Marketing', to_phone_number: '+15550001' } },
  },
  {
    type: 'users.messages.sms.ShortLinkClick',
    user: NO_DEVICE,
    properties: { url: 'https://x.com/long', short_url: 'https://x.co/a', user_agent: 'curl' },
    expected: { event: 'SMS Short Link Click', properties: { ...HEAD, url: 'https://x.com/long', short_url: 'https://x.co/a', user_agent: 'curl' } },
  },
  // Webhook
  {
    type: 'users.messages.webhook.Abort',
    properties: { abort_type: 'liquid_abort_message', canvas_step_message_variation_id: 'csmv1' },
    expected: {
      event: 'Webhook Abort',
      properties: { ...HEAD, device_id: 'dev_1', abort_type: 'liquid_abort_message', canvas_step_message_variation_id: 'csmv1' },
    },
  },
  {
    type: 'users.messages.webhook.Send',
    user: NO_DEVICE,
    properties: { message_extras: '{}', campaign_id: 'c1' },
    expected: { event: 'Webhook Send', properties: { ...HEAD, message_extras: '{}', campaign_id: 'c1' } },
  },
];

const LEGACY: CurrentsEvent[] = [
  { event_type: 'users.messages.newsfeedcard.Abort', id: ID, time: T, user: USER, properties: { abort_type: 'x' } },
  { event_type: 'users.messages.newsfeedcard.Click', id: ID, time: T, user: USER, properties: { app_id: 'app_1', card_id: 'card1' } },
  { event_type: 'users.messages.newsfeedcard.Impression', id: ID, time: T, user: USER, properties: { app_id: 'app_1', card_id: 'card1' } },
];

describe('golden mapping of every catalogue type', () => {
  it('covers every type of the catalogue', () => {
    const covered = [...GOLDEN.map((g) => g.type), ...LEGACY.map((e) => e.event_type)].sort();
    expect(covered).toEqual([...CURRENTS_EVENT_TYPES].sort());
  });

  it.each(GOLDEN.map((g) => [g.type, g] as const))('%s', (_type, g) => {
    const event = eventOf(g);
    expect(validateCurrentsEvent(event, T).ok).toBe(true);
    expect(mapCurrentsEvent(event, SETTINGS)).toEqual({ outcome: 'send', event: g.expected });
  });

  it('puts the fixed properties first, in the order of §2.2', () => {
    const mapped = toMixpanelEvent(eventOf(GOLDEN[0]!), SETTINGS);
    expect(Object.keys(mapped.properties).slice(0, 8)).toEqual(['distinct_id', '$insert_id', 'time', 'token', '$partner_id', '$device', '$os', 'device_id']);
  });

  it('never exports legacy types, even when listed as selected', () => {
    for (const event of LEGACY) {
      expect(validateCurrentsEvent(event, T).ok).toBe(true);
      expect(mapCurrentsEvent(event, SETTINGS)).toEqual({ outcome: 'skip', reason: 'not_selected' });
    }
    expect(() => toMixpanelEvent(LEGACY[1]!, SETTINGS)).toThrow(/never exported/);
  });

  it('sends the configured $partner_id', () => {
    const mapped = toMixpanelEvent(eventOf(GOLDEN[1]!), { token: 'tok', partnerId: 'braze' });
    expect(mapped).toEqual({
      event: 'Install Attribution',
      properties: { ...HEAD, $partner_id: 'braze', source: 'Organic', app_group_id: 'ws_1' },
    });
  });
});

describe('skip reasons (docs/reference/currents.md §2.1)', () => {
  const base: CurrentsEvent = {
    event_type: 'users.behaviors.CustomEvent',
    id: ID,
    time: T,
    user: { user_id: 'b_1', external_user_id: 'u42' },
    properties: { name: 'x' },
  };
  const withUser = (user: CurrentsEvent['user'], time = T): CurrentsEvent => ({ ...base, user, time });
  const only = (types: string[]) => ({ selectedTypes: new Set(types) });

  it('not_selected: a type outside the connector selection', () => {
    expect(skipReason(base, only(['users.behaviors.Purchase']))).toBe('not_selected');
    expect(mapCurrentsEvent(base, { ...SETTINGS, ...only([]) })).toEqual({ outcome: 'skip', reason: 'not_selected' });
  });

  it('no_external_user_id: absent, null or empty', () => {
    expect(skipReason(withUser({ user_id: 'b_1' }), SETTINGS)).toBe('no_external_user_id');
    expect(skipReason(withUser({ user_id: 'b_1', external_user_id: null }), SETTINGS)).toBe('no_external_user_id');
    expect(skipReason(withUser({ user_id: 'b_1', external_user_id: '' }), SETTINGS)).toBe('no_external_user_id');
  });

  it('invalid_distinct_id: a disallowed value, case-insensitively', () => {
    for (const id of ['null', 'NULL', 'Anonymous', 'undefined', '<nil>', 'N/A', '0', '-1', 'True', '[]', '{}', '00000000-0000-0000-0000-000000000000']) {
      expect(skipReason(withUser({ external_user_id: id }), SETTINGS)).toBe('invalid_distinct_id');
    }
    expect(skipReason(withUser({ external_user_id: 'nullable' }), SETTINGS)).toBeNull();
  });

  it('before_2010: strictly before 1262304000', () => {
    expect(skipReason(withUser({ external_user_id: 'u42' }, 1262303999), SETTINGS)).toBe('before_2010');
    expect(skipReason(withUser({ external_user_id: 'u42' }, 1262304000), SETTINGS)).toBeNull();
  });

  it('applies the rules in order: the first match names the reason', () => {
    expect(skipReason(withUser({ external_user_id: null }, 5), only([]))).toBe('not_selected');
    expect(skipReason(withUser({ external_user_id: '' }, 5), SETTINGS)).toBe('no_external_user_id');
    expect(skipReason(withUser({ external_user_id: 'none' }, 5), SETTINGS)).toBe('invalid_distinct_id');
  });
});

describe('$insert_id (docs/reference/currents.md §2.3)', () => {
  it('matches the test vector of the reference', () => {
    expect(insertIdFor('evt:2024/05/01#17')).toBe('0f3279e7-6a80-5842-95d6-5cac3fbe6a90');
  });

  it('is a standard UUIDv5 (RFC 9562 DNS example)', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('keeps an id of at most 36 bytes of [A-Za-z0-9-] unchanged', () => {
    expect(insertIdFor('f47ac10b-58cc-4372-a567-0e02b2c3d479')).toBe('f47ac10b-58cc-4372-a567-0e02b2c3d479');
    expect(insertIdFor('F47AC10B-58CC-4372-A567-0E02B2C3D479')).toBe('F47AC10B-58CC-4372-A567-0E02B2C3D479');
    expect(insertIdFor('a'.repeat(36))).toBe('a'.repeat(36));
    expect(insertIdFor('evt-1')).toBe('evt-1');
  });

  it('hashes ids that are too long, use other characters or are disallowed', () => {
    const hashed = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const id of ['a'.repeat(37), 'evt_1', 'évt-1', '0', 'null', 'Undefined', '-1']) {
      expect(insertIdFor(id)).toMatch(hashed);
    }
    expect(insertIdFor('a'.repeat(37))).not.toBe(insertIdFor('a'.repeat(38)));
  });

  it('depends only on the id', () => {
    expect(insertIdFor('evt:2024/05/01#17')).toBe(insertIdFor('evt:2024/05/01#17'));
    const event = eventOf(GOLDEN[10]!);
    expect(toMixpanelEvent({ ...event, time: T + 5 }, { token: 'other' }).properties['$insert_id']).toBe('0f3279e7-6a80-5842-95d6-5cac3fbe6a90');
  });
});

/**
 * The export's hot path writes each event's JSON directly; it must be byte for byte the JSON of
 * the mapped object (the golden form above), with the same outcome, for any event.
 */
describe('mapForImport writes exactly JSON.stringify of the mapped event', () => {
  function expectSame(event: CurrentsEvent, settings: MixpanelMappingSettings = SETTINGS): void {
    const slow = mapCurrentsEvent(event, settings);
    const fast = mapForImport(event, settings);
    if (slow.outcome === 'skip') {
      expect(fast).toEqual(slow);
      return;
    }
    expect(fast.outcome).toBe(slow.outcome);
    if (fast.outcome === 'skip') return;
    const json = JSON.stringify(slow.event);
    expect(fast.json).toBe(json);
    expect(fast.bytes).toBe(Buffer.byteLength(json));
    expect(fast.insertId).toBe(slow.event.properties['$insert_id']);
    if (slow.outcome === 'dead_letter' && fast.outcome === 'dead_letter') {
      expect(fast.reason).toBe(slow.reason);
      expect(fast.event).toEqual(slow.event);
    }
  }

  it('for every golden event, with and without a partner id', () => {
    for (const g of GOLDEN) {
      expectSame(eventOf(g));
      expectSame(eventOf(g), { ...SETTINGS, partnerId: 'braze', token: 'tök"\\' });
    }
  });

  it('for names that objects order or merge differently, and values that break a limit', () => {
    const custom = (properties: Record<string, unknown>, user: CurrentsEvent['user'] = USER): CurrentsEvent => ({
      event_type: 'users.behaviors.CustomEvent',
      id: 'evt:1/é',
      time: T,
      user,
      properties: { name: 'n"é😀', ...properties },
    });
    const cases: Array<Record<string, unknown>> = [
      { distinct_id: 'override', token: 'x', $device: 'y' },
      { device_id: 'from properties' },
      { '7': 'index-like', '10': 1, a: 2 },
      { ['__proto__']: { polluted: true }, b: 1 },
      { '[Custom event property] k': 'top', custom_properties: { k: 'inner' } },
      { custom_properties: { '7': 1, __proto__x: 2, 'é"\\': [1, { a: null }], n: null } },
      { custom_properties: 'not an object', purchase_properties: [1, 2] },
      { constructor: { a: 1 }, toString: 'x' },
      { custom_properties: { deep: { a: { b: { c: 1 } } } } },
      { custom_properties: { long: Array.from({ length: 255 }, (_, i) => i) } },
      { custom_properties: Object.fromEntries(Array.from({ length: 260 }, (_, i) => [`p${i}`, i])) },
      { custom_properties: { big: 'x'.repeat(1024 * 1024) } },
      { device_model: 'iPhone', os_version: null, platform: 'ios', ad_tracking_enabled: false, n: -0, f: 1e21, g: 5e-324 },
    ];
    for (const properties of cases) {
      expectSame(JSON.parse(JSON.stringify(custom(properties))) as CurrentsEvent);
      expectSame(JSON.parse(JSON.stringify(custom(properties, NO_DEVICE))) as CurrentsEvent);
    }
    // Objects built in code, not parsed: prototype-named keys, an undefined value.
    expectSame(custom({ custom_properties: { u: undefined, v: 1 } }));
    expectSame(custom({ toString: { a: 1 } }));
  });

  it('for generated events of every type', () => {
    const key = fc.oneof(
      fc.constantFrom('distinct_id', 'device_id', 'device_model', 'os_version', 'token', '0', '12', '__proto__', 'custom_properties', 'purchase_properties', 'id', 'time', 'user_id'),
      fc.string({ maxLength: 6 }),
      fc.string({ maxLength: 4, unit: 'grapheme' }),
    );
    const value = fc.jsonValue({ maxDepth: 4 });
    const event = fc.record({
      event_type: fc.constantFrom(...CURRENTS_EVENT_TYPES),
      id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })),
      time: fc.oneof(fc.constant(T), fc.integer({ min: 0, max: 2 * T })),
      user: fc.record({
        user_id: fc.option(fc.string(), { nil: undefined }),
        external_user_id: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('u42', 'NULL', 'é😀"')), { nil: undefined }),
        device_id: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
      }),
      properties: fc.dictionary(key, fc.oneof(value, fc.dictionary(key, value, { maxKeys: 4 }))),
    });
    fc.assert(
      fc.property(event, (e) => {
        expectSame(JSON.parse(JSON.stringify(e)) as CurrentsEvent);
      }),
      { numRuns: 3000, seed: 5 },
    );
  });
});
