/**
 * The REST rate limits (rest-api contract: per REST API key, fixed windows, Braze's headers),
 * counted in PostgreSQL through `SharedCounters`, so N processes allow the documented limit, not
 * N times it (docs/access-control.md#limits).
 *
 * `@fastify/rate-limit` does the limiting: its programmatic limiter (`createRateLimit`) over a store
 * backed by the shared counters. Two parts stay ours, on purpose:
 * - the headers: the plugin's `x-ratelimit-reset` is seconds until the reset, Braze documents UTC
 *   epoch seconds (`src/http/http.db.test.ts` holds the shape), and the 429 body is the API's
 *   error catalogue;
 * - when it runs: routes name their limit in `config.rateLimitName` and the plugin is registered
 *   with `global: false`, because the limit is counted per key after authentication, which runs
 *   in our own `onRequest` hook (src/http/auth.ts); its per-route hook would run before a key is
 *   known.
 */
import rateLimitPlugin from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config, RateLimitRule } from '../config.js';
import type { SharedCounters } from './shared-counters.js';

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export type RateLimitName = keyof Config['rateLimits'];

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/** @fastify/rate-limit's store interface over the shared counters. */
function counterStore(counters: SharedCounters) {
  return class CounterStore {
    incr(key: string, callback: (err: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      counters.hit(`rl:${key}`, timeWindow).then(
        (v) => callback(null, { current: v.count, ttl: Math.max(0, v.resetAt - Date.now()) }),
        (err: Error) => callback(err),
      );
    }
    child(): CounterStore {
      return this;
    }
  };
}

export class RateLimits {
  /** Which id a request is counted under, read by the limiter's key generator. */
  private readonly ids = new WeakMap<FastifyRequest, string>();
  private readonly limiters = new Map<string, Limiter>();

  private constructor(private readonly create: FastifyInstance['createRateLimit']) {}

  static async register(app: FastifyInstance, counters: SharedCounters): Promise<RateLimits> {
    await app.register(rateLimitPlugin, { global: false, store: counterStore(counters) });
    return new RateLimits(app.createRateLimit);
  }

  /** Counts one request of `id` against `rule` (named `name`: limits sharing a name share a window). */
  async take(request: FastifyRequest, name: string, rule: RateLimitRule, id: string): Promise<RateDecision> {
    const limiterKey = `${name}:${rule.limit}:${rule.windowMs}`;
    let limiter = this.limiters.get(limiterKey);
    if (!limiter) {
      limiter = this.create({ max: rule.limit, timeWindow: rule.windowMs, keyGenerator: (req) => `${this.ids.get(req)}:${name}` });
      this.limiters.set(limiterKey, limiter);
    }
    this.ids.set(request, id);
    const result = await limiter(request);
    if (result.isAllowed) return { allowed: true, headers: {} };
    // Windows are aligned to the epoch: snap now + ttl to the window's end, whatever the clock skew.
    const resetMs = Math.round((Date.now() + result.ttl) / rule.windowMs) * rule.windowMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(result.max),
      'x-ratelimit-remaining': String(result.remaining),
      'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
    };
    if (result.isExceeded) headers['retry-after'] = String(Math.max(1, result.ttlInSeconds));
    return { allowed: !result.isExceeded, headers };
  }
}
