/**
 * Request and response schemas of the SDK routes (docs/reference/sdk.md). The batch body's shape is
 * checked whole by the schema; what each event type requires is checked by `mapBatch` (batch.ts),
 * which names the failing field as `events[i].field`.
 */
import { Type, type Static } from 'typebox';
import { MAX_ALLOWED_ORIGINS } from './origins.js';

export const MAX_BATCH_EVENTS = 100;
export const SDK_KEY_HEADER = 'x-rivulet-sdk-key';

const Short = Type.String({ minLength: 1, maxLength: 255 });

export const SDK_EVENT_TYPES = [
  'session_start',
  'session_end',
  'change_user',
  'custom_event',
  'purchase',
  'attributes',
  'content_card_impression',
  'content_card_click',
  'content_card_dismiss',
  'in_app_message_impression',
  'in_app_message_click',
] as const;

export const SdkEvent = Type.Object(
  {
    id: Type.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
    type: Type.Union([
      Type.Literal('session_start'),
      Type.Literal('session_end'),
      Type.Literal('change_user'),
      Type.Literal('custom_event'),
      Type.Literal('purchase'),
      Type.Literal('attributes'),
      Type.Literal('content_card_impression'),
      Type.Literal('content_card_click'),
      Type.Literal('content_card_dismiss'),
      Type.Literal('in_app_message_impression'),
      Type.Literal('in_app_message_click'),
    ]),
    time: Type.String({ minLength: 1, maxLength: 64 }),
    session_id: Type.Optional(Short),
    duration: Type.Optional(Type.Number({ minimum: 0 })),
    external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    name: Type.Optional(Short),
    properties: Type.Optional(Type.Object({}, { additionalProperties: true })),
    product_id: Type.Optional(Short),
    currency: Type.Optional(Type.String({ minLength: 3, maxLength: 3 })),
    price: Type.Optional(Type.Number()),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    attributes: Type.Optional(Type.Object({}, { additionalProperties: true })),
    /** The card of a content_card_* event (its `id` in the feed). */
    card_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** The message of an in_app_message_* event, and the button clicked (absent: the message body). */
    message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    button_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type SdkEvent = Static<typeof SdkEvent>;

export const BatchBody = Type.Object(
  {
    device_id: Type.String({ minLength: 1, maxLength: 255 }),
    sdk_version: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    os_version: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    device_model: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    events: Type.Array(SdkEvent, { minItems: 1, maxItems: MAX_BATCH_EVENTS }),
  },
  { additionalProperties: false },
);
export type BatchBody = Static<typeof BatchBody>;

const ItemError = Type.Object({ id: Type.String(), index: Type.Integer(), type: Type.String() }, { additionalProperties: true });

export const BatchResponse = Type.Object({
  message: Type.Literal('success'),
  /** Events applied by this upload. */
  accepted: Type.Integer(),
  /** Events an earlier upload already applied (same client id): skipped. */
  duplicates: Type.Integer(),
  /** Events that could not be applied (a retry may apply them). */
  errors: Type.Array(ItemError),
});

export const ErrorBody = Type.Object({
  message: Type.String(),
  errors: Type.Array(Type.Object({}, { additionalProperties: true })),
  error_count: Type.Optional(Type.Integer()),
});

export const CreateSdkAppBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    allowed_origins: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { minItems: 1, maxItems: MAX_ALLOWED_ORIGINS }),
  },
  { additionalProperties: false },
);
export type CreateSdkAppBody = Static<typeof CreateSdkAppBody>;

const SdkAppView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  key_prefix: Type.String(),
  allowed_origins: Type.Array(Type.String()),
  created_at: Type.String(),
});

export const CreatedSdkApp = Type.Object({ ...SdkAppView.properties, api_key: Type.String() });
export const SdkAppList = Type.Object({ sdk_apps: Type.Array(SdkAppView) });

/** `GET /sdk/v1/content_cards` and `GET /sdk/v1/in_app_messages`: the device whose user's messages are asked for. */
export const DeviceQuery = Type.Object({ device_id: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false });
export type DeviceQuery = Static<typeof DeviceQuery>;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const ContentCardView = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  image_url: Nullable(Type.String()),
  url: Nullable(Type.String()),
  pinned: Type.Boolean(),
  created_at: Type.String(),
  expires_at: Type.String(),
  viewed: Type.Boolean(),
  clicked: Type.Boolean(),
});
export const ContentCardFeed = Type.Object({ cards: Type.Array(ContentCardView) });

export const InAppMessageView = Type.Object({
  id: Type.String(),
  layout: Type.Union([Type.Literal('modal'), Type.Literal('slideup')]),
  header: Nullable(Type.String()),
  body: Type.String(),
  image_url: Nullable(Type.String()),
  buttons: Type.Array(Type.Object({ id: Type.String(), text: Type.String(), url: Nullable(Type.String()) })),
  trigger_events: Type.Array(Type.String()),
  expires_at: Type.String(),
});
export const InAppMessageList = Type.Object({ messages: Type.Array(InAppMessageView) });
