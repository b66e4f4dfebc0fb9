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

export const SDK_EVENT_TYPES = ['session_start', 'session_end', 'change_user', 'custom_event', 'purchase', 'attributes'] as const;

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
