/** The webhook channel: rendered requests sent only where the address policy allows, retried by Braze's rules. */
export { AddressPolicy } from './address-policy.js';
export { guardedAgent, guardedLookup, BlockedAddress, type Resolver } from './connect.js';
export { attemptWebhook, parseRetryAfter, WEBHOOK_METHODS, REPLY_KEPT_BYTES, type WebhookRequest, type WebhookOutcome, type AttemptRecord, type WebhookMethod, type WebhookAbortType } from './deliver.js';
export { nextWebhookAttempt, WEBHOOK_RETRY_WINDOW_MS } from './retry.js';
