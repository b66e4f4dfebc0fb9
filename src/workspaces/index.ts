/** Workspaces (Braze's app groups), REST API keys and their permissions. */
export * from './keys.js';
export * from './store.js';
export { bearerToken, KeyAuthenticator } from './authenticator.js';
export { prepareStore, seedStore, type PreparedStore } from './prepare.js';
