/**
 * A connector's health as its delivery sees it (docs/reference/currents.md §3, "States"): `ok`, `failed` after a
 * 401/403/404, `degraded` after 30 minutes of transient failure without a success. It also holds
 * the auth gate: while a connector is failed, exactly one batch (the probe) retries every few
 * minutes and every other batch waits for the gate to open, so a broken credential costs one
 * request per retry interval, not one per batch. Changes are handed to `persist` in order.
 */
import type { ConnectorHealth } from '../connectors/store.js';

export interface HealthTransition {
  from: ConnectorHealth;
  to: ConnectorHealth;
  detail: string | null;
  at: Date;
}

export interface HealthOptions {
  initial: ConnectorHealth;
  degradedAfterMs: number;
  now?: () => number;
  persist: (t: HealthTransition) => Promise<void>;
}

/** Identifies one batch's delivery to the gate; the probe is the batch that met the failure first. */
export type DeliveryToken = object;

export type AuthFailureRole = 'probe' | 'wait' | 'retry';

export class HealthTracker {
  private state: ConnectorHealth;
  private failingSince: number | null = null;
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  private probe: DeliveryToken | null = null;
  /** Bumps when the gate closes or opens: an answer to a request sent in an earlier epoch says nothing about now. */
  private epoch = 0;
  private persisting: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  lastError: { message: string; at: Date } | null = null;

  constructor(private readonly opts: HealthOptions) {
    this.state = opts.initial;
    this.now = opts.now ?? Date.now;
  }

  get health(): ConnectorHealth {
    return this.state;
  }

  /**
   * Resolves when `token` may send — at once unless the gate is closed and `token` is not the
   * probe — with the epoch to hand back with the answer.
   */
  async ready(token: DeliveryToken, signal: AbortSignal): Promise<number> {
    while (this.gate && this.probe !== token) {
      if (this.probe === null) {
        // The probe went away (its batch was abandoned on stop): this batch takes over.
        this.probe = token;
        break;
      }
      await abortable(this.gate.promise, signal);
    }
    return this.epoch;
  }

  /**
   * A 401/403/404 to a request sent in `epoch`. `probe`: wait the auth-retry interval, then send
   * again; `wait`: wait for the gate; `retry`: a stale answer while the gate is open, send again.
   */
  authFailure(token: DeliveryToken, epoch: number, detail: string): AuthFailureRole {
    this.noteError(detail);
    if (epoch !== this.epoch) return this.gate ? (this.probe === token ? 'probe' : 'wait') : 'retry';
    if (!this.gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.gate = { promise, open };
      this.epoch += 1;
      this.failingSince = null;
      this.move('failed', detail);
    }
    this.probe ??= token;
    return this.probe === token ? 'probe' : 'wait';
  }

  /** A 408/429/5xx/network failure. */
  transientFailure(detail: string): void {
    this.noteError(detail);
    const now = this.now();
    this.failingSince ??= now;
    if (this.state === 'ok' && now - this.failingSince >= this.opts.degradedAfterMs) this.move('degraded', detail);
  }

  /** Mixpanel took a request sent in `epoch` (any answer that is neither auth nor transient). */
  success(epoch: number): void {
    if (epoch !== this.epoch) return;
    this.failingSince = null;
    if (this.gate) {
      const gate = this.gate;
      this.gate = null;
      this.probe = null;
      this.epoch += 1;
      gate.open();
    }
    if (this.state !== 'ok') this.move('ok', null);
  }

  /** A batch is done with the gate (finished or abandoned). */
  release(token: DeliveryToken): void {
    if (this.probe === token) this.probe = null;
  }

  /** Waits until every health change so far is persisted. */
  flushed(): Promise<void> {
    return this.persisting;
  }

  private noteError(detail: string): void {
    this.lastError = { message: detail, at: new Date(this.now()) };
  }

  private move(to: ConnectorHealth, detail: string | null): void {
    if (this.state === to) return;
    const transition: HealthTransition = { from: this.state, to, detail, at: new Date(this.now()) };
    this.state = to;
    this.persisting = this.persisting.then(() => this.opts.persist(transition));
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
