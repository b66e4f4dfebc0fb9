/**
 * `rivulet currents create-mixpanel|list|status|pause|resume|delete|test|dead-letters|resend|backfill`:
 * Mixpanel exports from the command line, against the same store as the server. A running server
 * notices changes made here within its reconcile interval (beside a server on the embedded store, the
 * command runs in that server: src/cli/store.ts). Secrets come from the environment
 * (MIXPANEL_SERVICE_ACCOUNT_SECRET, MIXPANEL_API_SECRET) or stdin (`--service-account-secret-stdin`,
 * `--api-secret-stdin`), never from argv, where `ps` and shell history show them; they are never
 * printed.
 */
import { Option, type Command } from 'commander';
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
import { openSecrets, updateConnector } from '../currents/index.js';
import { parseMixpanelExportUpdate, settingsAsBody } from '../currents/index.js';
import { ApiError } from '../http/index.js';
import type { Db } from '../storage/index.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, findWorkspace } from '../workspaces/index.js';
import { CliError, deploymentBox, runOperation, type Io, type Operation } from './store.js';
import { readSecretFromStdin } from './secrets.js';

interface CreateOptions {
  workspace: string;
  name: string;
  contactEmail: string;
  region: string;
  projectToken?: string;
  serviceAccountUsername?: string;
  serviceAccountSecret?: string;
  serviceAccountSecretStdin?: boolean;
  projectId?: string;
  apiSecret?: string;
  apiSecretStdin?: boolean;
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

/** The API's field names in validation messages, as this command's flags (and variables). */
const FLAG_OF_FIELD: Array<[RegExp, string]> = [
  [/\bcredentials\.username\b/g, '--service-account-username'],
  [/\bcredentials\.secret\b/g, '--service-account-secret-stdin (or MIXPANEL_SERVICE_ACCOUNT_SECRET)'],
  [/\bcredentials\.project_id\b/g, '--project-id'],
  [/\bcredentials\.api_secret\b/g, '--api-secret-stdin (or MIXPANEL_API_SECRET)'],
  [/\bproject_token\b/g, '--project-token (or MIXPANEL_PROJECT_TOKEN)'],
  [/\bevent_types(\[\d+\])?/g, '--event-types'],
  [/\b(contact_email|base_url|partner_id|batch_byte_cap|max_in_flight|start_from)\b/g, ''],
  [/^(name|region)\b/g, ''],
];

export function withCliFlags(text: string): string {
  let out = text;
  for (const [pattern, flag] of FLAG_OF_FIELD) out = out.replace(pattern, (field) => flag || `--${field.replace(/_/g, '-')}`);
  return out;
}

function asCliError(err: unknown): never {
  if (err instanceof ApiError) {
    // One line per problem, each naming the flag: "--contact-email must be an email address".
    const problems = [...new Set(err.errors.map((e) => withCliFlags(e.type)))];
    throw new CliError(problems.length > 1 ? `${problems.length} problems with the options:\n  ${problems.join('\n  ')}` : (problems[0] ?? withCliFlags(err.message)));
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

interface BackfillArgs {
  connector: string;
  from: number;
  to: number;
}

/** What each command does with the store (run here, or by the server holding it: src/cli/store.ts). */
export const currentsOperations: Record<string, Operation> = {
  async 'currents.create-mixpanel'(db, args: { workspace: string; body: unknown }, io) {
    let input;
    try {
      input = parseMixpanelExportInput(args.body);
    } catch (err) {
      asCliError(err);
    }
    const config = loadConfig();
    const box = await deploymentBox(db, config);
    const ws = await ensureWorkspace(db, args.workspace);
    const created = await createConnector(db, box, ws.id, input);
    io.err(`created Mixpanel export "${created.name}" in workspace ${ws.name} (${created.eventTypes.length} event types)\n`);
    io.out(created.id);
  },
  async 'currents.list'(db, args: { workspace?: string; json?: boolean }, io) {
    const ws = args.workspace ? await findWorkspace(db, args.workspace) : undefined;
    if (args.workspace && !ws) throw new CliError(`no workspace named ${args.workspace}`);
    const list = (await listConnectors(db, ws?.id)).map(publicConnector);
    if (args.json) return io.out(JSON.stringify(list, null, 2));
    for (const c of list) io.out(`${c.id}\t${c.state}\t${c.region}\t${c.name}\t${c.event_types.length} types\t${c.ingestion_url}`);
  },
  async 'currents.status'(db, args: { id: string; json?: boolean }, io) {
    const s = await connectorStatus(db, await connectorOrFail(db, args.id), { runningHere: false, inFlightEvents: null });
    if (args.json) return io.out(JSON.stringify(s, null, 2));
    const lines = [
      `${s.name} (${s.id})  state ${s.state}`,
      `lag: ${s.lag.events} events, ${s.lag.seconds} s    sent ${s.sent}    retries ${s.retries}`,
      `skipped ${s.skipped_total}: ${JSON.stringify(s.skipped_by_reason)}`,
      `dead-lettered ${s.dead_lettered_total}: ${JSON.stringify(s.dead_lettered_by_reason)}`,
      `credentials (${s.credential_kind}): ${Object.entries(s.credential_hints).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ];
    if (s.last_error) lines.push(`last error (${new Date(s.last_error_at!).toISOString()}): ${s.last_error}`);
    io.out(lines.join('\n'));
  },
  async 'currents.pause'(db, args: { id: string }, io) {
    const c = await setPaused(db, args.id, undefined, true);
    if (!c) throw new CliError(`no connector ${args.id}`);
    io.out(`paused ${c.id}`);
  },
  async 'currents.resume'(db, args: { id: string }, io) {
    const c = await setPaused(db, args.id, undefined, false);
    if (!c) throw new CliError(`no connector ${args.id}`);
    io.out(`resumed ${c.id}`);
  },
  async 'currents.delete'(db, args: { id: string }, io) {
    if (!(await deleteConnector(db, args.id))) throw new CliError(`no connector ${args.id}`);
    io.out(`deleted ${args.id}`);
  },
  async 'currents.test'(db, args: { id: string }, io) {
    const config = loadConfig();
    const box = await deploymentBox(db, config);
    const c = await connectorOrFail(db, args.id);
    const client = importClientFor({ ...c, maxInFlight: 1 }, await openSecrets(db, box, c.id), loadCurrentsConfig());
    try {
      const result = await testConnection((body) => client.send(body));
      io.out(`${result.ok ? 'ok' : 'FAILED'}: ${result.message}${result.status ? ` (HTTP ${result.status})` : ''}${result.detail ? `\n${result.detail}` : ''}`);
      if (!result.ok) io.exitCode = 2;
    } finally {
      await client.close();
    }
  },
  async 'currents.update'(db, args: { id: string; patch: Record<string, unknown>; secrets: { saSecret?: string; apiSecret?: string } }, io) {
    const config = loadConfig();
    const box = await deploymentBox(db, config);
    const c = await connectorOrFail(db, args.id);
    const secrets = await openSecrets(db, box, c.id);
    const current = settingsAsBody(c, secrets);
    const patch = { ...args.patch };
    const cred = patch['credentials'] as Record<string, unknown> | undefined;
    if (args.secrets.apiSecret !== undefined) patch['credentials'] = { kind: 'api_secret', api_secret: args.secrets.apiSecret };
    else if (cred || args.secrets.saSecret !== undefined) {
      // The service-account parts not given are kept.
      const was = secrets.credentials.kind === 'service_account' ? secrets.credentials : undefined;
      patch['credentials'] = { kind: 'service_account', username: cred?.username ?? was?.username, secret: args.secrets.saSecret ?? was?.secret, project_id: cred?.project_id ?? was?.projectId };
    }
    if (patch['event_types'] === 'all') patch['event_types'] = (await import('../events/index.js')).SELECTABLE_EVENT_TYPES;
    let parsed;
    try {
      parsed = parseMixpanelExportUpdate(JSON.parse(JSON.stringify(patch)), current);
    } catch (err) {
      asCliError(err);
    }
    const reset = parsed.changed.some((k) => ['credentials', 'project_token', 'region', 'base_url'].includes(k));
    const updated = await updateConnector(db, c.id, c.workspaceId, { ...parsed.input, sealed: box.sealJson(parsed.input.secrets) }, reset);
    if (!updated) throw new CliError(`no connector ${args.id}`);
    io.out(`updated ${args.id}: ${parsed.changed.join(', ') || 'nothing changed'}`);
  },
  async 'currents.dead-letters'(db, args: { id: string; limit: number; json?: boolean }, io) {
    const c = await connectorOrFail(db, args.id);
    const letters = await listDeadLetters(db, c.id, { state: 'dead', limit: args.limit });
    if (args.json) return io.out(JSON.stringify(letters, null, 2));
    for (const l of letters) io.out(`${l.id}\t${l.event_type}\t${l.insert_id}\t${l.reason}${l.field ? `\t${l.field}` : ''}${l.message ? `\t${l.message.slice(0, 120)}` : ''}`);
  },
  async 'currents.resend'(db, args: { id: string; all: boolean; ids: number[] }, io) {
    const config = loadConfig();
    const currentsConfig = loadCurrentsConfig();
    const box = await deploymentBox(db, config);
    const c = await connectorOrFail(db, args.id);
    const letters = args.all ? await listDeadLetters(db, c.id, { state: 'dead', limit: 1000 }) : await deadLettersByIds(db, c.id, args.ids);
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
      io.out(`resent ${r.resent}, failed again ${r.failed_again}, not attempted ${r.not_attempted}`);
    } finally {
      await client.close();
    }
  },
  async 'currents.backfill'(db, args: BackfillArgs, io: Io) {
    const config = loadConfig();
    const box = await deploymentBox(db, config);
    const started = Date.now();
    const tty = io.stderrIsTty;
    let lastDraw = 0;
    const draw = (p: BackfillProgress, force = false) => {
      const now = Date.now();
      if (!force && now - lastDraw < (tty ? 100 : 2000)) return;
      lastDraw = now;
      const line = formatProgress(p, now - started);
      io.err(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    };
    const c = await connectorOrFail(db, args.connector);
    const result = await runBackfill({
      db,
      box,
      config: loadCurrentsConfig(),
      connectorId: c.id,
      fromSeconds: args.from,
      toSeconds: args.to,
      log: silentLog,
      onProgress: (p) => draw(p),
      signal: io.signal,
    });
    draw(result, true);
    if (tty) io.err('\n');
    io.err(`reach: ${result.reach}\n`);
    io.out(
      `backfill ${result.id} ${result.state}: ${result.done} events read, ${result.sent} sent, ${result.skipped} skipped, ${result.deadLettered} dead-lettered, ${result.retries} retries`,
    );
    if (result.state !== 'done') io.exitCode = 130;
  },
};

/** A secret from stdin (`--…-stdin`) or its environment variable; argv forms are refused (ps shows them). */
async function secretFrom(opts: { argv: string | undefined; argvFlag: string; stdin: boolean | undefined; stdinFlag: string; env: CliSecretVariable }): Promise<string | undefined> {
  if (opts.argv !== undefined) {
    throw new CliError(`${opts.argvFlag} is refused: a secret on the command line is visible to every local user (ps, /proc, shell history). Set ${opts.env}, or pass ${opts.stdinFlag} and write the secret to stdin.`);
  }
  if (opts.stdin) return readSecretFromStdin(opts.stdinFlag);
  return cliSecret(opts.env);
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
    .option('--service-account-secret-stdin', 'read the service account secret from stdin (or set MIXPANEL_SERVICE_ACCOUNT_SECRET)')
    .option('--project-id <id>', 'Mixpanel project id (with a service account)')
    .option('--api-secret-stdin', 'read the legacy project API secret from stdin (or set MIXPANEL_API_SECRET)')
    .addOption(new Option('--service-account-secret <secret>').hideHelp())
    .addOption(new Option('--api-secret <secret>').hideHelp())
    .requiredOption('--event-types <list>', 'comma-separated event types, or "all"')
    .option('--base-url <url>', "ingestion base URL (the emulator); default: the region's Mixpanel host")
    .option('--partner-id <id>', '$partner_id (default rivulet)')
    .option('--batch-byte-cap <bytes>', 'uncompressed bytes per request (default 9 MiB)')
    .option('--max-in-flight <n>', 'requests in flight (default 4, at most 20)')
    .option('--start-from <where>', '"now" (default) or "earliest" (the whole log)')
    .action(async (opts: CreateOptions) => {
      if (opts.serviceAccountSecretStdin && opts.apiSecretStdin) throw new CliError('give one of --service-account-secret-stdin and --api-secret-stdin: stdin holds one secret');
      const username = opts.serviceAccountUsername;
      const apiSecret = await secretFrom({ argv: opts.apiSecret, argvFlag: '--api-secret', stdin: opts.apiSecretStdin, stdinFlag: '--api-secret-stdin', env: 'MIXPANEL_API_SECRET' });
      const saSecret = await secretFrom({
        argv: opts.serviceAccountSecret,
        argvFlag: '--service-account-secret',
        stdin: opts.serviceAccountSecretStdin,
        stdinFlag: '--service-account-secret-stdin',
        env: 'MIXPANEL_SERVICE_ACCOUNT_SECRET',
      });
      const useServiceAccount = username !== undefined || opts.projectId !== undefined || !apiSecret;
      const credentials = useServiceAccount
        ? { kind: 'service_account', username, secret: saSecret, project_id: opts.projectId }
        : { kind: 'api_secret', api_secret: apiSecret };
      const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const body = JSON.parse(
        JSON.stringify({
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
        }),
      ) as unknown;
      // Checked here first, so that a mistake is reported before the store is opened.
      try {
        parseMixpanelExportInput(body);
      } catch (err) {
        asCliError(err);
      }
      await runOperation('currents.create-mixpanel', { workspace: opts.workspace, body });
    });

  cmd
    .command('update <id>')
    .description('change a Mixpanel export in place (only the options given); a running export picks it up within seconds, from its cursor')
    .option('--name <name>', 'connector name')
    .option('--contact-email <email>', 'contact for notices')
    .option('--region <region>', 'US, EU or IN')
    .option('--project-token <token>', 'Mixpanel project token')
    .option('--service-account-username <username>', 'service account username (the other service-account parts are kept unless given)')
    .option('--service-account-secret-stdin', 'read a new service account secret from stdin (or set MIXPANEL_SERVICE_ACCOUNT_SECRET)')
    .option('--project-id <id>', 'Mixpanel project id (with a service account)')
    .option('--api-secret-stdin', 'read a legacy project API secret from stdin, replacing the credentials (or set MIXPANEL_API_SECRET)')
    .addOption(new Option('--service-account-secret <secret>').hideHelp())
    .addOption(new Option('--api-secret <secret>').hideHelp())
    .option('--event-types <list>', 'comma-separated event types, or "all"')
    .option('--base-url <url>', 'ingestion base URL; "default" for the region\'s Mixpanel host')
    .option('--partner-id <id>', '$partner_id')
    .option('--batch-byte-cap <bytes>', 'uncompressed bytes per request')
    .option('--max-in-flight <n>', 'requests in flight')
    .action(async (id: string, opts: Omit<CreateOptions, 'workspace' | 'name' | 'contactEmail' | 'region' | 'eventTypes'> & { name?: string; contactEmail?: string; region?: string; eventTypes?: string }) => {
      if (opts.serviceAccountSecretStdin && opts.apiSecretStdin) throw new CliError('give one of --service-account-secret-stdin and --api-secret-stdin: stdin holds one secret');
      const apiSecret = await secretFrom({ argv: opts.apiSecret, argvFlag: '--api-secret', stdin: opts.apiSecretStdin, stdinFlag: '--api-secret-stdin', env: 'MIXPANEL_API_SECRET' });
      const saSecret = await secretFrom({ argv: opts.serviceAccountSecret, argvFlag: '--service-account-secret', stdin: opts.serviceAccountSecretStdin, stdinFlag: '--service-account-secret-stdin', env: 'MIXPANEL_SERVICE_ACCOUNT_SECRET' });
      const patch: Record<string, unknown> = {};
      if (opts.name !== undefined) patch['name'] = opts.name;
      if (opts.contactEmail !== undefined) patch['contact_email'] = opts.contactEmail;
      if (opts.region !== undefined) patch['region'] = opts.region;
      if (opts.projectToken !== undefined) patch['project_token'] = opts.projectToken;
      if (opts.serviceAccountUsername !== undefined || opts.projectId !== undefined) patch['credentials'] = { username: opts.serviceAccountUsername, project_id: opts.projectId };
      if (opts.eventTypes !== undefined) patch['event_types'] = opts.eventTypes.trim() === 'all' ? 'all' : opts.eventTypes.split(',').map((t) => t.trim()).filter(Boolean);
      if (opts.baseUrl !== undefined) patch['base_url'] = opts.baseUrl === 'default' ? null : opts.baseUrl;
      if (opts.partnerId !== undefined) patch['partner_id'] = opts.partnerId;
      if (opts.batchByteCap !== undefined) patch['batch_byte_cap'] = Number(opts.batchByteCap);
      if (opts.maxInFlight !== undefined) patch['max_in_flight'] = Number(opts.maxInFlight);
      await runOperation('currents.update', { id, patch, secrets: { ...(saSecret !== undefined ? { saSecret } : {}), ...(apiSecret !== undefined ? { apiSecret } : {}) } });
    });

  cmd
    .command('list')
    .description('list Mixpanel exports (credentials shown as their last four characters)')
    .option('--workspace <name>', 'only this workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace?: string; json?: boolean }) => {
      await runOperation('currents.list', { workspace: opts.workspace, json: opts.json === true });
    });

  cmd
    .command('status <id>')
    .description('state, lag, counters by reason, retries and last error')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await runOperation('currents.status', { id, json: opts.json === true });
    });

  for (const action of ['pause', 'resume'] as const) {
    cmd
      .command(`${action} <id>`)
      .description(action === 'pause' ? 'pause delivery (the cursor holds; events keep buffering)' : 'resume delivery')
      .action(async (id: string) => {
        await runOperation(`currents.${action}`, { id });
      });
  }

  cmd
    .command('delete <id>')
    .description('delete a Mixpanel export with its counters and dead letters')
    .action(async (id: string) => {
      await runOperation('currents.delete', { id });
    });

  cmd
    .command('test <id>')
    .description('test the connection with a probe Mixpanel rejects on purpose (nothing is imported)')
    .action(async (id: string) => {
      await runOperation('currents.test', { id });
    });

  cmd
    .command('dead-letters <id>')
    .description('list dead letters (state dead)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { limit: string; json?: boolean }) => {
      await runOperation('currents.dead-letters', { id, limit: Number(opts.limit) || 100, json: opts.json === true });
    });

  cmd
    .command('resend <id>')
    .description('re-send dead letters, keeping their $insert_id')
    .option('--ids <list>', 'comma-separated dead-letter ids')
    .option('--all', 'every dead letter (up to 1,000 per run)')
    .action(async (id: string, opts: { ids?: string; all?: boolean }) => {
      if (!opts.all && !opts.ids) throw new CliError('give --ids or --all');
      const ids = opts.all ? [] : opts.ids!.split(',').map((s) => Number(s.trim())).filter((n) => Number.isSafeInteger(n));
      await runOperation('currents.resend', { id, all: opts.all === true, ids });
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
      await runOperation('currents.backfill', { connector: opts.connector, from, to } satisfies BackfillArgs);
    });
}
