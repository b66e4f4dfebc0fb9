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
  type Permission,
} from '../workspaces/index.js';
import { CliError, runOperation, type Operation } from './store.js';

/** What each command does with the store (run here, or by the server holding it: src/cli/store.ts). */
export const keyOperations: Record<string, Operation> = {
  async 'keys.create'(db, args: { workspace: string; name: string; permissions: Permission[] }, io) {
    const ws = await ensureWorkspace(db, args.workspace);
    const created = await createApiKey(db, { workspaceId: ws.id, name: args.name, permissions: args.permissions });
    io.err(`created key ${created.record.prefix} in workspace ${ws.name} with ${args.permissions.join(', ')}\n`);
    io.out(created.key);
  },
  async 'keys.list'(db, args: { workspace?: string; json?: boolean }, io) {
    const ws = args.workspace ? await findWorkspace(db, args.workspace) : undefined;
    if (args.workspace && !ws) throw new CliError(`no workspace named ${args.workspace}`);
    const list = await listApiKeys(db, ws?.id);
    if (args.json) return io.out(JSON.stringify(list, null, 2));
    for (const k of list) {
      const state = k.revoked_at ? 'revoked' : 'active';
      io.out(`${k.prefix}\t${state}\t${k.name}\t${k.permissions.join(',')}\tcreated ${new Date(k.created_at).toISOString()}`);
    }
  },
  async 'keys.revoke'(db, args: { prefix: string }, io) {
    const rec = await revokeApiKey(db, args.prefix);
    if (!rec) throw new CliError(`no key with prefix ${args.prefix}`);
    io.out(`revoked ${rec.prefix}`);
  },
};

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
      await runOperation('keys.create', { workspace: opts.workspace, name: opts.name, permissions });
    });

  keys
    .command('list')
    .description('list REST API keys (prefixes only)')
    .option('--workspace <name>', 'only this workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace?: string; json?: boolean }) => {
      await runOperation('keys.list', { workspace: opts.workspace, json: opts.json === true });
    });

  keys
    .command('revoke <prefix>')
    .description('revoke a REST API key by its prefix')
    .action(async (prefix: string) => {
      await runOperation('keys.revoke', { prefix });
    });
}
