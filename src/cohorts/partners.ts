/**
 * The partner registry: who may push cohorts, under which slug, and with which partner API keys.
 * Mixpanel is built in; more partners (Amplitude-style) come from configuration. A partner's keys
 * come from `RIVULET_PARTNER_API_KEY_<SLUG>` (several, comma-separated, so a key can be rotated), or
 * are generated once into `<data dir>/partner-keys.json` (mode 0600) and printed at start.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';

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
  let stored: Record<string, string> = {};
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const generated: Array<{ partner: string; key: string }> = [];
  for (const p of missing) {
    if (!stored[p.slug]) {
      stored[p.slug] = `pk_${p.slug}_${randomBytes(24).toString('base64url')}`;
      generated.push({ partner: p.slug, key: stored[p.slug]! });
    }
    keys[p.slug] = [stored[p.slug]!];
  }
  if (generated.length) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return { keys, generated };
}
