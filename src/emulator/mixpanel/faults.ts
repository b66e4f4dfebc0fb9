/**
 * Fault injection for `/import`, so the exporter's retry, split and failure paths can be tested
 * against the emulator: random rates of 429, 5xx, 401 and 413, added latency, outage windows and a
 * scripted sequence of statuses. Deterministic for a given seed. Faults are set globally or for
 * one project; a project's faults apply on top of the global ones.
 */

export interface OutageWindow {
  startMs: number;
  endMs: number;
  status: number;
}

export interface FaultSpec {
  rate429?: number;
  rate5xx?: number;
  /** Status of the injected 5xx; 503 by default. */
  status5xx?: number;
  rate401?: number;
  rate413?: number;
  latencyMs?: number;
  /** Extra latency drawn uniformly from [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Sent as `Retry-After` on injected 429, 5xx and outage replies: seconds, or an HTTP date. */
  retryAfter?: number | string;
  outages?: OutageWindow[];
  /** Statuses answered by the next requests, one each, before any random draw; a 2xx lets one through. */
  script?: number[];
}

export interface FaultDecision {
  latencyMs: number;
  /** The status to answer with instead of processing the request, if any. */
  status: number | null;
  retryAfter: string | null;
}

/** mulberry32: small, fast and good enough to make fault draws reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GLOBAL = '';

export class FaultInjector {
  private readonly specs = new Map<string, FaultSpec>();
  private random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** Replaces the faults of one scope: a project id, or every request when omitted. */
  set(spec: FaultSpec, projectId?: string): void {
    this.specs.set(projectId ?? GLOBAL, { ...spec, outages: [...(spec.outages ?? [])], script: [...(spec.script ?? [])] });
  }

  get(projectId?: string): FaultSpec | undefined {
    return this.specs.get(projectId ?? GLOBAL);
  }

  all(): Record<string, FaultSpec> {
    return Object.fromEntries(this.specs);
  }

  clear(): void {
    this.specs.clear();
  }

  /** What to inflict on one request; consumes script entries and random draws. */
  decide(projectId: string | null, nowMs: number): FaultDecision {
    const scopes = [this.specs.get(GLOBAL), projectId === null ? undefined : this.specs.get(projectId)].filter(
      (s): s is FaultSpec => s !== undefined,
    );
    let latencyMs = 0;
    let status: number | null = null;
    let retryAfter: string | null = null;
    for (const spec of scopes) {
      latencyMs += (spec.latencyMs ?? 0) + (spec.latencyJitterMs ? Math.floor(this.random() * spec.latencyJitterMs) : 0);
      if (status !== null) continue;
      status = this.statusFor(spec, nowMs);
      if (status !== null && spec.retryAfter !== undefined && (status === 429 || status >= 500)) retryAfter = String(spec.retryAfter);
    }
    return { latencyMs, status, retryAfter };
  }

  private statusFor(spec: FaultSpec, nowMs: number): number | null {
    const outage = spec.outages?.find((w) => nowMs >= w.startMs && nowMs < w.endMs);
    if (outage) return outage.status;
    if (spec.script && spec.script.length > 0) {
      const next = spec.script.shift()!;
      return next >= 200 && next < 300 ? null : next;
    }
    const draws: [number | undefined, number][] = [
      [spec.rate429, 429],
      [spec.rate5xx, spec.status5xx ?? 503],
      [spec.rate401, 401],
      [spec.rate413, 413],
    ];
    for (const [rate, code] of draws) {
      if (rate && this.random() < rate) return code;
    }
    return null;
  }
}
