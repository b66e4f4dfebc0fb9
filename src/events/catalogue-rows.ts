/**
 * The rows of the Currents event catalogue, in the notation of docs/reference/currents.md §1
 * (`name:type?`, group names) so that a reviewer can check them against it line by line;
 * test/docs-catalogue.test.ts checks them too. `catalogue.ts` parses them once at load; nothing
 * else reads them.
 */
export type EventCategory = 'behaviors' | 'campaigns' | 'canvas' | 'messages';
export type MessageChannel = 'contentcard' | 'email' | 'inappmessage' | 'pushnotification' | 'sms' | 'webhook' | 'newsfeedcard';

export const FIELD_GROUPS: Record<string, string> = {
  BASE: 'id:string, user_id:string, external_user_id:string?, time:int',
  CTX: 'app_group_id:string?, timezone:string?',
  CAMPAIGN: 'campaign_id:string?, campaign_name:string?, message_variation_id:string?, message_variation_name:string?',
  CANVAS:
    'canvas_id:string?, canvas_name:string?, canvas_variation_id:string?, canvas_variation_name:string?, canvas_step_id:string?, canvas_step_name:string?',
  DEVICE: 'platform:string?, os_version:string?, device_model:string?, device_id:string?',
  AD: 'ad_id:string?, ad_id_type:string?, ad_tracking_enabled:boolean?',
  SEND: 'send_id:string?, dispatch_id:string?',
  ABORT: 'abort_log:string?, abort_type:string?',
  EMAIL: 'email_address:string, ip_pool:string?',
  ESP: 'esp:string?, from_domain:string?',
  PHONE: 'to_phone_number:string?, subscription_group_id:string?',
  CONV: 'conversion_behavior_index:int?, conversion_behavior:string?',
};

/**
 * [type suffix, groups, other fields] — one row of a §1 table. The Mixpanel name column of the
 * reference belongs to the Mixpanel destination (src/currents/mixpanel/event-names.ts).
 */
export type CatalogueRow = readonly [string, string, string];

const CANVAS_EXIT =
  'app_group_id:string, app_group_api_id:string?, canvas_id:string, canvas_variation_id:string, canvas_step_id:string?, canvas_name:string?, canvas_variation_name:string?, canvas_step_name:string?, canvas_api_id:string?, canvas_variation_api_id:string?, canvas_step_api_id:string?';
const BOT_CLICK = 'is_suspected_bot_click:boolean?, suspected_bot_click_reason:array<string>?';

export interface CatalogueTable {
  prefix: string;
  category: EventCategory;
  channel: MessageChannel | null;
  legacy?: true;
  rows: readonly CatalogueRow[];
}

export const CATALOGUE_TABLES: readonly CatalogueTable[] = [
  {
    prefix: 'users.behaviors.',
    category: 'behaviors',
    channel: null,
    rows: [
      ['CustomEvent', 'BASE CTX DEVICE AD', 'app_id:string?, name:string, custom_properties:object?'],
      ['InstallAttribution', 'BASE', 'source:string, app_group_id:string?'],
      [
        'Location',
        'BASE DEVICE AD',
        'app_id:string, latitude:float, longitude:float, altitude:float?, ll_accuracy:float?, alt_accuracy:float?, app_group_id:string?',
      ],
      [
        'Purchase',
        'BASE DEVICE AD',
        'app_id:string?, product_id:string, price:float, currency:string, purchase_properties:object?, app_group_id:string?',
      ],
      ['Uninstall', 'BASE', 'device_id:string?, app_id:string, app_group_id:string?'],
      [
        'app.FirstSession',
        'BASE CTX DEVICE',
        'app_id:string, session_id:string, gender:string?, country:string?, language:string?, sdk_version:string?',
      ],
      ['app.SessionEnd', 'BASE DEVICE', 'app_id:string, duration:float?, session_id:string, app_group_id:string?'],
      ['app.SessionStart', 'BASE DEVICE', 'app_id:string, session_id:string, app_group_id:string?'],
      [
        'subscription.GlobalStateChange',
        'BASE CTX CANVAS',
        'email_address:string?, state_change_source:string?, subscription_status:string, channel:string?, app_id:string?, campaign_id:string?, campaign_name:string?, message_variation_id:string?, send_id:string?, channel_identifier:string?',
      ],
      [
        'subscriptiongroup.StateChange',
        'BASE CTX CAMPAIGN CANVAS SEND',
        'email_address:string?, phone_number:string?, app_id:string?, subscription_group_id:string, subscription_status:string, channel:string?, state_change_source:string?, channel_identifier:string?',
      ],
    ],
  },
  {
    prefix: 'users.campaigns.',
    category: 'campaigns',
    channel: null,
    rows: [
      ['Abort', 'BASE CTX CAMPAIGN SEND ABORT', 'canvas_id:string?, device_id:string?'],
      [
        'Conversion',
        'BASE CTX CONV',
        'app_id:string?, campaign_id:string, campaign_name:string?, message_variation_id:string?, message_variation_name:string?, send_id:string?, dispatch_id:string?',
      ],
      [
        'EnrollInControl',
        'BASE CTX',
        'app_id:string?, campaign_id:string, campaign_name:string?, message_variation_id:string?, message_variation_name:string?, send_id:string?',
      ],
    ],
  },
  {
    prefix: 'users.canvas.',
    category: 'canvas',
    channel: null,
    rows: [
      ['Abort', 'BASE CTX CANVAS ABORT', 'canvas_step_message_variation_id:string?, device_id:string?'],
      [
        'Conversion',
        'BASE CTX CONV',
        'app_id:string?, canvas_id:string, canvas_name:string?, canvas_variation_id:string, canvas_variation_name:string?, canvas_step_id:string?, canvas_step_name:string?',
      ],
      [
        'Entry',
        'BASE CTX',
        'canvas_id:string, canvas_name:string?, canvas_variation_id:string, canvas_variation_name:string?, canvas_step_id:string?, canvas_step_name:string?, in_control_group:boolean',
      ],
      ['exit.MatchedAudience', 'BASE', CANVAS_EXIT],
      ['exit.PerformedEvent', 'BASE', CANVAS_EXIT],
      [
        'experimentstep.Conversion',
        'BASE CANVAS CONV',
        'app_id:string?, experiment_step_id:string?, experiment_split_id:string?, experiment_split_name:string?',
      ],
      [
        'experimentstep.SplitEntry',
        'BASE CANVAS',
        'experiment_step_id:string?, experiment_split_id:string?, experiment_split_name:string?, in_control_group:boolean',
      ],
    ],
  },
  {
    prefix: 'users.messages.contentcard.',
    category: 'messages',
    channel: 'contentcard',
    rows: [
      ['Abort', 'BASE CTX CAMPAIGN CANVAS SEND ABORT', 'canvas_step_message_variation_id:string?, device_id:string?'],
      ['Click', 'BASE CTX CAMPAIGN CANVAS DEVICE AD', 'content_card_id:string, app_id:string, send_id:string?'],
      ['Dismiss', 'BASE CTX CAMPAIGN CANVAS DEVICE AD', 'content_card_id:string, app_id:string, send_id:string?'],
      ['Impression', 'BASE CTX CAMPAIGN CANVAS DEVICE AD', 'content_card_id:string, app_id:string, send_id:string?'],
      [
        'Send',
        'BASE CTX CAMPAIGN CANVAS',
        'content_card_id:string, send_id:string?, device_id:string?, message_extras:string?',
      ],
    ],
  },
  {
    prefix: 'users.messages.email.',
    category: 'messages',
    channel: 'email',
    rows: [
      ['Abort', 'BASE CTX CAMPAIGN CANVAS SEND ABORT EMAIL', 'canvas_step_message_variation_id:string?, device_id:string?'],
      ['Bounce', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP', 'sending_ip:string?, bounce_reason:string?, is_drop:boolean?'],
      [
        'Click',
        'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP',
        `url:string?, user_agent:string?, link_id:string?, link_alias:string?, is_amp:boolean?, device_class:string?, device_os:string?, device_model:string?, browser:string?, mailbox_provider:string?, ${BOT_CLICK}`,
      ],
      [
        'Deferral',
        'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP',
        'canvas_step_message_variation_id:string?, recipient_domain:string?, sending_ip:string?, deferral_reason:string?, attempt_count:int?',
      ],
      ['Delivery', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP', 'sending_ip:string?'],
      ['MarkAsSpam', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP', 'user_agent:string?'],
      [
        'Open',
        'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP',
        'user_agent:string?, machine_open:string?, is_amp:boolean?, device_class:string?, device_os:string?, device_model:string?, browser:string?, mailbox_provider:string?',
      ],
      ['Send', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL', 'message_extras:string?, from_domain:string?'],
      ['SoftBounce', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL ESP', 'sending_ip:string?, bounce_reason:string?'],
      ['Unsubscribe', 'BASE CTX CAMPAIGN CANVAS SEND EMAIL', ''],
    ],
  },
  {
    prefix: 'users.messages.inappmessage.',
    category: 'messages',
    channel: 'inappmessage',
    rows: [
      [
        'Abort',
        'BASE CTX CAMPAIGN CANVAS DEVICE AD SEND ABORT',
        'app_id:string?, browser:string?, canvas_step_message_variation_id:string?, card_id:string?, carrier:string?, resolution:string?, version:string',
      ],
      ['Click', 'BASE CTX CAMPAIGN CANVAS DEVICE AD', 'app_id:string, card_id:string?, button_id:string?, send_id:string?'],
      [
        'Impression',
        'BASE CTX CAMPAIGN CANVAS DEVICE AD',
        'app_id:string, card_id:string?, send_id:string?, message_extras:string?, locale_key:string?',
      ],
    ],
  },
  {
    prefix: 'users.messages.pushnotification.',
    category: 'messages',
    channel: 'pushnotification',
    rows: [
      [
        'Abort',
        'BASE CTX CAMPAIGN CANVAS SEND ABORT',
        'app_id:string?, canvas_step_message_variation_id:string?, device_id:string?, platform:string',
      ],
      ['Bounce', 'BASE CTX CAMPAIGN CANVAS AD SEND', 'app_id:string, platform:string?, device_id:string?, push_token:string?'],
      ['IosForeground', 'BASE CTX CAMPAIGN CANVAS AD SEND', 'app_id:string, platform:string, device_id:string?'],
      [
        'Open',
        'BASE CTX CAMPAIGN CANVAS DEVICE AD SEND',
        'app_id:string, canvas_step_message_variation_id:string?, button_action_type:string?, button_string:string?',
      ],
      [
        'Send',
        'BASE CTX CAMPAIGN CANVAS AD SEND',
        'app_id:string, platform:string, device_id:string?, message_extras:string?, push_token:string?, locale_key:string?',
      ],
    ],
  },
  {
    prefix: 'users.messages.sms.',
    category: 'messages',
    channel: 'sms',
    rows: [
      ['Abort', 'BASE CAMPAIGN CANVAS ABORT', 'app_group_id:string?, canvas_step_message_variation_id:string?, subscription_group_id:string?'],
      ['CarrierSend', 'BASE CTX CAMPAIGN CANVAS SEND PHONE', 'from_phone_number:string?'],
      ['Delivery', 'BASE CTX CAMPAIGN CANVAS SEND PHONE', 'from_phone_number:string?, is_sms_fallback:boolean?'],
      [
        'DeliveryFailure',
        'BASE CTX CAMPAIGN CANVAS SEND PHONE',
        'error:string?, provider_error_code:string?, is_sms_fallback:boolean?',
      ],
      [
        'InboundReceive',
        'CAMPAIGN CANVAS',
        'id:string, user_id:string?, external_user_id:string?, app_group_id:string, time:int, user_phone_number:string, subscription_group_id:string?, inbound_phone_number:string, action:string, message_body:string, media_urls:array<string?>?',
      ],
      [
        'Rejection',
        'BASE CTX CAMPAIGN CANVAS SEND PHONE',
        'from_phone_number:string?, error:string?, provider_error_code:string?, is_sms_fallback:boolean?',
      ],
      ['Send', 'BASE CTX CAMPAIGN CANVAS SEND PHONE', 'category:string?, message_extras:string?'],
      [
        'ShortLinkClick',
        'BASE CTX CAMPAIGN CANVAS',
        `url:string, short_url:string, user_agent:string?, user_phone_number:string?, ${BOT_CLICK}`,
      ],
    ],
  },
  {
    prefix: 'users.messages.webhook.',
    category: 'messages',
    channel: 'webhook',
    rows: [
      ['Abort', 'BASE CTX CAMPAIGN CANVAS SEND ABORT', 'canvas_step_message_variation_id:string?, device_id:string?'],
      ['Send', 'BASE CTX CAMPAIGN CANVAS SEND', 'message_extras:string?'],
    ],
  },
  {
    prefix: 'users.messages.newsfeedcard.',
    category: 'messages',
    channel: 'newsfeedcard',
    legacy: true,
    rows: [
      [
        'Abort',
        'BASE CTX DEVICE ABORT',
        'app_id:string?, browser:string?, campaign_name:string?, canvas_name:string?, canvas_step_name:string?, canvas_variation_name:string?, card_id:string?, carrier:string?, message_variation_name:string?, resolution:string?',
      ],
      ['Click', 'BASE DEVICE', 'app_id:string, timezone:string?, card_id:string'],
      ['Impression', 'BASE DEVICE', 'app_id:string, timezone:string?, card_id:string'],
    ],
  },
];
