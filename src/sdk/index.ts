/** The browser SDK's server side: SDK apps (public keys, allowed origins) and the upload endpoint. */
export { sdkRoutes, SDK_BUNDLE } from './routes.js';
export { SDK_KEY_HEADER, MAX_BATCH_EVENTS } from './contract.js';
export { sdkAuthenticator, type SdkApp } from './authenticate.js';
export { originAllowed } from './origins.js';
