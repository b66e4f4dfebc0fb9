/**
 * Slows password guessing at the sign-in form (and at the password change, which checks the
 * current password): a try is counted *before* the password is checked, atomically, per client
 * address and for the account, in the counters every process shares (src/http/shared-counters.ts).
 * So at most `triesPerAddress` guesses per address and `triesPerAccount` in all are checked per
 * window, at any concurrency, on one process or several (docs/access-control.md#sign-in).
 * A successful sign-in gives its try back.
 *
 * Hand-written on the shared counters rather than with @fastify/rate-limit: it counts two buckets
 * for one request, and gives a try back; the plugin's limiter counts one key per request and
 * never gives back.
 */
import { normalizeIP } from '@fastify/rate-limit';
import type { Config } from '../../config.js';
import { ApiError } from '../../http/index.js';
import type { CounterValue, SharedCounters } from '../../http/index.js';

const ACCOUNT_BUCKET = 'signin:account:admin';

export interface SignInTry {
  /** The password was right: the try does not count. */
  succeeded(): Promise<void>;
}

export class SignInThrottle {
  constructor(
    private readonly counters: SharedCounters,
    private readonly rule: Config['signIn'],
  ) {}

  /** Takes a try for `address` and for the account; throws 429 when either has none left. */
  async take(address: string): Promise<SignInTry> {
    const addressBucket = `signin:address:${normalizeIP(address)}`;
    const byAddress = await this.counters.hit(addressBucket, this.rule.windowMs);
    if (byAddress.count > this.rule.triesPerAddress) throw tooMany(byAddress);
    const byAccount = await this.counters.hit(ACCOUNT_BUCKET, this.rule.windowMs);
    if (byAccount.count > this.rule.triesPerAccount) {
      // Not tried: the address keeps its try.
      await this.counters.giveBack(addressBucket, byAddress.resetAt);
      throw tooMany(byAccount);
    }
    return {
      succeeded: async () => {
        await this.counters.giveBack(addressBucket, byAddress.resetAt);
        await this.counters.giveBack(ACCOUNT_BUCKET, byAccount.resetAt);
      },
    };
  }
}

function tooMany(counter: CounterValue): ApiError {
  const wait = Math.max(1, Math.ceil((counter.resetAt - Date.now()) / 1000));
  return new ApiError(429, 'Too many failed sign-ins; try again later', [{ type: `retry in ${wait} s` }], { 'retry-after': String(wait) });
}
