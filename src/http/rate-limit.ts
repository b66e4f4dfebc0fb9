/**
 * Fixed-window request counters per (key, bucket), in memory. Fixed windows give the
 * `X-RateLimit-Reset` instant Braze documents. Counters are per process: a deployment with N
 * processes behind a balancer allows up to N times the limit (docs/reference/operations.md#limits).
 */
import type { RateLimitRule } from '../config.js';

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

interface Window {
  start: number;
  end: number;
  count: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly now: () => number = Date.now) {}

  hit(id: string, rule: RateLimitRule): RateDecision {
    const now = this.now();
    const start = Math.floor(now / rule.windowMs) * rule.windowMs;
    let w = this.windows.get(id);
    if (!w || w.start !== start) {
      if (this.windows.size > 50_000) this.prune(now);
      w = { start, end: start + rule.windowMs, count: 0 };
      this.windows.set(id, w);
    }
    const allowed = w.count < rule.limit;
    if (allowed) w.count++;
    const resetMs = start + rule.windowMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(rule.limit),
      'x-ratelimit-remaining': String(Math.max(0, rule.limit - w.count)),
      'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
    };
    if (!allowed) headers['retry-after'] = String(Math.max(1, Math.ceil((resetMs - now) / 1000)));
    return { allowed, headers };
  }

  /** The window's state without counting a request. */
  peek(id: string, rule: RateLimitRule): { remaining: number; headers: Record<string, string> } {
    const now = this.now();
    const start = Math.floor(now / rule.windowMs) * rule.windowMs;
    const w = this.windows.get(id);
    const used = w && w.start === start ? w.count : 0;
    const resetMs = start + rule.windowMs;
    return {
      remaining: rule.limit - used,
      headers: {
        'x-ratelimit-limit': String(rule.limit),
        'x-ratelimit-remaining': String(Math.max(0, rule.limit - used)),
        'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
        'retry-after': String(Math.max(1, Math.ceil((resetMs - now) / 1000))),
      },
    };
  }

  private prune(now: number): void {
    for (const [id, w] of this.windows) if (w.end <= now) this.windows.delete(id);
    if (this.windows.size > 50_000) this.windows.clear();
  }
}
