/**
 * Environment → one typed configuration object (names: docs/reference/operations.md).
 * Every limit Rivulet enforces is here, with its default, so operators find them in one place.
 */
import { isIP } from 'node:net';

export interface RateLimitRule {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface Config {
  port: number;
  /**
   * Proxies whose `X-Forwarded-For` is believed (RIVULET_TRUSTED_PROXIES: addresses, CIDR ranges,
   * or `loopback`, `linklocal`, `uniquelocal`), so the client address the throttles count is the
   * real one behind a load balancer. Empty: the socket's address.
   */
  trustedProxies: string[];
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  seedApiKey: string | undefined;
  publicUrl: string;
  logLevel: string;
  /** The store's failure handling (docs/administration.md#a-full-disk). */
  store: {
    /** A call of the embedded store, or a PostgreSQL statement, that takes longer fails with 503 (RIVULET_STORE_TIMEOUT_MS). */
    timeoutMs: number;
    /** The embedded store refuses writes while its disk has less free space (RIVULET_STORE_MIN_FREE_BYTES; 0: never). */
    minFreeBytes: number;
  };
  /** SIGTERM/SIGINT: how long in-flight work may take before the process exits anyway (RIVULET_SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
  masterKey: string | undefined;
  /** The dashboard's admin password (RIVULET_ADMIN_PASSWORD); generated at first start when unset. */
  adminPassword: string | undefined;
  /** Extra partners beyond Mixpanel, `slug:Display Name` pairs (RIVULET_PARTNERS). */
  extraPartners: Array<{ slug: string; name: string }>;
  /** Partner API keys by partner slug, from RIVULET_PARTNER_API_KEY_<SLUG> (comma-separated for rotation). */
  partnerApiKeys: Record<string, string[]>;
  /** Where the built dashboard is (RIVULET_DASHBOARD_DIR); unset: `dist/dashboard`. */
  dashboardDir?: string | undefined;
  limits: {
    /** Body cap of the REST API (docs/reference/rest-api.md §0). */
    bodyBytes: number;
    /** Body cap of `/currents/events`. */
    currentsBodyBytes: number;
    /** Maximum distinct values of an array attribute (Braze: 25 by default, up to 100). */
    arrayAttributeValues: number;
    /** How long a request may take to arrive, in ms (slow clients are cut off). */
    requestTimeoutMs: number;
    /** Body cap of the partner cohort endpoints (docs/reference/cohort-import.md §1.4). */
    cohortBodyBytes: number;
    /** Body cap of the Mixpanel webhook receiver (§4.1). */
    webhookBodyBytes: number;
    /** How long a cohort change waits for the cohort's lock before answering 423. */
    cohortLockTimeoutMs: number;
    /** Failed authentications per minute from one client address with one key prefix before it gets 429. */
    authFailuresPerMinute: number;
    /** `/users/track` group commit: transactions of one workspace in flight at once (default: 1 on PGlite, which has one connection; 2 on PostgreSQL). */
    trackGroupsInFlight: number | undefined;
    /** `/users/track` group commit: items (attributes + events + purchases) one transaction may take. */
    trackGroupMaxItems: number;
    /** While a /users/track group is in flight, a further one waits up to this long to fill (0: off). */
    trackGroupLingerMs: number;
    /** The queued items that end that wait at once (default: half of trackGroupMaxItems). */
    trackGroupLingerItems: number | undefined;
    /** PostgreSQL's statement_timeout for segment queries, in ms; beyond it the route answers 503 (docs/reference/segments.md#limits). */
    segmentStatementTimeoutMs: number;
    /** Cohorts one workspace may hold; the partner API refuses new ones beyond (docs/reference/cohort-import.md#16-cohorts-per-workspace). */
    cohortsPerWorkspace: number;
  };
  /** Dashboard sign-in tries per window, counted before the password is checked (docs/access-control.md#sign-in). */
  signIn: {
    triesPerAddress: number;
    triesPerAccount: number;
    windowMs: number;
  };
  /** The event log's window (src/events/retention.ts, docs/scaling.md). */
  eventLog: {
    /** How long events are kept (a connector further behind is told what it misses). */
    retentionMs: number;
    /** The time span of one partition; a seventh of the window unless set. */
    partitionMs: number;
    /** How often partitions are prepared and expired ones dropped. */
    maintenanceMs: number;
  };
  /** Campaign sends (docs/reference/campaigns.md §6). */
  messaging: {
    /** The default SMTP server of email campaigns (SMTP_URL); unset: email campaigns cannot send. */
    smtpUrl: string | undefined;
    /** SMTP connections kept open per server. */
    smtpConnections: number;
    /** IP addresses webhooks may reach despite the address policy (RIVULET_WEBHOOK_ALLOW, comma-separated). */
    webhookAllow: string[];
    /** How often send workers look for due work, ms, and how many sends one process attempts at once. */
    sendPollMs: number;
    sendConcurrency: number;
    /** How long a claimed send stays one process's unless renewed (RIVULET_SEND_LEASE_MS; a live worker renews it): after a crash, its unfinished sends wait this long. */
    sendLeaseMs: number;
  };
  /** Leases on background work shared by processes (src/leases, docs/scaling.md). */
  leases: {
    /** A pull run's lease; renewed every third of it. A process that paused longer loses the run. */
    pullRunMs: number;
  };
  rateLimits: {
    track: RateLimitRule;
    identifyAndAlias: RateLimitRule;
    exportIds: RateLimitRule;
    currentsPublish: RateLimitRule;
    /** The send endpoints (`/campaigns/trigger/send`), Braze's 250,000 per hour. */
    messagingSends: RateLimitRule;
    /** `/subscription/status/set`, Braze's 5,000 per minute. */
    subscriptionSet: RateLimitRule;
    sdk: RateLimitRule;
    /** Per (workspace, partner) on the partner cohort API and the webhook. */
    partnerCohorts: RateLimitRule;
  };
  /**
   * Notices about cohort-sync incidents (a stale dynamic sync, a failed pull connection), sent
   * through the Currents notification outbox: to whom (RIVULET_COHORT_SYNC_CONTACT; unset: the
   * incidents are only flagged and logged) and how often they are looked for.
   */
  cohortSyncAlerts?: { contact: string | undefined; checkMs: number };
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function emailSetting(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[^\s@]+@[^\s@]+$/.test(raw) || raw.length > 254) throw new ConfigError(`${name} must be an email address, got "${raw}"`);
  return raw;
}

function rule(env: Env, name: string, limit: number, windowMs: number): RateLimitRule {
  return { limit: int(env, `RIVULET_RATE_LIMIT_${name}`, limit, 1), windowMs: int(env, `RIVULET_RATE_WINDOW_MS_${name}`, windowMs, 1) };
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    trustedProxies: parseTrustedProxies(env.RIVULET_TRUSTED_PROXIES),
    host,
    dataDir: env.RIVULET_DATA_DIR || './data',
    databaseUrl: env.DATABASE_URL || undefined,
    seedApiKey: env.RIVULET_API_KEY || undefined,
    publicUrl: (env.RIVULET_PUBLIC_URL || `http://${urlHost}:${port}`).replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL || 'info',
    store: {
      timeoutMs: int(env, 'RIVULET_STORE_TIMEOUT_MS', 10_000, 100, 3_600_000),
      minFreeBytes: int(env, 'RIVULET_STORE_MIN_FREE_BYTES', 64 * 1024 * 1024, 0),
    },
    shutdownTimeoutMs: int(env, 'RIVULET_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    masterKey: env.RIVULET_MASTER_KEY || undefined,
    adminPassword: env.RIVULET_ADMIN_PASSWORD || undefined,
    extraPartners: parsePartners(env.RIVULET_PARTNERS),
    partnerApiKeys: partnerKeys(env),
    dashboardDir: env.RIVULET_DASHBOARD_DIR || undefined,
    limits: {
      bodyBytes: int(env, 'RIVULET_BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024),
      currentsBodyBytes: int(env, 'RIVULET_CURRENTS_BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024),
      arrayAttributeValues: int(env, 'RIVULET_ARRAY_ATTRIBUTE_MAX', 25, 1, 100),
      requestTimeoutMs: int(env, 'RIVULET_REQUEST_TIMEOUT_MS', 30_000, 1000),
      cohortBodyBytes: int(env, 'RIVULET_COHORT_BODY_LIMIT_BYTES', 2 * 1024 * 1024, 1024),
      webhookBodyBytes: int(env, 'RIVULET_WEBHOOK_BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024),
      cohortLockTimeoutMs: int(env, 'RIVULET_COHORT_LOCK_TIMEOUT_MS', 5_000, 1),
      authFailuresPerMinute: int(env, 'RIVULET_AUTH_FAILURES_PER_MINUTE', 30, 1),
      trackGroupsInFlight: env.RIVULET_TRACK_GROUPS_IN_FLIGHT ? int(env, 'RIVULET_TRACK_GROUPS_IN_FLIGHT', 2, 1, 64) : undefined,
      trackGroupMaxItems: int(env, 'RIVULET_TRACK_GROUP_MAX_ITEMS', 3000, 1, 100_000),
      trackGroupLingerMs: int(env, 'RIVULET_TRACK_GROUP_LINGER_MS', 0, 0, 1000),
      trackGroupLingerItems: env.RIVULET_TRACK_GROUP_LINGER_ITEMS ? int(env, 'RIVULET_TRACK_GROUP_LINGER_ITEMS', 1500, 1, 100_000) : undefined,
      segmentStatementTimeoutMs: int(env, 'RIVULET_SEGMENT_STATEMENT_TIMEOUT_MS', 10_000, 1, 3_600_000),
      cohortsPerWorkspace: int(env, 'RIVULET_COHORTS_PER_WORKSPACE', 10_000, 1, 10_000_000),
    },
    signIn: {
      triesPerAddress: int(env, 'RIVULET_SIGNIN_TRIES_PER_ADDRESS', 10, 1),
      triesPerAccount: int(env, 'RIVULET_SIGNIN_TRIES_PER_ACCOUNT', 100, 1),
      windowMs: int(env, 'RIVULET_SIGNIN_WINDOW_MS', 15 * 60_000, 1000),
    },
    eventLog: eventLogConfig(env),
    messaging: {
      smtpUrl: env.SMTP_URL || undefined,
      smtpConnections: int(env, 'RIVULET_SMTP_CONNECTIONS', 5, 1, 100),
      webhookAllow: (env.RIVULET_WEBHOOK_ALLOW ?? '').split(',').map((a) => a.trim()).filter((a) => a.length > 0),
      sendPollMs: int(env, 'RIVULET_SEND_POLL_MS', 500, 10, 60_000),
      sendConcurrency: int(env, 'RIVULET_SEND_CONCURRENCY', 16, 1, 1000),
      sendLeaseMs: int(env, 'RIVULET_SEND_LEASE_MS', 30_000, 1_000, 3_600_000),
    },
    leases: {
      pullRunMs: int(env, 'RIVULET_PULL_LEASE_MS', 60_000, 300, 3_600_000),
    },
    rateLimits: {
      track: rule(env, 'TRACK', 3000, 3000),
      identifyAndAlias: rule(env, 'IDENTIFY', 20_000, 60_000),
      exportIds: rule(env, 'EXPORT_IDS', 250, 60_000),
      currentsPublish: rule(env, 'CURRENTS', 3000, 3000),
      messagingSends: rule(env, 'SENDS', 250_000, 3_600_000),
      subscriptionSet: rule(env, 'SUBSCRIPTION_SET', 5_000, 60_000),
      sdk: rule(env, 'SDK', 3000, 3000),
      partnerCohorts: rule(env, 'PARTNER_COHORTS', 250_000, 3_600_000),
    },
    cohortSyncAlerts: {
      contact: emailSetting(env, 'RIVULET_COHORT_SYNC_CONTACT'),
      checkMs: int(env, 'RIVULET_COHORT_SYNC_CHECK_MS', 60_000, 100, 3_600_000),
    },
  };
}

const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function parseTrustedProxies(raw: string | undefined): string[] {
  if (!raw) return [];
  const entries = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!(PROXY_RANGE_NAMES.has(entry) || (family !== 0 && bitsOk && extra === undefined))) {
      throw new ConfigError(`RIVULET_TRUSTED_PROXIES: "${entry}" must be an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`);
    }
  }
  return entries;
}

function eventLogConfig(env: Env): Config['eventLog'] {
  const retentionS = int(env, 'RIVULET_EVENT_LOG_RETENTION_SECONDS', 7 * 86_400, 60, 10 * 365 * 86_400);
  const partitionS = int(env, 'RIVULET_EVENT_LOG_PARTITION_SECONDS', Math.max(60, Math.ceil(retentionS / 7)), 60, retentionS);
  return { retentionMs: retentionS * 1000, partitionMs: partitionS * 1000, maintenanceMs: Math.max(1000, Math.min(15 * 60_000, (partitionS * 1000) / 4)) };
}

function parsePartners(raw: string | undefined): Array<{ slug: string; name: string }> {
  if (!raw) return [];
  return raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const [slug, ...rest] = p.split(':');
      if (!slug || !/^[a-z][a-z0-9_-]{1,31}$/.test(slug)) {
        throw new ConfigError(`RIVULET_PARTNERS: "${p}" must be slug:Name with a lower-case slug`);
      }
      return { slug, name: rest.join(':').trim() || slug[0]!.toUpperCase() + slug.slice(1) };
    });
}

function partnerKeys(env: Env): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(env)) {
    const m = /^RIVULET_PARTNER_API_KEY_([A-Z0-9_]+)$/.exec(name);
    if (!m || !value) continue;
    out[m[1]!.toLowerCase().replace(/_/g, '-')] = value
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The Currents export's settings (docs/reference/operations.md). Every delay of the delivery
// engine is here so that tests can shrink them all at once with `RIVULET_CURRENTS_DELAY_SCALE`
// and still exercise the real rules. src/currents/config.ts re-exports them.
// ---------------------------------------------------------------------------------------------

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
  /** How often each process writes the per-minute delivery history it aggregated in memory (60 s). */
  historyFlushMs?: number;
  /** How often the history retention job rolls old minutes into hours and deletes old rows (1 h). */
  historyRetentionMs?: number;
}

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
    historyFlushMs: num(env, 'RIVULET_CURRENTS_HISTORY_FLUSH_MS', 60_000, 100, 600_000),
    historyRetentionMs: num(env, 'RIVULET_CURRENTS_HISTORY_RETENTION_MS', 3_600_000, 1000, 86_400_000),
  };
}

/** Secrets commands take from the environment (`rivulet currents` when no flag gives them; `rivulet mail-sink --auth`). */
export type CliSecretVariable = 'MIXPANEL_API_SECRET' | 'MIXPANEL_SERVICE_ACCOUNT_SECRET' | 'MIXPANEL_PROJECT_TOKEN' | 'RIVULET_MAIL_SINK_AUTH' | 'RIVULET_TWILIO_EMULATOR_ACCOUNTS';

export function cliSecret(name: CliSecretVariable, env: Env = process.env): string | undefined {
  return env[name] || undefined;
}

/** `LOG_LEVEL=debug`: whether a failure may print its stack trace (read before a Config exists). */
export function debugRequested(env: Env = process.env): boolean {
  return env.LOG_LEVEL === 'debug';
}

/** The environment as start-up error messages read it (`DATABASE_URL`, `PORT`, …), before a Config exists. */
export function startupEnv(): Env {
  return process.env;
}
