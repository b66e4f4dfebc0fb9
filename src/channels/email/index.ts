/** The email channel: compose with tracking, deliver over pooled SMTP, classify answers, serve the recipient's routes. */
export { composeEmail, textOf, type ComposeInput, type ComposedEmail, type RenderedEmail } from './compose.js';
export { classifySmtp, nextEmailAttempt, EMAIL_RETRY_WINDOW_MS, type SmtpOutcome } from './outcome.js';
export { signToken, verifyToken, tokenWorkspace, type TrackingPayload, type TokenKind } from './tokens.js';
export { SmtpTransports, type SmtpSettings } from './transport.js';
export { trackingRoutes, PIXEL_GIF, type TrackingHooks } from './tracking-routes.js';
export { checkSendGridSignature, mapSendGridEvents, sendGridPublicKey, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, MAX_SENDGRID_EVENTS, type ProviderEvent, type ProviderOutcome } from './sendgrid-events.js';
