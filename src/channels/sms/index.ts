/** SMS through a Twilio-compatible provider: client, signatures, settings, callbacks and inbound. */
export { basicAuth, messageForm, messagesUrl, sendSms, SMS_TIMEOUT_MS, type SmsMessage, type SmsProvider, type SmsSendOutcome } from './client.js';
export { acceptSmsMessage, prepareSmsMessage, type SmsMessageRow } from './messages.js';
export { inboundPath, smsRoutes, statusCallbackPath, SMS_WEBHOOK_BODY_LIMIT, type SmsRouteDeps } from './routes.js';
export { checkSmsSettings, DEFAULT_TWILIO_BASE_URL, loadSmsProvider, saveSmsSettings, type SmsSettingsInput } from './settings.js';
export { formParams, twilioSignature, verifyTwilioSignature } from './signature.js';
export { keywordAction, statusEventType, type KeywordAction, type SmsStatusEvent } from './status.js';
