/** Every CLI operation that uses the store, by name: run by the CLI, or by a server for the CLI (src/cli/store.ts). */
import { migrate } from '../storage/index.js';
import { campaignOperations } from './campaigns.js';
import { currentsOperations } from './currents.js';
import { importKeyOperations } from './import-keys.js';
import { keyOperations } from './keys.js';
import type { Operation } from './store.js';

export const OPERATIONS: Record<string, Operation> = {
  async migrate(db, _args, io) {
    const applied = await migrate(db);
    io.out(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
  },
  ...keyOperations,
  ...importKeyOperations,
  ...currentsOperations,
  ...campaignOperations,
};
