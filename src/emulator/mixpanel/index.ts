/**
 * The Mixpanel emulator (mixpanel-import.md): a stand-in for Mixpanel's ingestion API that
 * enforces the contract, stores what it accepts and injects faults on demand.
 */
export { buildMixpanelEmulator, type MixpanelEmulatorAppOptions } from './app.js';
export {
  DEFAULT_IMPORT_SETTINGS,
  MixpanelEmulator,
  type ImportSettings,
  type MixpanelEmulatorOptions,
  type ServiceAccountInput,
} from './emulator.js';
export { authenticate, type AuthResult, type CredentialKind } from './auth.js';
export { FaultInjector, seededRandom, type FaultDecision, type FaultSpec, type OutageWindow } from './faults.js';
export { ProjectRegistry, type Project, type ProjectInput, type ProjectRole, type ServiceAccountGrant } from './projects.js';
export { EVENT_VIEWS, EventStore, type EventView } from './store.js';
export { checkImportRecord, toEpochMs, type DedupKey, type ImportRecord, type RecordCheck } from './validation.js';
export { handleImport, type ImportReply, type ImportRequest } from './import-handler.js';
