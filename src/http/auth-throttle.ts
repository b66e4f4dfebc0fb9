/**
 * Throttles failed authentication (REST keys, data import keys, the partner API's secrets), apart
 * from authenticated traffic: failures are counted per client address *and* key prefix, so bad
 * keys from an address never limit a valid key used from it
 * (docs/access-control.md#failed-authentication). After `maxFailures` in a window, that address
 * gets 429 for that prefix before any lookup.
 *
 * A slot is taken before the credential is checked and given back when it was valid, in the
 * shared counters (src/http/shared-counters.ts): no concurrency gets more than `maxFailures`
 * failed checks per window, on one process or several. Hand-written on those counters rather than
 * with @fastify/rate-limit, whose limiter counts every request and cannot give a slot back.
 */
import { normalizeIP } from '@fastify/rate-limit';
import { Errors } from './errors.js';
import type { SharedCounters } from './shared-counters.js';

export interface FailureSlot {
  /** The credential was valid: the attempt does not count as a failure. */
  release(): Promise<void>;
}

/**
 * The non-secret part of a presented credential that failures are counted under: the prefix of a
 * generated key (`rvk_0123456789`, `dik_0123456789`, shown in key lists), else `*` (malformed keys
 * and operator-chosen ones such as `RIVULET_API_KEY` share one bucket per address). Nothing of
 * the secret part is ever stored.
 */
export function credentialPrefix(secret: string | undefined): string {
  const m = secret ? /^([a-z]{2,8}_[0-9a-f]{10})_/.exec(secret) : null;
  return m ? m[1]! : '*';
}

export class AuthFailureThrottle {
  constructor(
    private readonly counters: SharedCounters,
    private readonly maxFailures = 30,
    private readonly windowMs = 60_000,
  ) {}

  /** Takes a failure slot for (address, prefix) before a check; throws 429 when none is left. */
  async reserve(address: string, prefix: string): Promise<FailureSlot> {
    // An IPv6 client usually holds a whole /64: count it as one address.
    const bucket = `authfail:${normalizeIP(address)}:${prefix}`;
    const taken = await this.counters.hit(bucket, this.windowMs);
    if (taken.count > this.maxFailures) {
      throw Errors.rateLimited({
        'x-ratelimit-limit': String(this.maxFailures),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil(taken.resetAt / 1000)),
        'retry-after': String(Math.max(1, Math.ceil((taken.resetAt - Date.now()) / 1000))),
      });
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await this.counters.giveBack(bucket, taken.resetAt);
      },
    };
  }
}
