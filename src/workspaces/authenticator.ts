/**
 * Bearer-key authentication with a short-lived cache, so a busy key costs one index probe every few
 * seconds instead of one per request. Revocations by any process reach `invalidate` through
 * LISTEN/NOTIFY (src/http/credential-changes.ts); the TTL (2 s) bounds staleness when notifications
 * are lost (docs/access-control.md#revocation).
 */
import type { Db } from '../storage/index.js';
import { hashKey } from './keys.js';
import { findActiveKeyByHash, touchApiKey, type ApiKeyRecord } from './store.js';

interface Cached {
  record: ApiKeyRecord | undefined;
  expiresAt: number;
}

const TOUCH_EVERY_MS = 60_000;

/** The key of an `Authorization: Bearer …` header, or undefined when the header is not one. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([\x21-\x7e]{1,256})$/i.exec(header.trim()) : null;
  return m ? m[1]! : undefined;
}

export class KeyAuthenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly touched = new Map<string, number>();
  /** Bumped by `invalidate`: a lookup that started before it must not cache what it read. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 2_000,
  ) {}

  /** The active key for `token` when a recent lookup found it, without touching the store. */
  cached(token: string): ApiKeyRecord | undefined {
    const hit = this.cache.get(cacheKey(token));
    if (!hit || hit.expiresAt <= Date.now() || !hit.record) return undefined;
    this.touch(hit.record);
    return hit.record;
  }

  /** The active key for `token`, from the cache (found or not found) or one index probe. */
  async lookup(token: string): Promise<ApiKeyRecord | undefined> {
    const id = cacheKey(token);
    const now = Date.now();
    const hit = this.cache.get(id);
    let record: ApiKeyRecord | undefined;
    if (hit && hit.expiresAt > now) {
      record = hit.record;
    } else {
      const generation = this.generation;
      record = await findActiveKeyByHash(this.db, hashKey(token));
      if (this.cache.size > 10_000) this.cache.clear();
      if (generation === this.generation) this.cache.set(id, { record, expiresAt: now + this.ttlMs });
    }
    if (record) this.touch(record);
    return record;
  }

  /** Forget cached lookups (a revocation here or, through a notification, anywhere). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private touch(record: ApiKeyRecord): void {
    const now = Date.now();
    if ((this.touched.get(record.id) ?? 0) + TOUCH_EVERY_MS >= now) return;
    this.touched.set(record.id, now);
    touchApiKey(this.db, record.id).catch(() => {});
  }
}

function cacheKey(token: string): string {
  return hashKey(token).toString('base64');
}
