/**
 * Request and response schemas of the web push routes (docs/reference/push.md). The subscription's
 * shape is loose here on purpose: `checkSubscription` names the failing field
 * (`subscription.keys.p256dh`), which a schema error would not say as plainly.
 */
import { Type, type Static } from 'typebox';

const DeviceId = Type.String({ minLength: 1, maxLength: 255 });

export const VapidKeyView = Type.Object({
  /** base64url of the uncompressed P-256 point: the `applicationServerKey` to subscribe with. */
  public_key: Type.String(),
});

export const SubscribeBody = Type.Object(
  {
    device_id: DeviceId,
    /** `PushSubscription.toJSON()`: endpoint, expirationTime, keys.p256dh, keys.auth. */
    subscription: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: false },
);
export type SubscribeBody = Static<typeof SubscribeBody>;

export const SubscribedView = Type.Object({
  message: Type.Literal('success'),
  subscription_id: Type.String(),
  /** false when this endpoint was registered before (its keys and device were updated). */
  created: Type.Boolean(),
});

export const UnsubscribeBody = Type.Object({ endpoint: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false });
export type UnsubscribeBody = Static<typeof UnsubscribeBody>;
export const UnsubscribedView = Type.Object({ message: Type.Literal('success'), removed: Type.Boolean() });

export const OpenBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 512 }),
    /** The action button clicked, if any (`NotificationEvent.action`). */
    action: Type.Optional(Type.String({ maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type OpenBody = Static<typeof OpenBody>;
export const OpenedView = Type.Object({ message: Type.Literal('success'), logged: Type.Boolean({ description: 'false when this message was opened before' }) });

export const ScriptView = Type.String({ description: 'JavaScript' });
