/**
 * Pull mode (docs/reference/cohort-import.md §5): stored Mixpanel connections whose cohorts Rivulet reads through
 * Mixpanel's engage query API on a schedule and applies as full replacements. `createPullMode`
 * gives the admin routes and a worker to start with the server's other workers.
 */
import type { Config } from '../../config.js';
import type { CapabilityPlugin } from '../../http/index.js';
import { loadSecretBox, type SecretBox } from '../../secrets/index.js';
import type { Db } from '../../storage/index.js';
import type { CohortContext } from '../context.js';
import { QueryGate } from './budget.js';
import { pullRoutes } from './routes.js';
import { PullScheduler } from './scheduler.js';
import { DEFAULT_PULL_TIMING, type PullTiming } from './timing.js';

export { DEFAULT_PULL_TIMING, type PullTiming } from './timing.js';
export { QUERY_HOSTS, type Region } from './hosts.js';

export interface PullMode {
  routes: CapabilityPlugin;
  /** Starts the scheduler on `db`; the returned function stops it, aborting and releasing runs in flight. */
  start(db: Db, onError: (err: unknown) => void): () => Promise<void>;
}

export function createPullMode(ctx: CohortContext, config: Config, timing: Partial<PullTiming> = {}, masterKey?: SecretBox): PullMode {
  const t: PullTiming = { ...DEFAULT_PULL_TIMING, leaseMs: config.leases.pullRunMs, ...timing };
  // The deployment's master key as resolved at start; without it (tests), read (or generated) only
  // once pull mode is used.
  let box: Promise<SecretBox> | undefined = masterKey ? Promise.resolve(masterKey) : undefined;
  const loadBox = () => (box ??= loadSecretBox(config.masterKey, config.dataDir));
  let scheduler: PullScheduler | null = null;
  return {
    routes: pullRoutes({ box: loadBox, budgetWindowMs: t.budgetWindowMs, wake: () => scheduler?.wake() }),
    start(db, onError) {
      const notify = (message: string) => onError(Object.assign(new Error(message), { name: 'MixpanelConnectionFailed' }));
      const started = new PullScheduler({ db, box: loadBox, ctx, gate: new QueryGate(db, t.budgetWindowMs), timing: t, notify }, onError);
      scheduler = started;
      started.start();
      return async () => {
        if (scheduler === started) scheduler = null;
        await started.stop();
      };
    },
  };
}
