/**
 * Cohort import: partner registry, data import keys, the partner cohort API, Mixpanel's webhook,
 * matching, membership, data points and sync history. `createCohortImport` wires it for the server.
 */
import type { Config } from '../config.js';
import type { CapabilityPlugin } from '../http/index.js';
import type { MergeParticipant, ProfileExtension } from '../identity/index.js';
import type { Db } from '../storage/index.js';
import { cohortAdminRoutes } from './admin-routes.js';
import { CohortContext } from './context.js';
import { partnerApiRoutes } from './partner-api.js';
import { PartnerRegistry, partnerList } from './partners.js';
import type { SecretBox } from '../secrets/index.js';
import { createPullMode, type PullTiming } from './pull/index.js';
import { cohortMergeParticipant, cohortProfileExtension } from './store.js';
import { expireStagedSessions, webhookRoutes } from './webhook.js';
import { checkSyncIncidents } from './sync-alerts.js';

export { createImportKey, listImportKeys, rotateImportKey, invalidateImportKey, findActiveImportKey, publicImportKey } from './import-keys.js';
export { MIXPANEL, PartnerRegistry, partnerList, resolvePartnerKeys, type Partner } from './partners.js';
export { listCohorts, getCohort, type Cohort } from './store.js';
export { expireStagedSessions } from './webhook.js';

export interface CohortImport {
  capabilities: CapabilityPlugin[];
  mergeParticipants: MergeParticipant[];
  profileExtensions: ProfileExtension[];
  partners: PartnerRegistry;
  /** Partner keys generated at this start (to print once). */
  generatedPartnerKeys: Array<{ partner: string; key: string }>;
  /**
   * Starts background work (expiry of staged webhook sessions, the pull scheduler); returns a stop
   * function that resolves once runs in flight are aborted and their leases given back.
   */
  startWorkers(db: Db, onError: (err: unknown) => void): () => Promise<void>;
}

export interface CohortImportOptions {
  /** Pull mode's clock constants (tests scale them down). */
  pullTiming?: Partial<PullTiming>;
  /**
   * The partner keys resolved at start against the database (`resolvePartnerKeys`, in
   * `prepareStore`); without it, only the keys from the environment are accepted.
   */
  partnerKeys?: { hashes: Record<string, Buffer[]>; generated: Array<{ partner: string; key: string }> };
  /** The deployment's master key (`resolveMasterKey`); without it pull mode reads the key file. */
  box?: SecretBox;
}

const EXPIRY_SWEEP_MS = 10 * 60_000;

export async function createCohortImport(config: Config, options: CohortImportOptions = {}): Promise<CohortImport> {
  const partners = partnerList(config);
  const resolved = options.partnerKeys;
  const registry = resolved ? new PartnerRegistry(partners, {}, resolved.hashes) : new PartnerRegistry(partners, config.partnerApiKeys);
  const generated = resolved?.generated ?? [];
  const ctx = new CohortContext(registry, config);
  const pull = createPullMode(ctx, config, options.pullTiming, options.box);
  return {
    capabilities: [partnerApiRoutes(ctx), webhookRoutes(ctx), cohortAdminRoutes(ctx), pull.routes],
    mergeParticipants: [cohortMergeParticipant],
    profileExtensions: [cohortProfileExtension],
    partners: registry,
    generatedPartnerKeys: generated,
    startWorkers(db, onError) {
      const sweep = () => expireStagedSessions(db).catch(onError);
      const timer = setInterval(sweep, EXPIRY_SWEEP_MS);
      timer.unref();
      void sweep();
      const stopPull = pull.start(db, onError);
      const alerts = config.cohortSyncAlerts;
      let checking: Promise<unknown> = Promise.resolve();
      const check = () => (checking = checkSyncIncidents(db, alerts?.contact).catch(onError));
      const alertTimer = setInterval(check, alerts?.checkMs ?? 60_000);
      alertTimer.unref();
      void check();
      return async () => {
        clearInterval(alertTimer);
        await checking;
        clearInterval(timer);
        await stopPull();
      };
    },
  };
}
export * as CohortsContract from './contract.js';
