/**
 * `rivulet currents create-mixpanel|list|status|pause|resume|delete|test|dead-letters|resend|backfill`:
 * Mixpanel exports from the command line, against the same store as the server. A running server
 * notices changes made here within its reconcile interval. Secrets may come from the environment
 * (MIXPANEL_SERVICE_ACCOUNT_SECRET, MIXPANEL_API_SECRET, MIXPANEL_PROJECT_TOKEN) to keep them out of
 * shell history; they are never printed.
 */
import type { Command } from 'commander';
import { cliSecret, loadConfig, type CliSecretVariable } from '../config.js';
import {
  connectorStatus,
  createConnector,
  deleteConnector,
  getConnector,
  importClientFor,
  listConnectors,
  loadCurrentsConfig,
  parseMixpanelExportInput,
  publicConnector,
  runBackfill,
  setPaused,
  silentLog,
  testConnection,
  type BackfillProgress,
} from '../currents/index.js';
import { formatProgress } from '../currents/index.js';
import { listDeadLetters, deadLettersByIds } from '../currents/index.js';
import { resendDeadLetters } from '../currents/index.js';
import { openSecrets } from '../currents/index.js';
import { ApiError } from '../http/index.js';
import { loadSecretBox } from '../secrets/index.js';
import type { Db } from '../storage/index.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, findWorkspace } from '../workspaces/index.js';
import { CliError, withStore } from './store.js';

interface CreateOptions {
  workspace: string;
  name: string;
  contactEmail: string;
  region: string;
  projectToken?: string;
  serviceAccountUsername?: string;
  serviceAccountSecret?: string;
  projectId?: string;
  apiSecret?: string;
  eventTypes: string;
  baseUrl?: string;
  partnerId?: string;
  batchByteCap?: string;
  maxInFlight?: string;
  startFrom?: string;
}

function fromEnv(flag: string | undefined, name: CliSecretVariable): string | undefined {
  return flag ?? cliSecret(name);
}

function asCliError(err: unknown): never {
  if (err instanceof ApiError) {
    const details = err.errors.map((e) => `  ${e.path ? `${e.path}: ` : ''}${e.type}`).join('\n');
    throw new CliError(`${err.message}${err.errors.length > 1 || err.errors[0]?.type !== err.message ? `\n${details}` : ''}`);
  }
  throw err;
}

function parseTime(flag: string, value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(`${flag} must be an ISO-8601 date-time, got "${value}"`);
  return Math.floor(ms / 1000);
}

async function connectorOrFail(db: Db, id: string) {
  const c = await getConnector(db, id);
  if (!c) throw new CliError(`no connector ${id}`);
  return c;
}

export function registerCurrentsCommands(program: Command): void {
  const cmd = program.command('currents').description('manage Currents exports to Mixpanel (connectors)');

  cmd
    .command('create-mixpanel')
    .description('create a Mixpanel export; prints its id as the last line of stdout')
    .option('--workspace <name>', 'workspace name (created if missing)', DEFAULT_WORKSPACE)
    .requiredOption('--name <name>', 'integration name')
    .requiredOption('--contact-email <email>', 'who is told when the export fails or recovers')
    .option('--region <region>', 'US, EU or IN', 'US')
    .option('--project-token <token>', 'Mixpanel project token (or MIXPANEL_PROJECT_TOKEN)')
    .option('--service-account-username <username>', 'service account username')
    .option('--service-account-secret <secret>', 'service account secret (or MIXPANEL_SERVICE_ACCOUNT_SECRET)')
    .option('--project-id <id>', 'Mixpanel project id (with a service account)')
    .option('--api-secret <secret>', 'legacy project API secret (or MIXPANEL_API_SECRET)')
    .requiredOption('--event-types <list>', 'comma-separated event types, or "all"')
    .option('--base-url <url>', "ingestion base URL (the emulator); default: the region's Mixpanel host")
    .option('--partner-id <id>', '$partner_id (default rivulet)')
    .option('--batch-byte-cap <bytes>', 'uncompressed bytes per request (default 9 MiB)')
    .option('--max-in-flight <n>', 'requests in flight (default 4, at most 20)')
    .option('--start-from <where>', '"now" (default) or "earliest" (the whole log)')
    .action(async (opts: CreateOptions) => {
      const username = opts.serviceAccountUsername;
      const apiSecret = fromEnv(opts.apiSecret, 'MIXPANEL_API_SECRET');
      const useServiceAccount = username !== undefined || opts.projectId !== undefined || !apiSecret;
      const credentials = useServiceAccount
        ? { kind: 'service_account', username, secret: fromEnv(opts.serviceAccountSecret, 'MIXPANEL_SERVICE_ACCOUNT_SECRET'), project_id: opts.projectId }
        : { kind: 'api_secret', api_secret: apiSecret };
      const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const body = {
        name: opts.name,
        contact_email: opts.contactEmail,
        credentials,
        project_token: fromEnv(opts.projectToken, 'MIXPANEL_PROJECT_TOKEN'),
        region: opts.region,
        event_types: opts.eventTypes.trim() === 'all' ? (await import('../events/index.js')).SELECTABLE_EVENT_TYPES : opts.eventTypes.split(',').map((t) => t.trim()).filter(Boolean),
        base_url: opts.baseUrl,
        partner_id: opts.partnerId,
        batch_byte_cap: int(opts.batchByteCap),
        max_in_flight: int(opts.maxInFlight),
        start_from: opts.startFrom,
      };
      let input;
      try {
        input = parseMixpanelExportInput(JSON.parse(JSON.stringify(body)));
      } catch (err) {
        asCliError(err);
      }
      const config = loadConfig();
      const box = await loadSecretBox(config.masterKey, config.dataDir);
      await withStore(async (db) => {
        const ws = await ensureWorkspace(db, opts.workspace);
        const created = await createConnector(db, box, ws.id, input);
        console.error(`created Mixpanel export "${created.name}" in workspace ${ws.name} (${created.eventTypes.length} event types)`);
        console.log(created.id);
      });
    });

  cmd
    .command('list')
    .description('list Mixpanel exports (credentials shown as their last four characters)')
    .option('--workspace <name>', 'only this workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace?: string; json?: boolean }) => {
      await withStore(async (db) => {
        const ws = opts.workspace ? await findWorkspace(db, opts.workspace) : undefined;
        if (opts.workspace && !ws) throw new CliError(`no workspace named ${opts.workspace}`);
        const list = (await listConnectors(db, ws?.id)).map(publicConnector);
        if (opts.json) return console.log(JSON.stringify(list, null, 2));
        for (const c of list) console.log(`${c.id}\t${c.state}\t${c.region}\t${c.name}\t${c.event_types.length} types\t${c.ingestion_url}`);
      });
    });

  cmd
    .command('status <id>')
    .description('state, lag, counters by reason, retries and last error')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withStore(async (db) => {
        const s = await connectorStatus(db, await connectorOrFail(db, id), { runningHere: false, inFlightEvents: null });
        if (opts.json) return console.log(JSON.stringify(s, null, 2));
        const lines = [
          `${s.name} (${s.id})  state ${s.state}`,
          `lag: ${s.lag.events} events, ${s.lag.seconds} s    sent ${s.sent}    retries ${s.retries}`,
          `skipped ${s.skipped_total}: ${JSON.stringify(s.skipped_by_reason)}`,
          `dead-lettered ${s.dead_lettered_total}: ${JSON.stringify(s.dead_lettered_by_reason)}`,
          `credentials (${s.credential_kind}): ${Object.entries(s.credential_hints).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ];
        if (s.last_error) lines.push(`last error (${new Date(s.last_error_at!).toISOString()}): ${s.last_error}`);
        console.log(lines.join('\n'));
      });
    });

  for (const action of ['pause', 'resume'] as const) {
    cmd
      .command(`${action} <id>`)
      .description(action === 'pause' ? 'pause delivery (the cursor holds; events keep buffering)' : 'resume delivery')
      .action(async (id: string) => {
        await withStore(async (db) => {
          const c = await setPaused(db, id, undefined, action === 'pause');
          if (!c) throw new CliError(`no connector ${id}`);
          console.log(`${action === 'pause' ? 'paused' : 'resumed'} ${c.id}`);
        });
      });
  }

  cmd
    .command('delete <id>')
    .description('delete a Mixpanel export with its counters and dead letters')
    .action(async (id: string) => {
      await withStore(async (db) => {
        if (!(await deleteConnector(db, id))) throw new CliError(`no connector ${id}`);
        console.log(`deleted ${id}`);
      });
    });

  cmd
    .command('test <id>')
    .description('test the connection with a probe Mixpanel rejects on purpose (nothing is imported)')
    .action(async (id: string) => {
      const config = loadConfig();
      const box = await loadSecretBox(config.masterKey, config.dataDir);
      await withStore(async (db) => {
        const c = await connectorOrFail(db, id);
        const client = importClientFor({ ...c, maxInFlight: 1 }, await openSecrets(db, box, c.id), loadCurrentsConfig());
        try {
          const result = await testConnection((body) => client.send(body));
          console.log(`${result.ok ? 'ok' : 'FAILED'}: ${result.message}${result.status ? ` (HTTP ${result.status})` : ''}${result.detail ? `\n${result.detail}` : ''}`);
          if (!result.ok) process.exitCode = 2;
        } finally {
          await client.close();
        }
      });
    });

  cmd
    .command('dead-letters <id>')
    .description('list dead letters (state dead)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { limit: string; json?: boolean }) => {
      await withStore(async (db) => {
        const c = await connectorOrFail(db, id);
        const letters = await listDeadLetters(db, c.id, { state: 'dead', limit: Number(opts.limit) || 100 });
        if (opts.json) return console.log(JSON.stringify(letters, null, 2));
        for (const l of letters) console.log(`${l.id}\t${l.event_type}\t${l.insert_id}\t${l.reason}${l.field ? `\t${l.field}` : ''}${l.message ? `\t${l.message.slice(0, 120)}` : ''}`);
      });
    });

  cmd
    .command('resend <id>')
    .description('re-send dead letters, keeping their $insert_id')
    .option('--ids <list>', 'comma-separated dead-letter ids')
    .option('--all', 'every dead letter (up to 1,000 per run)')
    .action(async (id: string, opts: { ids?: string; all?: boolean }) => {
      if (!opts.all && !opts.ids) throw new CliError('give --ids or --all');
      const config = loadConfig();
      const currentsConfig = loadCurrentsConfig();
      const box = await loadSecretBox(config.masterKey, config.dataDir);
      await withStore(async (db) => {
        const c = await connectorOrFail(db, id);
        const letters = opts.all
          ? await listDeadLetters(db, c.id, { state: 'dead', limit: 1000 })
          : await deadLettersByIds(db, c.id, opts.ids!.split(',').map((s) => Number(s.trim())).filter((n) => Number.isSafeInteger(n)));
        const secrets = await openSecrets(db, box, c.id);
        const client = importClientFor(c, secrets, currentsConfig);
        try {
          const r = await resendDeadLetters(db, c.id, letters, {
            send: (b, signal) => client.send(b, signal),
            token: secrets.projectToken,
            batchByteCap: c.batchByteCap,
            delayScale: currentsConfig.delayScale,
            authRetryMs: currentsConfig.authRetryMs,
            budgetMs: 5 * 60_000,
          });
          console.log(`resent ${r.resent}, failed again ${r.failed_again}, not attempted ${r.not_attempted}`);
        } finally {
          await client.close();
        }
      });
    });

  cmd
    .command('backfill')
    .description('re-export the events of a time range [from, to) to one connector, with a progress bar on stderr')
    .requiredOption('--connector <id>', 'connector id')
    .requiredOption('--from <iso>', 'start (inclusive), ISO-8601')
    .requiredOption('--to <iso>', 'end (exclusive), ISO-8601')
    .action(async (opts: { connector: string; from: string; to: string }) => {
      const from = parseTime('--from', opts.from);
      const to = parseTime('--to', opts.to);
      if (from >= to) throw new CliError('--from must be before --to');
      const config = loadConfig();
      const box = await loadSecretBox(config.masterKey, config.dataDir);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const started = Date.now();
      const tty = process.stderr.isTTY === true;
      let lastDraw = 0;
      const draw = (p: BackfillProgress, force = false) => {
        const now = Date.now();
        if (!force && now - lastDraw < (tty ? 100 : 2000)) return;
        lastDraw = now;
        const line = formatProgress(p, now - started);
        process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      };
      await withStore(async (db) => {
        const c = await connectorOrFail(db, opts.connector);
        try {
          const result = await runBackfill({
            db,
            box,
            config: loadCurrentsConfig(),
            connectorId: c.id,
            fromSeconds: from,
            toSeconds: to,
            log: silentLog,
            onProgress: (p) => draw(p),
            signal: controller.signal,
          });
          draw(result, true);
          if (tty) process.stderr.write('\n');
          process.stderr.write(`reach: ${result.reach}\n`);
          console.log(
            `backfill ${result.id} ${result.state}: ${result.done} events read, ${result.sent} sent, ${result.skipped} skipped, ${result.deadLettered} dead-lettered, ${result.retries} retries`,
          );
          if (result.state !== 'done') process.exitCode = 130;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}
