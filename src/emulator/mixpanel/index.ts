/**
 * The Mixpanel emulator (docs/reference/mixpanel-apis.md): a stand-in for Mixpanel's ingestion API that
 * enforces the contract, stores what it accepts and injects faults on demand; and its cohort
 * side: the engage query API (§9) and the custom-webhook cohort sender (§10).
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
export { startMixpanelEmulator, type RunningMixpanelEmulator, type StartMixpanelEmulatorOptions } from './serve.js';
export { CohortEmulator, type CohortEmulatorOptions } from './cohort-emulator.js';
export { CohortBook, type Cohort, type CohortInput, type CohortMember, type CohortMemberInput } from './cohorts.js';
export { EngageApi, DEFAULT_ENGAGE_SETTINGS, authenticateQuery, type EngageSettings, type QueryLogEntry } from './engage.js';
export { parseEngageQuery, type EngageQuery } from './engage-query.js';
export { WebhookSender, DEFAULT_SENDER_SETTINGS, type SenderSettings, type SyncRun, type WebhookSync, type WebhookSyncConfig } from './webhook-sender.js';
export { classifyReply, planRun, paginate, deliveryOrder, type DeliveryFaults, type WebhookMessage } from './webhook-messages.js';
