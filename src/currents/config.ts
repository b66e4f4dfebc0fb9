/**
 * The Currents export's own settings, read from the environment beside the core's `Config`
 * (src/config.ts holds the platform-wide ones: master key, data dir, body limit of the publish
 * API). Every delay of the delivery engine is here so that tests can shrink them all at once with
 * `RIVULET_CURRENTS_DELAY_SCALE` and still exercise the real rules.
 */
import { ConfigError } from '../config.js';

export interface CurrentsConfig {
  /** Multiplies every retry, backoff, auth-retry and degraded delay (tests use e.g. 0.01). */
  delayScale: number;
  /** How often a connector stuck on 401/403/404 retries its batch (docs/reference/currents.md §3: 3 min, 2–5 min). */
  authRetryMs: number;
  /** Continuous transient failure after which a connector is flagged degraded (30 min). */
  degradedAfterMs: number;
  /** Per-request timeout towards Mixpanel (60 s). */
  requestTimeoutMs: number;
  /** How long an idle exporter waits before looking at the log again. */
  idlePollMs: number;
  /** How often the supervisor looks for connectors created, paused, resumed or deleted elsewhere. */
  reconcileMs: number;
  /** How long a process holds a connector without renewing; a crashed holder is replaced after it. */
  leaseMs: number;
  /** Events read from the log per page. */
  pageSize: number;
  /** How often the notification outbox is drained. */
  notificationPollMs: number;
  /** `smtp://user:pass@host:port` or `smtps://…`; unset means notifications are logged. */
  smtpUrl: string | undefined;
  /** The From address of notifications. */
  smtpFrom: string;
  /** gzip level of `/import` bodies (1 is fastest; Mixpanel only asks for gzip). */
  gzipLevel: number;
}

type Env = Record<string, string | undefined>;

function num(env: Env, name: string, fallback: number, min: number, max: number, integer = true): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new ConfigError(`${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

export const DEFAULT_AUTH_RETRY_MS = 180_000;

export function loadCurrentsConfig(env: Env = process.env): CurrentsConfig {
  return {
    delayScale: num(env, 'RIVULET_CURRENTS_DELAY_SCALE', 1, 0.0001, 1, false),
    authRetryMs: num(env, 'RIVULET_CURRENTS_AUTH_RETRY_MS', DEFAULT_AUTH_RETRY_MS, 120_000, 300_000),
    degradedAfterMs: num(env, 'RIVULET_CURRENTS_DEGRADED_AFTER_MS', 30 * 60_000, 1000, 24 * 3_600_000),
    requestTimeoutMs: num(env, 'RIVULET_CURRENTS_REQUEST_TIMEOUT_MS', 60_000, 100, 600_000),
    idlePollMs: num(env, 'RIVULET_CURRENTS_IDLE_POLL_MS', 250, 10, 60_000),
    reconcileMs: num(env, 'RIVULET_CURRENTS_RECONCILE_MS', 2000, 50, 600_000),
    leaseMs: num(env, 'RIVULET_CURRENTS_LEASE_MS', 20_000, 500, 600_000),
    pageSize: num(env, 'RIVULET_CURRENTS_PAGE_SIZE', 2000, 1, 100_000),
    notificationPollMs: num(env, 'RIVULET_CURRENTS_NOTIFICATION_POLL_MS', 5000, 10, 600_000),
    smtpUrl: env.SMTP_URL || undefined,
    smtpFrom: env.SMTP_FROM || 'rivulet@localhost',
    gzipLevel: num(env, 'RIVULET_CURRENTS_GZIP_LEVEL', 1, 1, 9),
  };
}
