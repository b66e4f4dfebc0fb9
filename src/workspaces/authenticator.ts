/**
 * Bearer-key authentication with a short-lived cache, so a busy key costs one index probe every few
 * seconds instead of one per request. A revocation made through this process takes effect at once;
 * one made by another process (the CLI) within `ttlMs` (default 2 s).
 */
import type { Db } from '../storage/index.js';
import { hashKey } from './keys.js';
import { findActiveKeyByHash, touchApiKey, type ApiKeyRecord } from './store.js';

interface Cached {
  record: ApiKeyRecord | undefined;
  expiresAt: number;
}

const MAX_BEARER_LENGTH = 256;
const TOUCH_EVERY_MS = 60_000;

export class KeyAuthenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 2_000,
  ) {}

  /** The active key record for an `Authorization` header value, or undefined. */
  async authenticate(header: string | undefined): Promise<ApiKeyRecord | undefined> {
    const m = header ? /^Bearer ([\x21-\x7e]{1,256})$/i.exec(header.trim()) : null;
    if (!m || m[1]!.length > MAX_BEARER_LENGTH) return undefined;
    const hash = hashKey(m[1]!);
    const cacheKey = hash.toString('base64');
    const now = Date.now();
    const hit = this.cache.get(cacheKey);
    let record: ApiKeyRecord | undefined;
    if (hit && hit.expiresAt > now) {
      record = hit.record;
    } else {
      record = await findActiveKeyByHash(this.db, hash);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(cacheKey, { record, expiresAt: now + this.ttlMs });
    }
    if (record && (this.touched.get(record.id) ?? 0) + TOUCH_EVERY_MS < now) {
      this.touched.set(record.id, now);
      touchApiKey(this.db, record.id).catch(() => {});
    }
    return record;
  }

  /** Forget cached lookups (after a revocation in this process). */
  invalidate(): void {
    this.cache.clear();
  }
}
