/**
 * The partner registry: who may push cohorts, under which slug, and with which partner API keys.
 * Mixpanel is built in; more partners (Amplitude-style) come from configuration. A partner's keys
 * come from `RIVULET_PARTNER_API_KEY_<SLUG>` (several, comma-separated, so a key can be rotated), or
 * are generated once into `<data dir>/partner-keys.json` (mode 0600) and printed at start.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { DataDirError, writeFileAtomic } from '../storage/data-dir.js';

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

  constructor(partners: Partner[], keys: Record<string, string[]>) {
    for (const p of partners) {
      this.partners.set(p.slug, p);
      this.keyHashes.set(p.slug, (keys[p.slug] ?? []).map(digest));
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
 * Partner keys from the environment, and for partners without one a key generated once and kept
 * in the data dir. Returns the keys and the partners whose key was generated just now.
 */
export async function resolvePartnerKeys(
  partners: Partner[],
  configured: Record<string, string[]>,
  dataDir: string,
): Promise<{ keys: Record<string, string[]>; generated: Array<{ partner: string; key: string }> }> {
  const keys: Record<string, string[]> = {};
  const missing = partners.filter((p) => !configured[p.slug]?.length);
  for (const p of partners) if (configured[p.slug]?.length) keys[p.slug] = configured[p.slug]!;
  if (!missing.length) return { keys, generated: [] };

  const file = join(dataDir, 'partner-keys.json');
  const stored = await readPartnerKeys(file);
  const generated: Array<{ partner: string; key: string }> = [];
  for (const p of missing) {
    if (!stored[p.slug]) {
      stored[p.slug] = `pk_${p.slug}_${randomBytes(24).toString('base64url')}`;
      generated.push({ partner: p.slug, key: stored[p.slug]! });
    }
    keys[p.slug] = [stored[p.slug]!];
  }
  if (generated.length) {
    // Atomic (temp file, fsync, rename): a crash or a full disk leaves the old file or the new one.
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${JSON.stringify(stored, null, 2)}\n`);
  }
  return { keys, generated };
}

/**
 * The generated keys kept in the data dir: absent is none yet; empty or corrupt stops the start
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
