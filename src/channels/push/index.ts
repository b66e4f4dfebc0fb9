/** Web push: VAPID keys, subscriptions registered through the SDK, RFC 8291/8030 sends, Open reports. */
export { generateVapidKeys, vapidKeys, type VapidKeys } from './vapid.js';
export { base64urlBytes, canonicalKeys, checkEndpoint, checkSubscription, isP256Point, type PushSubscriptionInput } from './subscription.js';
export { markOpened, markPushMessage, messagesOfSend, preparePushMessage, saveSubscription, subscriptionsOfDevices, deleteSubscription, type PushMessageRow, type PushSubscriptionRow } from './store.js';
export { MAX_PAYLOAD_BYTES, PUSH_TTL_SECONDS, pushRequest, sendPush, vapidSubject, type PushOutcome, type PushPayload, type PushTarget } from './send.js';
export { openTokenWorkspace, signOpenToken, verifyOpenToken, type OpenClaim } from './open-token.js';
export { pushRoutes, PUSH_OPEN_PATH, SW_BUNDLE, type PushRouteDeps } from './routes.js';
