/** Content cards: one card per send, the SDK's feed, impressions, clicks and dismissals (docs/reference/sdk.md#content-cards). */
export { contentCardFeed, contentCardId, recordCardInteraction, writeContentCard, type CardInteraction, type ContentCardInput, type ContentCardRow } from './store.js';
export { messageEvent, type EventUser, type MessageContext, type ReportingDevice } from './message-event.js';
