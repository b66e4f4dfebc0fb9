#!/usr/bin/env node
/** `rivulet <command>`: one entry point for the server and the operator commands (docs/reference/operations.md). */
import { Command } from 'commander';
import { cliSecret, ConfigError, loadConfig } from '../config.js';
import { registerImportKeyCommands } from './import-keys.js';
import { registerKeyCommands } from './keys.js';
import { registerMailSinkCommand } from './mail-sink.js';
import { registerMixpanelEmulatorCommand } from './mixpanel-emulator.js';
import { withStore } from './store.js';
import { startServer } from '../server.js';
import { migrate } from '../storage/index.js';

const program = new Command('rivulet').description('Self-hosted engagement-data platform with a Mixpanel integration');

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
    await withStore(async (db) => {
      const applied = await migrate(db);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    }, { migrate: false });
  });

registerKeyCommands(program);
registerImportKeyCommands(program);
registerMixpanelEmulatorCommand(program);
registerMailSinkCommand(program, { RIVULET_MAIL_SINK_AUTH: cliSecret('RIVULET_MAIL_SINK_AUTH') });
(await import('./currents.js')).registerCurrentsCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError || (err instanceof Error && err.name === 'CliError')) {
    console.error(`rivulet: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
