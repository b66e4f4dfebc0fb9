/**
 * `rivulet twilio-emulator [--port N] [--host H] [--latency-ms N]`: runs the Twilio emulator until
 * SIGINT or SIGTERM; its base URL is the last line of stdout. Accounts come from
 * RIVULET_TWILIO_EMULATOR_ACCOUNTS (`ACxxx:token[,ACyyy:token]`), never from the command line,
 * and can be added later with POST /emulator/accounts.
 */
import type { Command } from 'commander';
import { startTwilioEmulator } from '../emulator/index.js';
import { CliError } from './store.js';

interface Options {
  port: string;
  host: string;
  latencyMs: string;
}

function integer(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CliError(`${flag} must be an integer between 0 and ${max}, got ${value}`);
  return n;
}

/** Parses `ACxxx:token,ACyyy:token`. */
export function parseAccounts(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const sid = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon < 0 || !/^AC[0-9a-fA-F]{32}$/.test(sid) || token.length < 16) throw new CliError('RIVULET_TWILIO_EMULATOR_ACCOUNTS must be ACxxx:token pairs (AC + 32 hex digits, a token of 16+ characters), comma-separated');
    out[sid] = token;
  }
  return out;
}

export function registerTwilioEmulatorCommand(program: Command, env: { RIVULET_TWILIO_EMULATOR_ACCOUNTS?: string | undefined }): void {
  program
    .command('twilio-emulator')
    .description("run the Twilio emulator (Messages API, signed status callbacks, inbound messages, fault injection); prints its base URL")
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8026')
    .option('--host <h>', 'address to listen on', '127.0.0.1')
    .option('--latency-ms <n>', 'delay before each status callback', '200')
    .action(async (opts: Options) => {
      const emulator = await startTwilioEmulator({
        port: integer('--port', opts.port, 65535),
        host: opts.host,
        latencyMs: integer('--latency-ms', opts.latencyMs, 600_000),
        accounts: parseAccounts(env.RIVULET_TWILIO_EMULATOR_ACCOUNTS),
      });
      console.error(`accounts: ${emulator.store.accounts.size}; control API: POST /emulator/accounts, GET /emulator/messages, GET /emulator/callbacks, PUT /emulator/faults, POST /emulator/inbound`);
      console.log(emulator.url);
      const stop = () => {
        emulator.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
