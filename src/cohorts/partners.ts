/**
 * The partner registry: who may push cohorts, under which slug, and with which partner API keys.
 * Mixpanel is built in; more partners (Amplitude-style) come from configuration. A partner's keys
 * come from `RIVULET_PARTNER_API_KEY_<SLUG>` (several, comma-separated, so a key can be rotated), or
 * are generated once at the deployment's first start, printed once, and kept only as a hash in the
 * database (`resolvePartnerKeys`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Queryable } from '../storage/index.js';
import { DataDirError } from '../storage/index.js';

export interface Partner {
  slug: string;
  name: string;
  /** The segment filter that lists this partner's cohorts, e.g. `Mixpanel_Cohorts`. */
  filterName: string;
}

export const MIXPANEL: Partner = { slug: 'mixpanel', name: 'Mixpanel', filterName: 'Mixpanel_Cohorts' };

export class PartnerRegistry {
  private readonly partners = new Map<string, Partner>();
  private readonly keyHashes = new Map<string, Buffer[]>();

  /** `keys`: a partner's keys in plain text; `hashes`: SHA-256 hashes of more (from the database). */
  constructor(partners: Partner[], keys: Record<string, string[]>, hashes: Record<string, Buffer[]> = {}) {
    for (const p of partners) {
      this.partners.set(p.slug, p);
      this.keyHashes.set(p.slug, [...(keys[p.slug] ?? []).map(digest), ...(hashes[p.slug] ?? [])]);
    }
  }

  get(slug: string): Partner | undefined {
    return this.partners.get(slug);
  }

  list(): Partner[] {
    return [...this.partners.values()];
  }

  /** Constant-time check of a partner API key against every configured key of that partner. */
  verifyPartnerKey(slug: string, key: string): boolean {
    const hashes = this.keyHashes.get(slug);
    if (!hashes) return false;
    const candidate = digest(key);
    let ok = false;
    for (const h of hashes) ok = timingSafeEqual(h, candidate) || ok;
    return ok;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function partnerList(config: Pick<Config, 'extraPartners'>): Partner[] {
  const extra = config.extraPartners
    .filter((p) => p.slug !== MIXPANEL.slug)
    .map((p) => ({ slug: p.slug, name: p.name, filterName: `${p.name.replace(/[^A-Za-z0-9]/g, '')}_Cohorts` }));
  return [MIXPANEL, ...extra];
}

/**
 * The partner keys in force, for one start. A partner with `RIVULET_PARTNER_API_KEY_<SLUG>` uses
 * those keys, and records their hashes in the database for the processes without one. A partner
 * without: the hashes in the database (`partner_api_keys`), so every process on one PostgreSQL
 * accepts the same keys; when there are none yet, the key of a data dir from before keys lived in
 * the database (`partner-keys.json`), else a key generated now, of which only the hash is stored
 * and which the caller prints once. Call it under the migration lock (`prepareStore`), so
 * processes started at once generate one key, not one each.
 */
export async function resolvePartnerKeys(
  db: Queryable,
  partners: Partner[],
  configured: Record<string, string[]>,
  dataDir: string,
): Promise<{ hashes: Record<string, Buffer[]>; generated: Array<{ partner: string; key: string }> }> {
  const hashes: Record<string, Buffer[]> = {};
  const generated: Array<{ partner: string; key: string }> = [];
  let legacy: Record<string, string> | undefined;
  for (const p of partners) {
    const fromEnv = configured[p.slug] ?? [];
    if (fromEnv.length) {
      hashes[p.slug] = fromEnv.map(digest);
      await db.query('DELETE FROM partner_api_keys WHERE partner = $1', [p.slug]);
      for (const h of hashes[p.slug]!) {
        await db.query(`INSERT INTO partner_api_keys (partner, key_hash, source) VALUES ($1, $2, 'environment') ON CONFLICT DO NOTHING`, [p.slug, h]);
      }
      continue;
    }
    const stored = await db.query<{ key_hash: Uint8Array }>('SELECT key_hash FROM partner_api_keys WHERE partner = $1 ORDER BY created_at', [p.slug]);
    if (stored.rows.length) {
      hashes[p.slug] = stored.rows.map((r) => Buffer.from(r.key_hash));
      continue;
    }
    legacy ??= await readLegacyKeys(dataDir);
    const fromFile = legacy[p.slug];
    const key = fromFile ?? `pk_${p.slug}_${randomBytes(24).toString('base64url')}`;
    await db.query('INSERT INTO partner_api_keys (partner, key_hash, source) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      p.slug,
      digest(key),
      fromFile ? 'file' : 'generated',
    ]);
    hashes[p.slug] = [digest(key)];
    if (!fromFile) generated.push({ partner: p.slug, key });
  }
  return { hashes, generated };
}

/** `<data dir>/partner-keys.json`, where versions before the database kept generated keys (validated). */
function readLegacyKeys(dataDir: string): Promise<Record<string, string>> {
  return readPartnerKeys(join(dataDir, 'partner-keys.json'));
}

/**
 * The keys an older version kept in the data dir: absent is none; empty or corrupt stops the start
 * with the fix, rather than generating new keys the partner does not have.
 */
async function readPartnerKeys(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new DataDirError(`cannot read ${file}: ${(err as Error).message}. Fix its owner or mode (0600, owned by the user running Rivulet).`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.entries(parsed as object).every(([slug, key]) => typeof key === 'string' && key.startsWith(`pk_${slug}_`) && key.length >= 20);
  if (!valid) {
    throw new DataDirError(
      `the partner API keys file ${file} is ${text.trim() ? 'corrupt (not the JSON object of generated keys Rivulet writes)' : 'empty'}. ` +
        'Restore it from your backup, or set each partner\'s key with RIVULET_PARTNER_API_KEY_<PARTNER>; ' +
        'or delete the file to generate new keys at the next start (the partners must then be given the new keys).',
    );
  }
  return parsed as Record<string, string>;
}
