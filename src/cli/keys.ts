/** `rivulet keys create|list|revoke`: REST API keys from the command line. */
import type { Command } from 'commander';
import {
  DEFAULT_WORKSPACE,
  createApiKey,
  ensureWorkspace,
  findWorkspace,
  listApiKeys,
  parsePermissions,
  revokeApiKey,
} from '../workspaces/index.js';
import { CliError, withStore } from './store.js';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage REST API keys');

  keys
    .command('create')
    .description('create a REST API key; the key is printed once, as the last line of stdout')
    .option('--workspace <name>', 'workspace name (created if missing)', DEFAULT_WORKSPACE)
    .option('--name <name>', 'a label for the key', 'cli')
    .requiredOption('--permissions <list>', 'comma-separated permissions, or "all"')
    .action(async (opts: { workspace: string; name: string; permissions: string }) => {
      let permissions;
      try {
        permissions = parsePermissions(opts.permissions);
      } catch (err) {
        throw new CliError(`--permissions: ${(err as Error).message}`);
      }
      await withStore(async (db) => {
        const ws = await ensureWorkspace(db, opts.workspace);
        const created = await createApiKey(db, { workspaceId: ws.id, name: opts.name, permissions });
        console.error(`created key ${created.record.prefix} in workspace ${ws.name} with ${permissions.join(', ')}`);
        console.log(created.key);
      });
    });

  keys
    .command('list')
    .description('list REST API keys (prefixes only)')
    .option('--workspace <name>', 'only this workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace?: string; json?: boolean }) => {
      await withStore(async (db) => {
        const ws = opts.workspace ? await findWorkspace(db, opts.workspace) : undefined;
        if (opts.workspace && !ws) throw new CliError(`no workspace named ${opts.workspace}`);
        const list = await listApiKeys(db, ws?.id);
        if (opts.json) {
          console.log(JSON.stringify(list, null, 2));
          return;
        }
        for (const k of list) {
          const state = k.revoked_at ? 'revoked' : 'active';
          console.log(`${k.prefix}\t${state}\t${k.name}\t${k.permissions.join(',')}\tcreated ${k.created_at.toISOString()}`);
        }
      });
    });

  keys
    .command('revoke <prefix>')
    .description('revoke a REST API key by its prefix')
    .action(async (prefix: string) => {
      await withStore(async (db) => {
        const rec = await revokeApiKey(db, prefix);
        if (!rec) throw new CliError(`no key with prefix ${prefix}`);
        console.log(`revoked ${rec.prefix}`);
      });
    });
}
