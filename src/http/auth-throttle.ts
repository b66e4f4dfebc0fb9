/**
 * Throttles clients that keep failing authentication (REST keys, partner keys, data import keys):
 * after `maxFailures` failures from one address within the window, that address gets 429 until the
 * window ends, before any key is looked up. Guessing a 256-bit key is hopeless anyway; this keeps
 * a broken or hostile client from burning the store with lookups and from filling the logs.
 */
import { Errors } from './errors.js';
import { RateLimiter } from './rate-limit.js';

export class AuthFailureThrottle {
  private readonly failures = new RateLimiter();
  private readonly rule: { limit: number; windowMs: number };

  constructor(maxFailures = 30, windowMs = 60_000) {
    this.rule = { limit: maxFailures, windowMs };
  }

  /** Throws 429 when the address has used up its failures for this window. */
  check(address: string): void {
    const state = this.failures.peek(`fail:${address}`, this.rule);
    if (state.remaining <= 0) throw Errors.rateLimited(state.headers);
  }

  recordFailure(address: string): void {
    this.failures.hit(`fail:${address}`, this.rule);
  }
}
