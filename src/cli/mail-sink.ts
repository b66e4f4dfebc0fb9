/**
 * `rivulet mail-sink [--smtp-port N] [--http-port N] [--host H]`: runs the mail sink (an SMTP server
 * that keeps what it receives, and its HTTP API) until SIGINT or SIGTERM. The SMTP URL and the API
 * URL are the last two lines of stdout. The account for `--auth` comes from
 * RIVULET_MAIL_SINK_AUTH (`user:password`), never from the command line.
 */
import type { Command } from 'commander';
import { startMailSink } from '../emulator/index.js';
import { CliError } from './store.js';

interface Options {
  smtpPort: string;
  httpPort: string;
  host: string;
  auth?: boolean;
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${flag} must be an integer between 0 and 65535, got ${value}`);
  return n;
}

export function registerMailSinkCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('mail-sink')
    .description('run the mail sink (SMTP server + HTTP API to read, count and fail messages); prints its SMTP and HTTP URLs')
    .option('--smtp-port <n>', 'SMTP port to listen on (0 picks a free one)', '2525')
    .option('--http-port <n>', 'HTTP API port (0 picks a free one)', '8025')
    .option('--host <h>', 'address to listen on', '127.0.0.1')
    .option('--auth', 'require SMTP AUTH with the account in RIVULET_MAIL_SINK_AUTH (user:password)')
    .action(async (opts: Options) => {
      let auth: { user: string; pass: string } | undefined;
      if (opts.auth) {
        const account = env.RIVULET_MAIL_SINK_AUTH ?? '';
        const colon = account.indexOf(':');
        if (colon < 1 || colon === account.length - 1) throw new CliError('--auth needs RIVULET_MAIL_SINK_AUTH=user:password in the environment');
        auth = { user: account.slice(0, colon), pass: account.slice(colon + 1) };
      }
      const sink = await startMailSink({ smtpPort: port('--smtp-port', opts.smtpPort), httpPort: port('--http-port', opts.httpPort), host: opts.host, auth });
      console.error('HTTP API: GET /messages, GET /messages/:id, POST /messages/:id/open|click|unsubscribe, GET /stats, PUT /rules');
      console.log(sink.smtpUrl);
      console.log(sink.url);
      const stop = () => {
        sink.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
