/**
 * The HTTP layer every capability's routes use: the app and its services, key authentication and
 * rate limits, the error catalogue, the shared counters and the admin API's key routes.
 */
export * from './app.js';
export * from './auth.js';
export * from './auth-throttle.js';
export * from './credential-changes.js';
export * from './errors.js';
export * from './key-routes.js';
export * from './rate-limit.js';
export * from './shared-counters.js';
export * from './storable-strings.js';
export * from './pagination.js';
export * from './contract.js';
