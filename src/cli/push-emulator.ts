/**
 * `rivulet push-emulator [--port N] [--host H] [--latency-ms N]`: runs the push-service emulator
 * until SIGINT or SIGTERM; its base URL is the last line of stdout (docs/reference/push.md §5).
 */
import type { Command } from 'commander';
import { startPushEmulator } from '../emulator/index.js';
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

export function registerPushEmulatorCommand(program: Command): void {
  program
    .command('push-emulator')
    .description('run the web push service emulator (RFC 8030 endpoint, VAPID checks, aes128gcm decryption, fault injection); prints its base URL')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8027')
    .option('--host <h>', 'address to listen on', '127.0.0.1')
    .option('--latency-ms <n>', 'delay before answering each push', '0')
    .action(async (opts: Options) => {
      const emulator = await startPushEmulator({ port: integer('--port', opts.port, 65535), host: opts.host, latencyMs: integer('--latency-ms', opts.latencyMs, 600_000) });
      console.error('control API: POST /emulator/subscriptions, DELETE /emulator/subscriptions/{id}, GET /emulator/messages, GET /emulator/requests, PUT /emulator/faults');
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
