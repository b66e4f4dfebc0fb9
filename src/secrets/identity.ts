/**
 * One master key for the deployment. The database keeps the key's check value (an HMAC of a
 * constant under the key: `SecretBox.checkValue`, never the key), written by the first process that
 * starts on it; every later process compares its own key with it and refuses to start on a
 * mismatch, so credentials sealed by one process can always be opened by the others.
 *
 * Where a process's key comes from: `RIVULET_MASTER_KEY`, else the key file under its data dir,
 * else (only when the database has no check value yet: the first start of a deployment) a key
 * generated into that file; the caller then prints how to give it to the others (never the key).
 * Call it under the migration lock (`prepareStore`), so processes started at once agree.
 */
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { Queryable } from '../storage/index.js';
import { loadSecretBox, readKeyFile, SecretBox } from './box.js';

const CHECK = 'master_key_check';

/** Why a process cannot start: one line that names the fix. */
export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

export interface ResolvedMasterKey {
  box: SecretBox;
  /** Where the key came from. */
  source: 'environment' | 'file' | 'generated';
  /** The key file (when the key is or was just put there). */
  file: string;
  /** Set only when the key was generated at this start: print it once, then forget it. */
  generated: string | undefined;
}

export async function storedCheckValue(db: Queryable): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ value: Uint8Array }>('SELECT value FROM deployment_identity WHERE name = $1', [CHECK]);
  return rows[0] ? Buffer.from(rows[0].value) : undefined;
}


export async function resolveMasterKey(db: Queryable, masterKey: string | undefined, dataDir: string): Promise<ResolvedMasterKey> {
  const file = join(dataDir, 'master.key');
  const stored = await storedCheckValue(db);
  const fromFile = masterKey ? undefined : await readKeyFile(file);
  let resolved: ResolvedMasterKey;
  if (masterKey) resolved = { box: SecretBox.fromString(masterKey), source: 'environment', file, generated: undefined };
  else if (fromFile) resolved = { box: SecretBox.fromString(fromFile), source: 'file', file, generated: undefined };
  else if (stored) {
    throw new MasterKeyError(
      `this database already has a master key and this process has none: set RIVULET_MASTER_KEY to the deployment's master key (printed by the process that generated it, kept in its ${file}) and start again`,
    );
  } else {
    // The first start of a deployment: generate the key into the data dir's key file.
    const box = await loadSecretBox(undefined, dataDir);
    resolved = { box, source: 'generated', file, generated: await readKeyFile(file) };
  }
  const check = resolved.box.checkValue();
  if (!stored) {
    await db.query('INSERT INTO deployment_identity (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [CHECK, check]);
    const winner = await storedCheckValue(db);
    if (winner && equal(winner, check)) return resolved;
  } else if (equal(stored, check)) return resolved;
  const where = resolved.source === 'environment' ? 'RIVULET_MASTER_KEY' : `the master key in ${file}`;
  throw new MasterKeyError(
    `${where} is not the master key this database's credentials are sealed with: set RIVULET_MASTER_KEY to the deployment's master key (the one its other processes use) and start again`,
  );
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
