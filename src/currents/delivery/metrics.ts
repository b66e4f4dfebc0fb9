/**
 * Prometheus metrics of the Currents export, registered on the app's registry (`/metrics`):
 * `rivulet_currents_skipped_total{connector,event_type,reason}` (docs/reference/currents.md §2.1) and its siblings
 * for sent and dead-lettered events, retries, state and events in flight. The counters are read
 * from the persisted counters at scrape time, so they survive restarts and agree across processes.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../../storage/index.js';
import { connectorState } from '../connectors/store.js';
import { readCounters } from './checkpoint.js';
import type { LiveStatus } from './supervisor.js';

const STATES = ['active', 'paused', 'failed', 'degraded'] as const;

export function registerCurrentsMetrics(registry: Registry, db: Queryable, live: (connectorId: string) => LiveStatus): void {
  let snapshot: Promise<{
    counters: Awaited<ReturnType<typeof readCounters>>;
    connectors: Array<{ id: string; paused: boolean; health: 'ok' | 'failed' | 'degraded'; retries: number }>;
  }> | null = null;
  // One database read per scrape, shared by every metric below.
  const read = () => {
    snapshot ??= (async () => {
      try {
        const counters = await readCounters(db);
        const { rows } = await db.query<{ id: string; paused: boolean; health: 'ok' | 'failed' | 'degraded'; retries: number }>(
          'SELECT id, paused, health, retries FROM currents_connectors ORDER BY id',
        );
        return { counters, connectors: rows };
      } finally {
        setImmediate(() => (snapshot = null));
      }
    })();
    return snapshot;
  };

  const outcomeCounter = (name: string, help: string, outcome: string, withReason: boolean) =>
    new Counter({
      name,
      help,
      labelNames: withReason ? ['connector', 'event_type', 'reason'] : ['connector', 'event_type'],
      registers: [registry],
      async collect() {
        const { counters } = await read();
        this.reset();
        for (const r of counters) {
          if (r.outcome !== outcome) continue;
          const labels: Record<string, string> = { connector: r.connector_id, event_type: r.event_type };
          if (withReason) labels['reason'] = r.reason;
          this.inc(labels, r.count);
        }
      },
    });
  outcomeCounter('rivulet_currents_skipped_total', 'Events a connector skipped, by reason (docs/reference/currents.md §2.1)', 'skipped', true);
  outcomeCounter('rivulet_currents_sent_total', 'Events a connector delivered to Mixpanel', 'sent', false);
  outcomeCounter('rivulet_currents_dead_lettered_total', 'Events a connector dead-lettered, by reason', 'dead_lettered', true);
  outcomeCounter('rivulet_currents_fitted_total', "Changes made to sent events to fit Mixpanel's limits, by reason (docs/reference/currents.md §2.4)", 'fitted', true);

  new Counter({
    name: 'rivulet_currents_retries_total',
    help: 'Requests a connector sent again after an auth or transient failure',
    labelNames: ['connector'],
    registers: [registry],
    async collect() {
      const { connectors } = await read();
      this.reset();
      for (const c of connectors) this.inc({ connector: c.id }, c.retries);
    },
  });
  new Gauge({
    name: 'rivulet_currents_state',
    help: 'A connector state: 1 for its current state, 0 for the others',
    labelNames: ['connector', 'state'],
    registers: [registry],
    async collect() {
      const { connectors } = await read();
      this.reset();
      for (const c of connectors) {
        const current = connectorState(c);
        for (const s of STATES) this.set({ connector: c.id, state: s }, s === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'rivulet_currents_in_flight_events',
    help: 'Events read from the log by this process and not yet behind the cursor',
    labelNames: ['connector'],
    registers: [registry],
    async collect() {
      const { connectors } = await read();
      this.reset();
      for (const c of connectors) {
        const l = live(c.id);
        if (l.runningHere) this.set({ connector: c.id }, l.inFlightEvents ?? 0);
      }
    },
  });
}
