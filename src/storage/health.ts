/**
 * Whether the store takes writes, as `/readyz` reports it and as the embedded store's write gate
 * uses it. Three independent conditions make it not ready:
 *
 * - `stuck`: a call handed to the embedded store has not returned within the store timeout (a WAL
 *   that cannot grow blocks PGlite's backend for good). Cleared if that call ever returns.
 * - `lowSpace`: the filesystem under the data dir (or under its `pg_wal`) has less free space than
 *   the configured minimum (embedded store only; checked every second by `watchFreeSpace`).
 * - `failing`: a store call failed with an error that means "cannot write" (disk full, I/O error,
 *   connection lost). Cleared by the probe (`StoreHealth.startProbe`) once a real write succeeds.
 *
 * Pure state and transitions; the I/O (statfs, probe writes) is handed in.
 */
export type StoreCondition = 'stuck' | 'lowSpace' | 'failing';

/** The error every refused or timed-out store call gets: mapped to 503 (`isStoreUnavailable`). */
export class StoreUnavailableError extends Error {
  readonly code = 'RIVULET_STORE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export interface HealthChange {
  ready: boolean;
  /** The conditions now holding, and a sentence for the log and the 503 body. */
  conditions: StoreCondition[];
  reason: string | undefined;
}

/** SQLSTATEs that mean the store cannot write now: 53xxx (disk full, out of memory), 58xxx (I/O), 08xxx (connection). */
export function meansCannotWrite(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return code.startsWith('53') || code.startsWith('58') || code.startsWith('08') || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code);
}

export class StoreHealth {
  private readonly reasons = new Map<StoreCondition, string>();
  private readonly listeners = new Set<(change: HealthChange) => void>();
  private probeTimer: NodeJS.Timeout | undefined;

  get ready(): boolean {
    return this.reasons.size === 0;
  }

  /** Writes are refused at once (without reaching the store) while it is stuck or out of space. */
  get writable(): boolean {
    return !this.reasons.has('stuck') && !this.reasons.has('lowSpace');
  }

  has(condition: StoreCondition): boolean {
    return this.reasons.has(condition);
  }

  /** One sentence naming every condition that holds (undefined when ready). */
  get reason(): string | undefined {
    return this.reasons.size ? [...this.reasons.values()].join('; ') : undefined;
  }

  set(condition: StoreCondition, reason: string): void {
    const before = this.reasons.get(condition);
    this.reasons.set(condition, reason);
    if (before === undefined) this.emit();
  }

  clear(condition: StoreCondition): void {
    if (this.reasons.delete(condition)) this.emit();
  }

  /** A store call failed: when the error means the store cannot write, mark it failing. */
  noteError(err: unknown): void {
    if (!meansCannotWrite(err)) return;
    const message = err instanceof Error ? err.message : String(err);
    this.set('failing', `the store refused a write (${(err as { code?: string }).code}: ${message.slice(0, 200)})`);
  }

  onChange(listener: (change: HealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The error a refused call gets while not writable. */
  refusal(): StoreUnavailableError {
    return new StoreUnavailableError(`the store is not taking writes: ${this.reason ?? 'unknown'}`);
  }

  /**
   * While `failing`, tries `probe` (a real write) every `everyMs`; a success clears `failing`.
   * Returns a stop function.
   */
  startProbe(probe: () => Promise<void>, everyMs: number): () => void {
    let running = false;
    this.probeTimer = setInterval(() => {
      if (running || !this.reasons.has('failing') || this.reasons.has('stuck') || this.reasons.has('lowSpace')) return;
      running = true;
      probe()
        .then(() => this.clear('failing'))
        .catch(() => {})
        .finally(() => (running = false));
    }, everyMs);
    this.probeTimer.unref();
    return () => clearInterval(this.probeTimer);
  }

  private emit(): void {
    const change: HealthChange = { ready: this.ready, conditions: [...this.reasons.keys()], reason: this.reason };
    for (const l of this.listeners) l(change);
  }
}
