import { describe, expect, it } from 'vitest';
import { FaultInjector, seededRandom } from './faults.js';

describe('FaultInjector', () => {
  it('is deterministic for a seed', () => {
    const draws = (seed: number) => {
      const f = new FaultInjector(seed);
      f.set({ rate429: 0.3, rate5xx: 0.2, status5xx: 502 });
      return Array.from({ length: 200 }, () => f.decide(null, 0).status);
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
    const statuses = draws(7);
    expect(new Set(statuses)).toEqual(new Set([null, 429, 502]));
    const rate = statuses.filter((s) => s === 429).length / statuses.length;
    expect(rate).toBeGreaterThan(0.15);
    expect(rate).toBeLessThan(0.45);
  });

  it('answers with the outage status inside the window only', () => {
    const f = new FaultInjector();
    f.set({ outages: [{ startMs: 1000, endMs: 2000, status: 503 }], retryAfter: 7 });
    expect(f.decide(null, 999).status).toBeNull();
    expect(f.decide(null, 1000)).toEqual({ latencyMs: 0, status: 503, retryAfter: '7' });
    expect(f.decide(null, 2000).status).toBeNull();
  });

  it('plays a script in order, 2xx entries letting a request through', () => {
    const f = new FaultInjector();
    f.set({ script: [413, 200, 429] });
    expect([0, 0, 0, 0].map(() => f.decide(null, 0).status)).toEqual([413, null, 429, null]);
  });

  it('scopes faults to a project, on top of the global ones', () => {
    const f = new FaultInjector();
    f.set({ latencyMs: 10 });
    f.set({ script: [500], latencyMs: 5 }, 'p1');
    expect(f.decide('p2', 0)).toEqual({ latencyMs: 10, status: null, retryAfter: null });
    expect(f.decide('p1', 0)).toEqual({ latencyMs: 15, status: 500, retryAfter: null });
    expect(f.decide(null, 0).status).toBeNull();
  });

  it('sends Retry-After only on 429 and 5xx', () => {
    const f = new FaultInjector();
    f.set({ script: [401, 429], retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' });
    expect(f.decide(null, 0).retryAfter).toBeNull();
    expect(f.decide(null, 0).retryAfter).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
  });

  it('draws from [0, 1)', () => {
    const r = seededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
