/** `rivulet import-keys create|list|rotate|invalidate`: partners' data import keys from the command line. */
import type { Command } from 'commander';
import { createImportKey, invalidateImportKey, listImportKeys, partnerList, rotateImportKey } from '../cohorts/index.js';
import { loadConfig } from '../config.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, findWorkspace } from '../workspaces/index.js';
import { CliError, runOperation, type Operation } from './store.js';

const iso = (d: Date | string) => new Date(d).toISOString();

/** What each command does with the store (run here, or by the server holding it: src/cli/store.ts). */
export const importKeyOperations: Record<string, Operation> = {
  async 'import-keys.create'(db, args: { partner: string; workspace: string }, io) {
    const ws = await ensureWorkspace(db, args.workspace);
    const { key, record } = await createImportKey(db, ws.id, args.partner);
    io.err(`created data import key ${record.prefix} for ${args.partner} in workspace ${ws.name}\n`);
    io.out(key);
  },
  async 'import-keys.list'(db, args: { workspace?: string }, io) {
    const ws = args.workspace ? await findWorkspace(db, args.workspace) : undefined;
    if (args.workspace && !ws) throw new CliError(`no workspace named ${args.workspace}`);
    for (const k of await listImportKeys(db, ws?.id)) {
      io.out(`${k.prefix}\t${k.partner}\t${k.state}\tcreated ${iso(k.created_at)}\tlast used ${k.last_used_at ? iso(k.last_used_at) : 'never'}`);
    }
  },
  async 'import-keys.rotate'(db, args: { prefix: string }, io) {
    const rotated = await db.transaction((tx) => rotateImportKey(tx, args.prefix));
    if (!rotated) throw new CliError(`no active data import key with prefix ${args.prefix}`);
    io.err(`rotated ${args.prefix} → ${rotated.record.prefix}\n`);
    io.out(rotated.key);
  },
  async 'import-keys.invalidate'(db, args: { prefix: string }, io) {
    const ended = await invalidateImportKey(db, args.prefix);
    if (!ended) throw new CliError(`no active data import key with prefix ${args.prefix}`);
    io.out(`invalidated ${args.prefix}`);
  },
};

export function registerImportKeyCommands(program: Command): void {
  const cmd = program.command('import-keys').description("manage partners' data import keys");

  cmd
    .command('create')
    .description('generate a data import key; printed once, as the last line of stdout')
    .requiredOption('--partner <slug>', 'partner slug, e.g. mixpanel')
    .option('--workspace <name>', 'workspace name (created if missing)', DEFAULT_WORKSPACE)
    .action(async (opts: { partner: string; workspace: string }) => {
      const known = partnerList(loadConfig()).map((p) => p.slug);
      if (!known.includes(opts.partner)) throw new CliError(`unknown partner ${opts.partner}; known: ${known.join(', ')}`);
      await runOperation('import-keys.create', { partner: opts.partner, workspace: opts.workspace });
    });

  cmd
    .command('list')
    .description('list data import keys (prefixes only)')
    .option('--workspace <name>', 'only this workspace')
    .action(async (opts: { workspace?: string }) => {
      await runOperation('import-keys.list', { workspace: opts.workspace });
    });

  cmd
    .command('rotate <prefix>')
    .description('replace an active key; the new key is the last line of stdout; the old one stops at once')
    .action(async (prefix: string) => {
      await runOperation('import-keys.rotate', { prefix });
    });

  cmd
    .command('invalidate <prefix>')
    .description('invalidate an active key at once')
    .action(async (prefix: string) => {
      await runOperation('import-keys.invalidate', { prefix });
    });
}
