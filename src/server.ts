/**
 * The composition root: configuration → storage → migrations → seeded key → HTTP app with every
 * capability. `startServer` adds listening and graceful shutdown for the `serve` command.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp, loggerOptions, workspaceRoutes, type CapabilityPlugin } from './http/index.js';
import { ensurePartitions, startRetention } from './events/index.js';
import { migrate, openStorage, retryStats, type Db } from './storage/index.js';
import { createCohortImport, type CohortImportOptions } from './cohorts/index.js';
import { createCurrents } from './currents/index.js';
import { trackingRoutes, type TrackingHooks } from './tracking/index.js';
import { prepareDashboard } from './web/index.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, PERMISSIONS, seedApiKey } from './workspaces/index.js';

export interface Rivulet {
  app: FastifyInstance;
  db: Db;
  /** Partner API keys generated at this start: printed once to the terminal, never logged. */
  generatedPartnerKeys: Array<{ partner: string; key: string }>;
  /** The dashboard's admin password when generated at this start: printed once, never logged. */
  generatedAdminPassword: string | undefined;
  close(): Promise<void>;
}

export interface CreateOptions {
  /** Use this store instead of opening one from the config (tests). */
  db?: Db;
  logger?: boolean;
  /** Start background workers (default true). */
  workers?: boolean;
  /** Cohort import options (tests scale pull mode's clock down). */
  cohortImport?: CohortImportOptions;
}

export async function prepareStore(db: Db, config: Config): Promise<void> {
  await migrate(db);
  const workspace = await ensureWorkspace(db, DEFAULT_WORKSPACE);
  if (config.seedApiKey) {
    await seedApiKey(db, { workspaceId: workspace.id, name: 'RIVULET_API_KEY', permissions: [...PERMISSIONS] }, config.seedApiKey);
  }
}

export async function createRivulet(config: Config, opts: CreateOptions = {}): Promise<Rivulet> {
  const db = opts.db ?? (await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  try {
    await prepareStore(db, config);
    const logWindow = { windowMs: config.eventLog.retentionMs, partitionMs: config.eventLog.partitionMs };
    await ensurePartitions(db, logWindow);
    const cohorts = await createCohortImport(config, opts.cohortImport);
    const hooks: TrackingHooks = { mergeParticipants: [...cohorts.mergeParticipants], profileExtensions: [...cohorts.profileExtensions] };
    const capabilities: CapabilityPlugin[] = [workspaceRoutes, trackingRoutes(hooks), ...cohorts.capabilities];
    const currents = await createCurrents(config);
    capabilities.push(...currents.capabilities);
    capabilities.push((await import('./segments/index.js')).segmentRoutes);
    const dashboard = await prepareDashboard(db, config, { profileExtensions: hooks.profileExtensions });
    capabilities.push(dashboard.routes);
    const app = await buildApp({ db, config, capabilities, logger: opts.logger === false ? false : loggerOptions(config.logLevel) });
    retryStats.listener = (reason, attempt, err) =>
      app.log.warn({ reason, attempt, code: (err as { code?: unknown }).code }, 'transaction conflicted; running it again after a back-off');
    const stopWorkers = opts.workers === false ? () => {} : cohorts.startWorkers(db, (err) => app.log.error({ err }, 'background work failed'));
    const stopCurrents = opts.workers === false ? async () => {} : currents.startWorkers(db, app);
    const stopRetention =
      opts.workers === false
        ? async () => {}
        : startRetention(
            db,
            { ...logWindow, everyMs: config.eventLog.maintenanceMs },
            (err) => app.log.error({ err }, 'event log retention failed'),
            (gap) => app.log.warn({ gap }, 'a Currents connector is behind the event log window'),
          );
    return {
      app,
      db,
      generatedPartnerKeys: cohorts.generatedPartnerKeys,
      generatedAdminPassword: dashboard.generatedPassword,
      async close() {
        await stopWorkers();
        await stopCurrents();
        await stopRetention();
        await app.close();
        if (!opts.db) await db.close();
      },
    };
  } catch (err) {
    if (!opts.db) await db.close();
    throw err;
  }
}

/** Runs until SIGTERM/SIGINT, then stops accepting, finishes in-flight requests and closes the store. */
export async function startServer(config: Config): Promise<Rivulet> {
  const rivulet = await createRivulet(config);
  await rivulet.app.listen({ port: config.port, host: config.host });
  rivulet.app.log.info({ store: rivulet.db.kind, url: config.publicUrl }, 'Rivulet is serving');
  for (const { partner, key } of rivulet.generatedPartnerKeys) {
    process.stderr.write(`\nGenerated the ${partner} partner API key (kept in ${config.dataDir}/partner-keys.json):\n  ${key}\n\n`);
  }
  process.stderr.write(`\nDashboard: ${config.publicUrl}/dashboard/\n`);
  if (rivulet.generatedAdminPassword) {
    process.stderr.write(`Generated the dashboard admin password (stored hashed; shown only now; set RIVULET_ADMIN_PASSWORD to replace it):\n  ${rivulet.generatedAdminPassword}\n\n`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    rivulet.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      rivulet.app.log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    try {
      await rivulet.close();
      process.exit(0);
    } catch (err) {
      rivulet.app.log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return rivulet;
}
