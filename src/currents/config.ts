/**
 * The Currents export's own settings, beside the core's `Config`. Like every setting they are read
 * and validated in src/config.ts; this module keeps the capability's import path.
 */
export { DEFAULT_AUTH_RETRY_MS, loadCurrentsConfig, type CurrentsConfig } from '../config.js';
