#!/usr/bin/env node
/** `rivulet <command>`: one entry point for the server and the operator commands (docs/reference/operations.md). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { cliSecret, ConfigError, debugRequested, loadConfig } from '../config.js';
import { registerImportKeyCommands } from './import-keys.js';
import { registerKeyCommands } from './keys.js';
import { registerMailSinkCommand } from './mail-sink.js';
import { registerMixpanelEmulatorCommand } from './mixpanel-emulator.js';
import { registerTwilioEmulatorCommand } from './twilio-emulator.js';
import { registerPushEmulatorCommand } from './push-emulator.js';
import { OPERATIONS } from './operations.js';
import { registerOperations, runOperation } from './store.js';
import { startServer } from '../server.js';
import { explainStartupError } from '../startup-errors.js';
import { usePrivateUmask } from '../storage/index.js';

// Whatever this process writes under the data dir (PGlite's files, key files, the lock) is private.
usePrivateUmask();
registerOperations(OPERATIONS);

// package.json is two levels up from both src/cli/ and dist/cli/.
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = new Command('rivulet')
  .description('Self-hosted engagement-data platform with a Mixpanel integration')
  .version(VERSION, '-v, --version', 'print the version');

program
  .command('serve')
  .description('run the API, the dashboard and the workers')
  .action(async () => {
    await startServer(loadConfig());
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    await runOperation('migrate', {}, { migrate: false });
  });

registerKeyCommands(program);
registerImportKeyCommands(program);
registerMixpanelEmulatorCommand(program);
registerMailSinkCommand(program, { RIVULET_MAIL_SINK_AUTH: cliSecret('RIVULET_MAIL_SINK_AUTH') });
registerTwilioEmulatorCommand(program, { RIVULET_TWILIO_EMULATOR_ACCOUNTS: cliSecret('RIVULET_TWILIO_EMULATOR_ACCOUNTS') });
registerPushEmulatorCommand(program);
(await import('./currents.js')).registerCurrentsCommands(program);
(await import('./campaigns.js')).registerCampaignCommands(program);

// One line naming the cause and the fix; the stack trace only with LOG_LEVEL=debug.
program.parseAsync(process.argv).catch((err: unknown) => {
  const known = explainStartupError(err);
  if (known) console.error(`rivulet: ${known}`);
  else if (err instanceof ConfigError || (err instanceof Error && err.name === 'CliError')) console.error(`rivulet: ${err.message}`);
  else console.error(`rivulet: ${err instanceof Error ? err.message : String(err)}${debugRequested() ? '' : ' (LOG_LEVEL=debug shows the stack trace)'}`);
  if (debugRequested()) console.error(err);
  process.exit(1);
});
