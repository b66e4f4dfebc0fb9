/**
 * Currents export: the publish API, the catalogue view, Mixpanel connectors (admin API), the
 * delivery engine with its notification outbox, dead letters and backfill. `createCurrents` wires
 * it for the server: routes as capabilities, and `startWorkers` for the supervisor and the outbox.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { CapabilityPlugin } from '../http/index.js';
import { loadSecretBox, type SecretBox } from '../secrets/index.js';
import type { Db } from '../storage/index.js';
import { loadCurrentsConfig, type CurrentsConfig } from './config.js';
import { connectorRoutes } from './connectors/routes.js';
import { CurrentsContext } from './context.js';
import { registerCurrentsMetrics } from './delivery/metrics.js';
import { CurrentsSupervisor } from './delivery/supervisor.js';
import type { CurrentsLog } from './log.js';
import { startNotificationSender } from './notifications/sender.js';
import { publishRoutes } from './publish/routes.js';
import { HistoryRecorder } from './history/recorder.js';

export { loadCurrentsConfig, type CurrentsConfig } from './config.js';
export { parseMixpanelExportInput, INGESTION_HOSTS, REGIONS, type MixpanelExportInput } from './connectors/settings.js';
export { createConnector, deleteConnector, getConnector, listConnectors, setPaused, connectorState, type Connector } from './connectors/store.js';
export { connectorStatus, publicConnector } from './connectors/status.js';
export { testConnection } from './connectors/connection-test.js';
export { importClientFor, LiveExport } from './delivery/live-export.js';
export { CurrentsSupervisor } from './delivery/supervisor.js';
export { runBackfill, BackfillError, type BackfillProgress } from './backfill/backfill.js';
export { formatProgress } from './backfill/progress.js';
export { deadLettersByIds, listDeadLetters } from './delivery/dead-letters.js';
export { resendDeadLetters } from './delivery/resend.js';
export { openSecrets } from './connectors/store.js';
export { publishEvents } from './publish/publish.js';
export { silentLog, type CurrentsLog } from './log.js';

export interface Currents {
  context: CurrentsContext;
  capabilities: CapabilityPlugin[];
  /** Starts the supervisor (live exports), the notification outbox and the metrics; returns a stop function. */
  startWorkers(db: Db, app: FastifyInstance): () => Promise<void>;
}

/** `masterKey`: the deployment's key as resolved at start (`resolveMasterKey`); else read from the config. */
export async function createCurrents(config: Config, currentsConfig: CurrentsConfig = loadCurrentsConfig(), masterKey?: SecretBox): Promise<Currents> {
  const box = masterKey ?? (await loadSecretBox(config.masterKey, config.dataDir));
  const context = new CurrentsContext(box, currentsConfig);
  return {
    context,
    capabilities: [publishRoutes, connectorRoutes(context)],
    startWorkers(db, app) {
      const log: CurrentsLog = app.log;
      const history: HistoryRecorder = new HistoryRecorder(db, log, {
        flushMs: currentsConfig.historyFlushMs ?? 60_000,
        retentionMs: currentsConfig.historyRetentionMs ?? 3_600_000,
        sampleLag: () => supervisor.sampleLag(),
      });
      const supervisor: CurrentsSupervisor = new CurrentsSupervisor(db, box, currentsConfig, log, history);
      context.supervisor = supervisor;
      history.start();
      registerCurrentsMetrics(app.metrics, db, (id) => context.live(id));
      supervisor.start();
      const stopOutbox = startNotificationSender(
        db,
        { smtpUrl: currentsConfig.smtpUrl, smtpFrom: currentsConfig.smtpFrom, pollMs: currentsConfig.notificationPollMs },
        log,
      );
      return async () => {
        context.supervisor = null;
        await supervisor.stop();
        await history.stop();
        await stopOutbox();
      };
    },
  };
}
export { updateConnector } from './connectors/store.js';
export { parseMixpanelExportUpdate, settingsAsBody } from './connectors/settings.js';
export { enqueueNotice } from './notifications/outbox.js';
export * as CurrentsContract from './contract.js';
