/**
 * What the Currents routes and workers share in one process: the master-key box, the Currents
 * settings, and the supervisor once workers run (absent in a process started without workers,
 * where the admin API still works and another process delivers).
 */
import type { SecretBox } from '../secrets/index.js';
import type { CurrentsConfig } from './config.js';
import type { CurrentsSupervisor, LiveStatus } from './delivery/supervisor.js';

export class CurrentsContext {
  supervisor: CurrentsSupervisor | null = null;

  constructor(
    readonly box: SecretBox,
    readonly config: CurrentsConfig,
  ) {}

  /** Tells the local supervisor, if any, that a connector changed (it also finds out on its own timer). */
  async changed(): Promise<void> {
    await this.supervisor?.reconcile();
  }

  live(connectorId: string): LiveStatus {
    return this.supervisor?.live(connectorId) ?? { runningHere: false, inFlightEvents: null };
  }
}
