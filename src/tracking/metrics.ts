/** Prometheus counters of `/users/track`'s group commit, read from the tracker at scrape time. */
import { Counter, type Registry } from 'prom-client';
import type { GroupCommitStats } from '../storage/index.js';

export function registerGroupCommitMetrics(registry: Registry, stats: GroupCommitStats): void {
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('rivulet_track_transactions_total', '/users/track transactions (each applies a group of concurrent requests)', () => stats.groups);
  counter('rivulet_track_grouped_requests_total', '/users/track requests applied through group commit', () => stats.jobs);
  counter('rivulet_track_group_splits_total', '/users/track groups that failed and were re-run request by request', () => stats.splits);
  counter('rivulet_track_group_lingered_total', '/users/track groups whose start waited for the linger (RIVULET_TRACK_GROUP_LINGER_MS)', () => stats.lingered);
}
