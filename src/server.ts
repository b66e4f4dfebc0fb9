/**
 * The composition root: configuration → storage → migrations → seeded key → HTTP app with every
 * capability. `startServer` adds listening and graceful shutdown for the `serve` command.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp, loggerOptions, type CapabilityPlugin } from './http/app.js';
import { ensurePartitions, startRetention } from './events/retention.js';
import { heldLock, migrate, openStorage, retryStats, type Db } from './storage/index.js';
import { createCohortImport, type CohortImportOptions } from './cohorts/index.js';
import { createCurrents } from './currents/index.js';
import { createCampaigns } from './campaigns/index.js';
import { trackingRoutes, type TrackingHooks } from './tracking/index.js';
import { prepareDashboard } from './web/server/index.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, PERMISSIONS, seedApiKey, workspaceRoutes } from './workspaces/index.js';

export interface Rivulet {
  app: FastifyInstance;
  db: Db;
  /** Partner API keys generated at this start: printed once to the terminal, never logged. */
  generatedPartnerKeys: Array<{ partner: string; key: string }>;
  /** The dashboard's admin password when generated at this start: printed once, never logged. */
  generatedAdminPassword: string | undefined;
  /** A line to print with (or instead of) the generated password (src/web/server/index.ts). */
  adminPasswordNotice: string | undefined;
  /** Records that the generated password was printed. */
  adminPasswordShown(): Promise<void>;
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
  /** Send worker timing (tests poll faster). */
  campaigns?: Parameters<typeof createCampaigns>[2];
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
    const campaigns = await createCampaigns(db, config, opts.campaigns);
    capabilities.push(...campaigns.routes);
    const dashboard = await prepareDashboard(db, config, { profileExtensions: hooks.profileExtensions });
    capabilities.push(dashboard.routes);
    // The embedded store is this process's alone: the CLI beside it sends its commands here.
    if (!opts.db && !config.databaseUrl) capabilities.push(await (await import('./cli/local-admin.js')).localAdminRoutes(config.dataDir));
    const app = await buildApp({ db, config, capabilities, logger: opts.logger === false ? false : loggerOptions(config.logLevel) });
    retryStats.listener = (reason, attempt, err) =>
      app.log.warn({ reason, attempt, code: (err as { code?: unknown }).code }, 'transaction conflicted; running it again after a back-off');
    const stopWorkers = opts.workers === false ? () => {} : cohorts.startWorkers(db, (err) => app.log.error({ err }, 'background work failed'));
    const stopCurrents = opts.workers === false ? async () => {} : currents.startWorkers(db, app);
    const stopSends = opts.workers === false ? async () => {} : campaigns.startWorkers(app);
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
      adminPasswordNotice: dashboard.passwordNotice,
      adminPasswordShown: dashboard.passwordShown,
      async close() {
        await stopWorkers();
        await stopCurrents();
        await stopSends();
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

/** Where a local client reaches this server: its address, or loopback when it listens on every address. */
function loopbackUrl(app: FastifyInstance): string {
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') return '';
  const host = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
}

/** Runs until SIGTERM/SIGINT, then stops accepting, finishes in-flight requests and closes the store. */
export async function startServer(config: Config): Promise<Rivulet> {
  const rivulet = await createRivulet(config);
  // The generated password is stored (hashed) already; it is printed before listening, so that a
  // start failing from here on (port in use) has shown it, and marked shown once printed: one
  // stored but never shown is replaced, with a line saying so, at the next start.
  if (rivulet.adminPasswordNotice) process.stderr.write(`\n${rivulet.adminPasswordNotice}\n`);
  if (rivulet.generatedAdminPassword) {
    process.stderr.write(`\nGenerated the dashboard admin password (stored hashed; shown only now; set RIVULET_ADMIN_PASSWORD to replace it):\n  ${rivulet.generatedAdminPassword}\n\n`);
    await rivulet.adminPasswordShown();
  }
  try {
    await rivulet.app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await rivulet.close().catch(() => {});
    throw err;
  }
  rivulet.app.log.info({ store: rivulet.db.kind, url: config.publicUrl }, 'Rivulet is serving');
  for (const { partner, key } of rivulet.generatedPartnerKeys) {
    process.stderr.write(`\nGenerated the ${partner} partner API key (kept in ${config.dataDir}/partner-keys.json):\n  ${key}\n\n`);
  }
  process.stderr.write(`\nDashboard: ${config.publicUrl}/dashboard/\n`);
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
  // The CLI beside this server finds it here (src/cli/store.ts).
  await heldLock(config.dataDir)?.update({ url: loopbackUrl(rivulet.app) });
  return rivulet;
}
