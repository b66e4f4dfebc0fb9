/**
 * `rivulet mixpanel-emulator [--port N] [--host H] [--project ID [--service-account USER]]`: runs the whole Mixpanel emulator (ingestion,
 * engage query API, webhook sender, `/_emulator/` control endpoints) until SIGINT or SIGTERM. The
 * base URL is the last line of stdout, so scripts can read it.
 */
import type { Command } from 'commander';
import { cliSecret } from '../config.js';
import { startMixpanelEmulator } from '../emulator/index.js';
import { readSecretFromStdin } from './secrets.js';
import { CliError } from './store.js';

interface Options {
  port: string;
  host: string;
  project?: string;
  serviceAccount?: string;
  serviceAccountSecretStdin?: boolean;
}

export function registerMixpanelEmulatorCommand(program: Command): void {
  program
    .command('mixpanel-emulator')
    .description('run the Mixpanel emulator (ingestion, engage query API, webhook sender); prints its base URL')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '4000')
    .option('--host <h>', 'address to listen on', '127.0.0.1')
    .option('--project <id>', 'create a project with this id at start')
    .option('--service-account <user>', 'with --project: a service account with the owner role on it; its secret from MIXPANEL_SERVICE_ACCOUNT_SECRET or stdin')
    .option('--service-account-secret-stdin', "read the service account's secret from stdin")
    .action(async (opts: Options) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be an integer between 0 and 65535, got ${opts.port}`);
      let serviceAccounts: Array<{ username: string; secret: string; role: 'owner' }> = [];
      if (opts.serviceAccount) {
        if (!opts.project) throw new CliError('--service-account needs --project');
        // Secrets never on the command line (ps shows it to every local user), even the emulator's.
        if (opts.serviceAccount.includes(':')) {
          throw new CliError('--service-account user:secret is refused: a secret on the command line is visible to every local user. Give --service-account <user> and the secret in MIXPANEL_SERVICE_ACCOUNT_SECRET or on stdin with --service-account-secret-stdin.');
        }
        const secret = opts.serviceAccountSecretStdin ? await readSecretFromStdin('--service-account-secret-stdin') : cliSecret('MIXPANEL_SERVICE_ACCOUNT_SECRET');
        if (!secret) throw new CliError('--service-account needs its secret: set MIXPANEL_SERVICE_ACCOUNT_SECRET or pass --service-account-secret-stdin');
        serviceAccounts = [{ username: opts.serviceAccount, secret, role: 'owner' }];
      }
      const running = await startMixpanelEmulator({
        port,
        host: opts.host,
        projects: opts.project ? [{ id: opts.project, serviceAccounts }] : [],
      });
      for (const p of running.emulator.registry.list().projects) {
        console.error(`project ${p.id}: token ${p.token}, api secret ${p.apiSecret}`);
      }
      console.error('control endpoints under /_emulator/ (projects, cohorts, engage, webhook-syncs, events, faults)');
      console.log(running.url);
      const stop = () => {
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
