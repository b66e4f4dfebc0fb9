/** `rivulet import-keys create|list|rotate|invalidate`: partners' data import keys from the command line. */
import type { Command } from 'commander';
import { createImportKey, invalidateImportKey, listImportKeys, partnerList, rotateImportKey } from '../cohorts/index.js';
import { loadConfig } from '../config.js';
import { DEFAULT_WORKSPACE, ensureWorkspace, findWorkspace } from '../workspaces/index.js';
import { CliError, withStore } from './store.js';

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
      await withStore(async (db) => {
        const ws = await ensureWorkspace(db, opts.workspace);
        const { key, record } = await createImportKey(db, ws.id, opts.partner);
        console.error(`created data import key ${record.prefix} for ${opts.partner} in workspace ${ws.name}`);
        console.log(key);
      });
    });

  cmd
    .command('list')
    .description('list data import keys (prefixes only)')
    .option('--workspace <name>', 'only this workspace')
    .action(async (opts: { workspace?: string }) => {
      await withStore(async (db) => {
        const ws = opts.workspace ? await findWorkspace(db, opts.workspace) : undefined;
        if (opts.workspace && !ws) throw new CliError(`no workspace named ${opts.workspace}`);
        for (const k of await listImportKeys(db, ws?.id)) {
          console.log(`${k.prefix}\t${k.partner}\t${k.state}\tcreated ${k.created_at.toISOString()}\tlast used ${k.last_used_at?.toISOString() ?? 'never'}`);
        }
      });
    });

  cmd
    .command('rotate <prefix>')
    .description('replace an active key; the new key is the last line of stdout; the old one stops at once')
    .action(async (prefix: string) => {
      await withStore(async (db) => {
        const rotated = await db.transaction((tx) => rotateImportKey(tx, prefix));
        if (!rotated) throw new CliError(`no active data import key with prefix ${prefix}`);
        console.error(`rotated ${prefix} → ${rotated.record.prefix}`);
        console.log(rotated.key);
      });
    });

  cmd
    .command('invalidate <prefix>')
    .description('invalidate an active key at once')
    .action(async (prefix: string) => {
      await withStore(async (db) => {
        const ended = await invalidateImportKey(db, prefix);
        if (!ended) throw new CliError(`no active data import key with prefix ${prefix}`);
        console.log(`invalidated ${prefix}`);
      });
    });
}
