/** In-app messages: one message per send, shown by the SDK when a trigger event is logged (docs/reference/sdk.md#in-app-messages). */
export { inAppAbort, inAppMessageId, moveSdkMessages, IN_APP_FORMAT_VERSION, pendingInAppMessages, recordInAppInteraction, writeInAppMessage, type InAppButton, type InAppInput, type InAppInteraction, type InAppLayout, type InAppRow } from './store.js';
