/**
 * Runs the live exports of this process: one `LiveExport` per connector that is not paused and
 * whose lease this process holds. It reconciles on a timer (so a `rivulet currents pause` from the
 * CLI, or a connector created by another process, is picked up) and at once when the admin API
 * changes a connector here. Leases make sure one process delivers for a connector at a time; a
 * crashed holder's lease lapses and another process (or its restart) takes over at the cursor.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { SecretBox } from '../../secrets/index.js';
import type { Db } from '../../storage/index.js';
import type { CurrentsConfig } from '../config.js';
import { listConnectors, openSecrets, type Connector } from '../connectors/store.js';
import type { CurrentsLog } from '../log.js';
import { fairShare, leaveHeartbeats } from '../../leases/index.js';
import { claimLease, releaseLease, renewLeases } from './checkpoint.js';
import { LiveExport } from './live-export.js';
import type { HistoryRecorder } from '../history/recorder.js';
import { lagOf } from '../connectors/status.js';

export interface LiveStatus {
  runningHere: boolean;
  inFlightEvents: number | null;
}

export class CurrentsSupervisor {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly exports = new Map<string, LiveExport>();
  private timer: NodeJS.Timeout | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly unreadable = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly config: CurrentsConfig,
    private readonly log: CurrentsLog,
    private readonly history?: HistoryRecorder,
  ) {}

  /** The lag of every connector this process delivers for (for the history). */
  async sampleLag(): Promise<Array<{ connectorId: string; events: number; seconds: number }>> {
    const ids = new Set([...this.exports.entries()].filter(([, e]) => !e.stopped).map(([id]) => id));
    if (ids.size === 0) return [];
    const out = [];
    for (const c of await listConnectors(this.db)) {
      if (!ids.has(c.id)) continue;
      const lag = await lagOf(this.db, c);
      out.push({ connectorId: c.id, ...lag });
    }
    return out;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.reconcile(), this.config.reconcileMs);
    this.timer.unref();
    void this.reconcile();
  }

  /** Brings the running exports in line with the connectors table (serialized). */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcileOnce()).catch((err: unknown) => {
      this.log.error({ err: { message: (err as Error).message } }, 'Currents supervisor could not reconcile');
    });
    return this.reconciling;
  }

  live(connectorId: string): LiveStatus {
    const running = this.exports.get(connectorId);
    return running && !running.stopped ? { runningHere: true, inFlightEvents: running.inFlightEvents } : { runningHere: false, inFlightEvents: null };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reconciling;
    const running = [...this.exports.values()];
    this.exports.clear();
    await Promise.all(running.map((e) => e.stop()));
    await Promise.all(running.map((e) => releaseLease(this.db, e.connectorId, this.owner).catch(() => undefined)));
    await leaveHeartbeats(this.db, 'currents', this.owner).catch(() => undefined);
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopping) return;
    const connectors = new Map((await listConnectors(this.db)).map((c) => [c.id, c]));
    const held = await renewLeases(this.db, [...this.exports.keys()], this.owner, this.config.leaseMs);
    for (const [id, running] of this.exports) {
      const c = connectors.get(id);
      if (!c || c.paused || c.version !== running.version || !held.has(id) || running.stopped) {
        this.exports.delete(id);
        await running.stop();
        if (c && held.has(id)) await releaseLease(this.db, id, this.owner);
      }
    }
    // Work spreads: this process keeps at most its fair share of the connectors that run, so one
    // that joins takes some over (the ones given back are stopped cleanly first: settled progress
    // is committed, then the lease released for another process to claim at its next look).
    const active = [...connectors.values()].filter((c) => !c.paused).length;
    const share = await fairShare(this.db, 'currents', this.owner, active, this.config.leaseMs);
    for (const [id, running] of [...this.exports].slice(share)) {
      this.exports.delete(id);
      await running.stop();
      await releaseLease(this.db, id, this.owner);
      this.log.info({ connector: id, share }, 'Mixpanel export handed over: another process takes its share');
    }
    for (const c of connectors.values()) {
      if (this.stopping || this.exports.size >= share) break;
      if (c.paused || this.exports.has(c.id)) continue;
      if (!(await claimLease(this.db, c.id, this.owner, this.config.leaseMs))) continue;
      await this.begin(c);
    }
  }

  private async begin(connector: Connector): Promise<void> {
    let secrets;
    try {
      secrets = await openSecrets(this.db, this.box, connector.id);
    } catch (err) {
      if (!this.unreadable.has(connector.id)) {
        this.unreadable.add(connector.id);
        this.log.error({ connector: connector.id, err: { message: (err as Error).message } }, 'cannot decrypt the connector credentials (was RIVULET_MASTER_KEY changed?)');
      }
      // The status shows it: `failed` with the reason, never `active` with no error.
      await markUnreadable(this.db, connector.id, this.owner).catch((e: unknown) => this.log.warn({ connector: connector.id, err: e }, 'could not record the unreadable credentials'));
      await releaseLease(this.db, connector.id, this.owner);
      return;
    }
    this.unreadable.delete(connector.id);
    const live = new LiveExport({ db: this.db, connector, secrets, config: this.config, owner: this.owner, log: this.log, history: this.history });
    this.exports.set(connector.id, live);
    this.log.info({ connector: connector.id, state: connector.health }, 'Mixpanel export started');
    void live.start().then(() => {
      if (this.exports.get(connector.id) === live) this.exports.delete(connector.id);
    });
  }
}

/** What a connector whose credentials cannot be opened shows in its status (`last_error`). */
export const UNREADABLE_CREDENTIALS =
  "the connector's credentials cannot be decrypted with this deployment's master key (they were sealed under another one): start every process with the master key they were sealed with (RIVULET_MASTER_KEY), or create the connector again with its credentials";

/** Marks the connector `failed` with the reason, once (while this process holds its lease). */
async function markUnreadable(db: Db, id: string, owner: string): Promise<void> {
  await db.query(
    `UPDATE currents_connectors SET health = 'failed', incident_started_at = coalesce(incident_started_at, now()),
            last_error = $3, last_error_at = now(), updated_at = now()
      WHERE id = $1 AND lease_owner = $2 AND last_error IS DISTINCT FROM $3`,
    [id, owner, UNREADABLE_CREDENTIALS],
  );
}
