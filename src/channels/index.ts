/** Channels: how a message goes out — email over SMTP with tracking, webhooks to allowed addresses. */
export * from './email/index.js';
export * from './webhook/index.js';
export * from './sms/index.js';
export * from './push/index.js';
export * from './content-cards/index.js';
export * from './in-app/index.js';
