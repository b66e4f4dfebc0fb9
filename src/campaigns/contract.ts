/**
 * The campaign admin and messaging API's contract, and the one definition of a campaign: its
 * variants, audience, schedule (delivery and trigger) and delivery rules, as TypeBox schemas. The
 * server's types come from them (definition.ts checks a body against the same bounds and names the
 * field at fault in its own words), the answers are serialized through them, and the dashboard's
 * composer types its draft with them. Imports TypeBox and the shared HTTP contract only.
 *
 * The channel-specific part of a campaign is a union keyed by `channel`: each channel has its
 * message schema (`EmailMessage`, …) and an arm (`EmailCampaign`, …) made by `campaignOf`. A new
 * channel adds its message, its arm (listed in `CampaignBody`) and its entry in `Variant`.
 */
import { Type, type TProperties } from 'typebox';
import { NextCursor, Nullable, Timestamp } from '../http/contract.js';

// ---- Bounds (definition.ts and the rule modules check with these) ----
export const MAX_VARIANTS = 8;
export const MIN_RATE_LIMIT = 10;
export const MAX_RATE_LIMIT = 500_000;
export const MAX_CONVERSION_BEHAVIORS = 4;
export const MIN_CONVERSION_WINDOW = 300;
export const MAX_CONVERSION_WINDOW = 30 * 86_400;
export const MAX_DELAY_SECONDS = 30 * 86_400;
export const MAX_REELIGIBILITY_SECONDS = 720 * 86_400;
export const MAX_SMS_BODY = 1600;

const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Percent = Type.Integer({ minimum: 0, maximum: 100 });
// Checked by definition.ts in its own terms (its address pattern, Date.parse), not by a JSON Schema
// format: a stored campaign must always serialize through the answer's schema.
const EmailAddress = Type.String({ description: 'an email address' });
const IsoTime = Type.String({ description: 'an ISO 8601 time' });

// ---- Messages, one per channel ----
/** Liquid templates of an email. */
export const EmailMessage = Type.Object({ subject: Type.String(), html: Type.String(), text: Type.Optional(Type.String()), preheader: Type.Optional(Type.String()) });
export const WebhookMethod = Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')]);
/** Liquid templates of a webhook call (URL, header values, body). */
export const WebhookMessage = Type.Object({ url: Type.String(), method: WebhookMethod, headers: Type.Record(Type.String(), Type.String()), body: Type.String() });
/** Liquid; at most 1600 characters once rendered (the provider's limit). */
export const SmsMessage = Type.Object({ body: Type.String({ maxLength: MAX_SMS_BODY }) });

/** Liquid templates of a web push notification (docs/reference/push.md); `url` is opened on click (absent: the site's root). */
export const PushMessage = Type.Object({ title: Type.String(), body: Type.String(), url: Type.Optional(Type.String()), icon: Type.Optional(Type.String()) });
/** A content card (docs/reference/sdk.md#content-cards): Liquid in every text, rendered per user at send time; it leaves the feed after `expires_after_seconds` or at `expires_at`, whichever comes first. */
export const ContentCardMessage = Type.Object({
  title: Type.String(),
  description: Type.String(),
  image_url: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  pinned: Type.Optional(Type.Boolean()),
  expires_after_seconds: Type.Optional(Type.Integer()),
  expires_at: Type.Optional(IsoTime),
});
export const InAppButton = Type.Object({ id: Type.String(), text: Type.String(), url: Type.Optional(Type.String()) });
/** An in-app message (docs/reference/sdk.md#in-app-messages), shown by the SDK when one of `trigger_events` is logged. */
export const InAppMessage = Type.Object({
  layout: Type.Union([Type.Literal('modal'), Type.Literal('slideup')]),
  header: Type.Optional(Type.String()),
  body: Type.String(),
  image_url: Type.Optional(Type.String()),
  buttons: Type.Array(InAppButton),
  trigger_events: Type.Array(Type.String()),
  expires_after_seconds: Type.Optional(Type.Integer()),
  expires_at: Type.Optional(IsoTime),
});

export const CampaignChannel = Type.Union([
  Type.Literal('email'),
  Type.Literal('webhook'),
  Type.Literal('sms'),
  Type.Literal('pushnotification'),
  Type.Literal('content_card'),
  Type.Literal('in_app_message'),
]);

// ---- Audience, schedule, delivery rules ----
/** The segment sent to; empty for an API campaign (each `/messages/send` names its audience). */
export const Audience = Type.Object({ segment_id: Type.String({ maxLength: 100 }) });
/**
 * `launch`: sent to the whole audience by a launch; `api_triggered`: by `/campaigns/trigger/send`;
 * `api_campaign`: content comes with each `/messages/send`; `action_based`: sent when a user
 * performs the trigger.
 */
export const Delivery = Type.Union([Type.Literal('launch'), Type.Literal('api_triggered'), Type.Literal('api_campaign'), Type.Literal('action_based')]);
export const SendTo = Type.Union([Type.Literal('subscribed_or_opted_in'), Type.Literal('opted_in'), Type.Literal('all')]);
export const ConversionType = Type.Union([Type.Literal('opens_email'), Type.Literal('clicks_email'), Type.Literal('makes_purchase'), Type.Literal('performs_custom_event'), Type.Literal('starts_session')]);
export const ConversionBehavior = Type.Object({
  type: ConversionType,
  /** Seconds after the receipt (or control enrollment) during which a match converts. */
  window: Type.Integer({ minimum: MIN_CONVERSION_WINDOW, maximum: MAX_CONVERSION_WINDOW }),
  custom_event_name: Type.Optional(Text(255)),
  product: Type.Optional(Text(255)),
});
export const TriggerType = Type.Union([Type.Literal('custom_event'), Type.Literal('purchase'), Type.Literal('session_start')]);
export const FilterOp = Type.Union([Type.Literal('equals'), Type.Literal('not_equals'), Type.Literal('exists'), Type.Literal('greater_than'), Type.Literal('less_than')]);
export const PropertyFilter = Type.Object({ property: Type.String({ minLength: 1 }), op: FilterOp, value: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])) });
/** What a user does that sends an action-based campaign, after `delay_seconds`, within `window`. */
export const CampaignTrigger = Type.Object({
  type: TriggerType,
  custom_event_name: Type.Optional(Text(255)),
  product: Type.Optional(Type.String({ minLength: 1 })),
  property_filters: Type.Optional(Type.Array(PropertyFilter, { maxItems: 10 })),
  delay_seconds: Type.Integer({ minimum: 0, maximum: MAX_DELAY_SECONDS }),
  window: Type.Optional(Type.Object({ start: Type.Optional(IsoTime), end: Type.Optional(IsoTime) })),
  /** Absent: a user receives the campaign once. Else: again this many seconds after a receipt. */
  reeligible_after_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_REELIGIBILITY_SECONDS })),
});
/** Local hours 0–23: quiet from `start_hour` (inclusive) to `end_hour` (exclusive); may wrap midnight. */
export const QuietHours = Type.Object({
  start_hour: Type.Integer({ minimum: 0, maximum: 23 }),
  end_hour: Type.Integer({ minimum: 0, maximum: 23 }),
  fallback: Type.Union([Type.Literal('send_later'), Type.Literal('abort')]),
});
export const Sender = Type.Object({ address: EmailAddress, name: Type.Optional(Text(200)) });

/** What every campaign defines whatever its channel. */
const DefinitionFields = {
  delivery: Delivery,
  audience: Audience,
  control_percent: Percent,
  send_to: SendTo,
  /** Conversion behaviors A–D; absent: none. */
  conversion_behaviors: Type.Optional(Type.Array(ConversionBehavior, { maxItems: MAX_CONVERSION_BEHAVIORS })),
  /** At most this many attempts in any minute; absent: unlimited. */
  rate_limit_per_minute: Type.Optional(Type.Integer({ minimum: MIN_RATE_LIMIT, maximum: MAX_RATE_LIMIT })),
  /** Action-based delivery only. */
  trigger: Type.Optional(CampaignTrigger),
  /** Quiet hours in the user's time zone. */
  quiet_hours: Type.Optional(QuietHours),
  /** Opt out of the workspace's global frequency cap. */
  ignore_frequency_capping: Type.Optional(Type.Boolean()),
};
const VariantFields = { id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }), name: Text(200), percent: Percent };

/** A variant as stored: its share of the audience and the message of the campaign's channel (absent for an API campaign, whose content comes with each send). */
export const Variant = Type.Object({
  ...VariantFields,
  email: Type.Optional(EmailMessage),
  webhook: Type.Optional(WebhookMessage),
  sms: Type.Optional(SmsMessage),
  pushnotification: Type.Optional(PushMessage),
  content_card: Type.Optional(ContentCardMessage),
  in_app_message: Type.Optional(InAppMessage),
});
/** A campaign's definition as stored (its name and channel are beside it). */
export const CampaignDefinition = Type.Object({
  ...DefinitionFields,
  variants: Type.Array(Variant, { minItems: 1, maxItems: MAX_VARIANTS }),
  /** Email only. */
  from: Type.Optional(Sender),
  reply_to: Type.Optional(EmailAddress),
});

/** One channel's campaign: its name, `channel`, the shared definition fields, `extra` fields, and variants carrying `message`. */
function campaignOf<C extends string, M extends TProperties, E extends TProperties>(channel: C, message: M, extra: E) {
  return Type.Object(
    { name: Text(200), channel: Type.Literal(channel), ...DefinitionFields, ...extra, variants: Type.Array(Type.Object({ ...VariantFields, ...message }), { minItems: 1, maxItems: MAX_VARIANTS }) },
    { additionalProperties: true },
  );
}
export const EmailCampaign = campaignOf('email', { email: Type.Optional(EmailMessage) }, { from: Type.Optional(Sender), reply_to: Type.Optional(EmailAddress) });
export const WebhookCampaign = campaignOf('webhook', { webhook: Type.Optional(WebhookMessage) }, {});
export const SmsCampaign = campaignOf('sms', { sms: Type.Optional(SmsMessage) }, {});
export const PushCampaign = campaignOf('pushnotification', { pushnotification: Type.Optional(PushMessage) }, {});
export const ContentCardCampaign = campaignOf('content_card', { content_card: Type.Optional(ContentCardMessage) }, {});
export const InAppCampaign = campaignOf('in_app_message', { in_app_message: Type.Optional(InAppMessage) }, {});
const ARMS = [EmailCampaign, WebhookCampaign, SmsCampaign, PushCampaign, ContentCardCampaign, InAppCampaign] as const;
/** A campaign as the admin API takes it and the composer drafts it: one arm per channel. */
export const CampaignBody = Type.Union([...ARMS]);

const CampaignFields = {
  id: Type.String(),
  state: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  sends_ended: Type.Optional(Type.Integer({ description: 'after stop: queued sends ended' })),
};
/** A campaign as the admin API answers: its fixed fields and its channel's definition. */
export const Campaign = Type.Union(
  [
    Type.Object({ ...CampaignFields, ...EmailCampaign.properties }, { additionalProperties: true }),
    Type.Object({ ...CampaignFields, ...WebhookCampaign.properties }, { additionalProperties: true }),
    Type.Object({ ...CampaignFields, ...SmsCampaign.properties }, { additionalProperties: true }),
    Type.Object({ ...CampaignFields, ...PushCampaign.properties }, { additionalProperties: true }),
    Type.Object({ ...CampaignFields, ...ContentCardCampaign.properties }, { additionalProperties: true }),
    Type.Object({ ...CampaignFields, ...InAppCampaign.properties }, { additionalProperties: true }),
  ],
  { description: "the campaign's fixed fields and its definition, by channel" },
);
export const CampaignPage = Type.Object({ campaigns: Type.Array(Campaign), next_cursor: NextCursor });
export const Launched = Type.Object({
  dispatch_id: Nullable(Type.String()),
  audience_size: Type.Optional(Type.Integer()),
  state: Type.Optional(Type.String({ description: 'for an API-triggered campaign (no dispatch): its state' })),
});
export const CampaignStats = Type.Object({
  campaign_id: Type.String(),
  variants: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()), { description: 'per variant: considered, unique_opens, unique_clicks, unsubscribes and sends per state' }),
});
export const TriggerSent = Type.Object({
  message: Type.Literal('success'),
  dispatch_id: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
});

export * from './dashboard-contract.js';
