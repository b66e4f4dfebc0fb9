/**
 * Slows password guessing at the sign-in form: after `maxFailures` failed sign-ins from one address
 * within the window, that address is refused (429) until the window since its first failure ends,
 * before the password is even checked. Counted per process, like the REST rate limits.
 */
export class SignInThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when this address may try now. */
  retryAfterSeconds(address: string): number {
    const entry = this.failures.get(address);
    const now = this.now();
    if (!entry || entry.until <= now) return 0;
    return entry.count >= this.maxFailures ? Math.ceil((entry.until - now) / 1000) : 0;
  }

  recordFailure(address: string): void {
    const now = this.now();
    const entry = this.failures.get(address);
    if (!entry || entry.until <= now) {
      if (this.failures.size > 10_000) this.prune(now);
      this.failures.set(address, { count: 1, until: now + this.windowMs });
    } else {
      entry.count += 1;
    }
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }

  private prune(now: number): void {
    for (const [address, entry] of this.failures) if (entry.until <= now) this.failures.delete(address);
  }
}
