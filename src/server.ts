/**
 * The composition root: configuration → storage → migrations → seeded key → HTTP app with every
 * capability. `startServer` adds listening and graceful shutdown for the `serve` command.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp, loggerOptions, workspaceRoutes, type CapabilityPlugin } from './http/index.js';
import { ensurePartitions, startRetention } from './events/index.js';
import { applyMigrations, heldLock, openStorage, retryStats, startStoreProbe, withMigrationLock, type Db } from './storage/index.js';
import { partnerList, resolvePartnerKeys, type PartnerRegistry } from './cohorts/index.js';
import { MasterKeyError, resolveMasterKey, type ResolvedMasterKey } from './secrets/index.js';
import { resolveAdminPassword, type AdminPassword } from './web/index.js';
import { createCohortImport, type CohortImportOptions } from './cohorts/index.js';
import { createCurrents } from './currents/index.js';
import { createCampaigns } from './campaigns/index.js';
import { createCanvases } from './canvases/index.js';
import { trackingRoutes, type TrackingHooks } from './tracking/index.js';
import { sdkRoutes } from './sdk/index.js';
import { prepareDashboard } from './web/index.js';
import { seedStore, type PreparedStore } from './workspaces/index.js';
import { moveSdkMessages } from './channels/index.js';
export { prepareStore, type PreparedStore } from './workspaces/index.js';

export interface Rivulet {
  app: FastifyInstance;
  db: Db;
  /** The partners and the partner API keys this process accepts. */
  partners: PartnerRegistry;
  /** Partner API keys generated at this start: printed once to the terminal, never logged. */
  generatedPartnerKeys: Array<{ partner: string; key: string }>;
  /** The dashboard's admin password when generated at this start: printed once, never logged. */
  generatedAdminPassword: string | undefined;
  /** The deployment's master key when generated at this start (kept in the data dir's key file). */
  generatedMasterKey: string | undefined;
  /** The key from `RIVULET_API_KEY` is revoked (and stays so): the start said so in the log. */
  seededKeyRevoked: boolean;
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
  campaigns?: Parameters<typeof createCampaigns>[3];
  /** Canvas worker timing and clock (tests run a week in seconds). */
  canvases?: Parameters<typeof createCanvases>[3];
}

export interface PreparedDeployment extends PreparedStore {
  masterKey: ResolvedMasterKey;
  partnerKeys: { hashes: Record<string, Buffer[]>; generated: Array<{ partner: string; key: string }> };
  adminPassword: AdminPassword;
}

/**
 * What a serving process needs before it takes requests, all under the one migration lock: the
 * migrations, the seeds, the deployment's master key (checked against the database; a mismatch
 * throws `MasterKeyError`), the partner keys (generated once per deployment) and the dashboard's
 * admin password (generated once). Whatever was generated is returned to print once.
 */
export async function prepareDeployment(db: Db, config: Config, opts: { exclusiveStore?: boolean } = {}): Promise<PreparedDeployment> {
  return withMigrationLock(db, async () => {
    await applyMigrations(db);
    const seeded = await seedStore(db, config);
    const masterKey = await resolveMasterKey(db, config.masterKey, config.dataDir);
    const partnerKeys = await resolvePartnerKeys(db, partnerList(config), config.partnerApiKeys, config.dataDir);
    // Only a process holding the embedded store's lock knows no other process can be printing it.
    const adminPassword = await resolveAdminPassword(db, config.adminPassword, { exclusive: opts.exclusiveStore === true });
    return { ...seeded, masterKey, partnerKeys, adminPassword };
  });
}

export async function createRivulet(config: Config, opts: CreateOptions = {}): Promise<Rivulet> {
  const db =
    opts.db ??
    (await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, timeoutMs: config.store.timeoutMs, minFreeBytes: config.store.minFreeBytes }));
  try {
    const prepared = await prepareDeployment(db, config, { exclusiveStore: !opts.db && !config.databaseUrl });
    const logWindow = { windowMs: config.eventLog.retentionMs, partitionMs: config.eventLog.partitionMs };
    await ensurePartitions(db, logWindow);
    const cohorts = await createCohortImport(config, { ...opts.cohortImport, partnerKeys: prepared.partnerKeys, box: prepared.masterKey.box });
    const hooks: TrackingHooks = { mergeParticipants: [...cohorts.mergeParticipants, moveSdkMessages], profileExtensions: [...cohorts.profileExtensions] };
    const capabilities: CapabilityPlugin[] = [workspaceRoutes, trackingRoutes(hooks), ...cohorts.capabilities];
    const currents = await createCurrents(config, undefined, prepared.masterKey.box);
    capabilities.push(...currents.capabilities);
    capabilities.push((await import('./segments/index.js')).segmentRoutes);
    const campaigns = await createCampaigns(db, config, prepared.masterKey.box, opts.campaigns);
    capabilities.push(...campaigns.routes);
    const canvases = await createCanvases(db, config, prepared.masterKey.box, opts.canvases);
    capabilities.push(...canvases.routes);
    const dashboard = await prepareDashboard(db, config, { profileExtensions: hooks.profileExtensions, password: prepared.adminPassword });
    capabilities.push(dashboard.routes);
    capabilities.push(sdkRoutes(hooks));
    // The embedded store is this process's alone: the CLI beside it sends its commands here.
    if (!opts.db && !config.databaseUrl) capabilities.push(await (await import('./cli/index.js')).localAdminRoutes(config.dataDir));
    const app = await buildApp({ db, config, capabilities, logger: opts.logger === false ? false : loggerOptions(config.logLevel) });
    if (prepared.seededKey?.revoked_at) {
      app.log.warn(
        { prefix: prepared.seededKey.prefix, revoked_at: prepared.seededKey.revoked_at },
        'the API key configured in RIVULET_API_KEY is revoked and stays revoked: it is not accepted (set RIVULET_API_KEY to a new key, or unset it)',
      );
    }
    // A store that cannot write (full disk, lost connection) turns ready again once a probe write succeeds.
    const stopProbe = startStoreProbe(db);
    const stopHealthLog = db.health?.onChange((change) => {
      if (change.ready) app.log.info({ store: db.kind }, 'store ready again: writes are accepted');
      else app.log.error({ store: db.kind, conditions: change.conditions }, `store not ready: ${change.reason}; writes answer 503 and /readyz 503 until it recovers`);
    });
    if (db.health && !db.health.ready) app.log.error({ store: db.kind }, `store not ready: ${db.health.reason}; writes answer 503 and /readyz 503 until it recovers`);
    retryStats.listener = (reason, attempt, err) =>
      app.log.warn({ reason, attempt, code: (err as { code?: unknown }).code }, 'transaction conflicted; running it again after a back-off');
    const stopWorkers = opts.workers === false ? () => {} : cohorts.startWorkers(db, (err) => app.log.error({ err }, 'background work failed'));
    const stopCurrents = opts.workers === false ? async () => {} : currents.startWorkers(db, app);
    const stopSends = opts.workers === false ? async () => {} : campaigns.startWorkers(app);
    const stopCanvases = opts.workers === false ? async () => {} : canvases.startWorkers(app);
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
      partners: cohorts.partners,
      generatedPartnerKeys: cohorts.generatedPartnerKeys,
      generatedMasterKey: prepared.masterKey.generated,
      seededKeyRevoked: Boolean(prepared.seededKey?.revoked_at),
      generatedAdminPassword: dashboard.generatedPassword,
      adminPasswordNotice: dashboard.passwordNotice,
      adminPasswordShown: dashboard.passwordShown,
      async close() {
        await stopWorkers();
        await stopCurrents();
        await stopSends();
        await stopCanvases();
        await stopRetention();
        await app.close();
        stopHealthLog?.();
        stopProbe?.();
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

/**
 * Runs until SIGTERM/SIGINT, then stops accepting, finishes in-flight requests and closes the store;
 * gives up on stuck work (a store that no longer answers) after `config.shutdownTimeoutMs` and exits 1.
 */
export async function startServer(config: Config): Promise<Rivulet> {
  let rivulet: Rivulet;
  try {
    rivulet = await createRivulet(config);
  } catch (err) {
    if (err instanceof MasterKeyError) {
      // One line that names the fix, and a non-zero exit.
      process.stderr.write(`rivulet: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
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
    // Port in use and the like: close the store cleanly, then report (src/startup-errors.ts).
    await Promise.race([rivulet.close().catch(() => {}), new Promise((r) => setTimeout(r, config.shutdownTimeoutMs).unref())]);
    throw err;
  }
  rivulet.app.log.info({ store: rivulet.db.kind, url: config.publicUrl }, 'Rivulet is serving');
  for (const { partner, key } of rivulet.generatedPartnerKeys) {
    process.stderr.write(
      `\nGenerated the ${partner} partner API key (shown only now; the database keeps only its hash, and every process on it accepts the key; set RIVULET_PARTNER_API_KEY_${partner.toUpperCase()} to replace it):\n  ${key}\n\n`,
    );
  }
  if (rivulet.generatedMasterKey && rivulet.db.kind === 'postgres') {
    // How to give it to the others, never the key itself: terminal output ends up in log stores.
    const file = join(config.dataDir, 'master.key');
    process.stderr.write(
      `\nGenerated the deployment's master key into ${file} (mode 0600). Every other process on this database must be started with the same key:\n  RIVULET_MASTER_KEY=$(cat ${file})\n\n`,
    );
  }
  process.stderr.write(`\nDashboard: ${config.publicUrl}/dashboard/\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    rivulet.app.log.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      rivulet.app.log.error(
        { deadlineMs: config.shutdownTimeoutMs },
        'graceful shutdown did not finish within RIVULET_SHUTDOWN_TIMEOUT_MS; exiting without waiting for stuck work (acknowledged writes are in the WAL and are recovered at the next start)',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
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
