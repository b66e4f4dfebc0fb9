/**
 * The contract of the admin routes behind the dashboard's campaign pages (dashboard-routes.ts):
 * preview, test send, overview, progress and one user's messages. Imports TypeBox only.
 */
import { Type } from 'typebox';

export const EmailContent = Type.Object(
  { subject: Type.String({ maxLength: 100_000 }), html: Type.String({ maxLength: 100_000 }), text: Type.Optional(Type.String({ maxLength: 100_000 })), preheader: Type.Optional(Type.String({ maxLength: 100_000 })) },
  { additionalProperties: false },
);
export const WebhookContent = Type.Object(
  {
    url: Type.String({ maxLength: 100_000 }),
    method: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String({ maxLength: 100_000 })),
  },
  { additionalProperties: false },
);
/** A content card variant (docs/reference/sdk.md#content-cards); texts are Liquid. */
export const ContentCardContent = Type.Object(
  {
    title: Type.String({ maxLength: 100_000 }),
    description: Type.String({ maxLength: 100_000 }),
    image_url: Type.Optional(Type.String({ maxLength: 100_000 })),
    url: Type.Optional(Type.String({ maxLength: 100_000 })),
    pinned: Type.Optional(Type.Boolean()),
    expires_after_seconds: Type.Optional(Type.Integer()),
    expires_at: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export const InAppButtonContent = Type.Object(
  { id: Type.String({ maxLength: 64 }), text: Type.String({ maxLength: 100_000 }), url: Type.Optional(Type.String({ maxLength: 100_000 })) },
  { additionalProperties: false },
);
/** An in-app message variant (docs/reference/sdk.md#in-app-messages); texts are Liquid. */
export const InAppContent = Type.Object(
  {
    layout: Type.Union([Type.Literal('modal'), Type.Literal('slideup')]),
    header: Type.Optional(Type.String({ maxLength: 100_000 })),
    body: Type.String({ maxLength: 100_000 }),
    image_url: Type.Optional(Type.String({ maxLength: 100_000 })),
    buttons: Type.Array(InAppButtonContent, { maxItems: 2 }),
    trigger_events: Type.Array(Type.String({ maxLength: 255 }), { maxItems: 20 }),
    expires_after_seconds: Type.Optional(Type.Integer()),
    expires_at: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export const VariantContent = Type.Object(
  { email: Type.Optional(EmailContent), webhook: Type.Optional(WebhookContent), content_card: Type.Optional(ContentCardContent), in_app_message: Type.Optional(InAppContent) },
  { additionalProperties: false },
);
/** The channels the dashboard composes. */
export const ComposerChannel = Type.Union([Type.Literal('email'), Type.Literal('webhook'), Type.Literal('content_card'), Type.Literal('in_app_message')]);
export const PreviewBody = Type.Object(
  {
    channel: ComposerChannel,
    variant: VariantContent,
    /** The user to render for; absent: an empty profile. */
    external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export const Rendered = Type.Object({
  ok: Type.Boolean(),
  user: Type.Union([Type.Object({ user_id: Type.String(), external_id: Type.Union([Type.String(), Type.Null()]), email: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  email: Type.Optional(Type.Object({ subject: Type.String(), html: Type.String(), text: Type.String() })),
  webhook: Type.Optional(Type.Object({ url: Type.String(), method: Type.String(), headers: Type.Record(Type.String(), Type.String()), body: Type.String() })),
  content_card: Type.Optional(Type.Object({ title: Type.String(), description: Type.String(), image_url: Type.String(), url: Type.String(), pinned: Type.Boolean() })),
  in_app_message: Type.Optional(
    Type.Object({
      layout: Type.Union([Type.Literal('modal'), Type.Literal('slideup')]),
      header: Type.String(),
      body: Type.String(),
      image_url: Type.String(),
      buttons: Type.Array(Type.Object({ id: Type.String(), text: Type.String(), url: Type.String() })),
      trigger_events: Type.Array(Type.String()),
    }),
  ),
  /** Set when a template aborted the message (abort_message) or failed to render. */
  abort: Type.Optional(Type.Object({ abort_type: Type.String(), abort_log: Type.String() })),
});
export const TestSendBody = Type.Object(
  {
    to: Type.String({ format: 'email', maxLength: 320 }),
    from: Type.Object({ address: Type.String({ format: 'email', maxLength: 320 }), name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
    reply_to: Type.Optional(Type.String({ format: 'email', maxLength: 320 })),
    email: EmailContent,
    external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export const TestSendReply = Type.Object({ delivered: Type.Boolean(), send_id: Type.String(), smtp_response: Type.String() });
export const Counts = Type.Object({
  considered: Type.Integer(),
  queued: Type.Integer(),
  sent: Type.Integer(),
  delivered: Type.Integer(),
  bounces: Type.Integer(),
  aborted: Type.Integer(),
  skipped: Type.Integer(),
  control: Type.Integer(),
  unique_opens: Type.Integer(),
  unique_clicks: Type.Integer(),
  unsubscribes: Type.Integer(),
  /** Conversion events are not yet counted per send: null. */
  conversions: Type.Union([Type.Integer(), Type.Null()]),
});
export const VariantCounts = Type.Object({ variant_id: Type.String(), name: Type.String(), ...Counts.properties });
export const CampaignOverview = Type.Object({
  id: Type.String(),
  name: Type.String(),
  channel: Type.String(),
  state: Type.String(),
  created_at: Type.String(),
  totals: Counts,
  variants: Type.Array(VariantCounts),
});
export const CampaignOverviewPage = Type.Object({ campaigns: Type.Array(CampaignOverview) });
export const OverviewQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 200 })) }, { additionalProperties: false });
export const Progress = Type.Object({
  campaign_id: Type.String(),
  state: Type.String(),
  dispatches: Type.Array(
    Type.Object({
      dispatch_id: Type.String(),
      created_at: Type.String(),
      /** `resolving`: the audience is still being written as send rows. */
      state: Type.String(),
      total: Type.Integer(),
      queued: Type.Integer(),
      sent: Type.Integer(),
      failed: Type.Integer(),
      aborted: Type.Integer(),
      skipped: Type.Integer(),
      control: Type.Integer(),
    }),
  ),
});
export const UserMessages = Type.Object({
  user_id: Type.String(),
  subscriptions: Type.Object({ email_subscribe: Type.Union([Type.String(), Type.Null()]), push_subscribe: Type.Union([Type.String(), Type.Null()]), email_hard_bounced: Type.Boolean(), email_spam_reported: Type.Boolean() }),
  messages: Type.Array(
    Type.Object({
      send_id: Type.String(),
      campaign_id: Type.String(),
      campaign_name: Type.String(),
      channel: Type.String(),
      variant_id: Type.String(),
      dispatch_id: Type.String(),
      state: Type.String(),
      reason: Type.Union([Type.String(), Type.Null()]),
      created_at: Type.String(),
      delivered_at: Type.Union([Type.String(), Type.Null()]),
      opened_at: Type.Union([Type.String(), Type.Null()]),
      clicked_at: Type.Union([Type.String(), Type.Null()]),
      unsubscribed_at: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
export const UserParams = Type.Object({ user_id: Type.String({ format: 'uuid' }) });
export const UserQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }, { additionalProperties: false });

