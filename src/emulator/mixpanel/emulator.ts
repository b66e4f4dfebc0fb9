/**
 * The state of one emulated Mixpanel and the handle tests and the CLI drive it with: projects and
 * service accounts, stored events, faults, rate-limit windows, settings and request counters.
 * Fastify routes (ingestion and control) are thin layers over this object.
 */
import { FaultInjector, type FaultSpec } from './faults.js';
import { ProjectRegistry, type Project, type ProjectInput, type ServiceAccountGrant } from './projects.js';
import { DEFAULT_RATE_LIMIT_BYTES, RollingByteLimit } from './rate-limit.js';
import type { FailedRecordIdKey } from './responses.js';
import { EventStore, type EventView } from './store.js';
import type { ImportRecord } from './validation.js';

export interface ImportSettings {
  /** Uncompressed body cap; larger gives 413. */
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  /** Uncompressed bytes per project per rolling minute before 429. */
  rateLimitBytesPerMinute: number;
  /** Key of the record id in `failed_records`. */
  failedRecordIdKey: FailedRecordIdKey;
}

export const DEFAULT_IMPORT_SETTINGS: Readonly<ImportSettings> = {
  maxBodyBytes: 10_485_760,
  maxEventsPerRequest: 2000,
  rateLimitBytesPerMinute: DEFAULT_RATE_LIMIT_BYTES,
  failedRecordIdKey: '$insert_id',
};

export interface ServiceAccountInput {
  username: string;
  secret: string;
  /** Project id → role. */
  roles: Record<string, ServiceAccountGrant['role']>;
  expiresAtMs?: number | null;
}

export interface MixpanelEmulatorOptions extends Partial<ImportSettings> {
  projects?: readonly ProjectInput[];
  serviceAccounts?: readonly ServiceAccountInput[];
  /** Global faults in force from the start. */
  faults?: FaultSpec;
  /** Seed of the fault PRNG. */
  seed?: number;
  /** Clock in epoch ms; `Date.now` by default. */
  now?: () => number;
  /** Keep stored records (default); `false` keeps only counts and dedup keys (see EventStore). */
  retainRecords?: boolean;
}

export interface RequestCounts {
  total: number;
  byStatus: Record<string, number>;
}

export interface ProjectCounters {
  requests: RequestCounts;
  recordsImported: number;
  recordsFailed: number;
  recordsIgnored: number;
  bytesReceived: number;
}

const emptyCounts = (): RequestCounts => ({ total: 0, byStatus: {} });
const emptyCounters = (): ProjectCounters => ({ requests: emptyCounts(), recordsImported: 0, recordsFailed: 0, recordsIgnored: 0, bytesReceived: 0 });

function countStatus(counts: RequestCounts, status: number): void {
  counts.total += 1;
  counts.byStatus[status] = (counts.byStatus[status] ?? 0) + 1;
}

export class MixpanelEmulator {
  readonly registry = new ProjectRegistry();
  readonly store: EventStore;
  readonly faults: FaultInjector;
  readonly rateLimit: RollingByteLimit;
  readonly settings: ImportSettings;
  readonly now: () => number;
  private requests = emptyCounts();
  private counters = new Map<string, ProjectCounters>();

  constructor(options: MixpanelEmulatorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = new EventStore(options.retainRecords ?? true);
    this.settings = {
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_IMPORT_SETTINGS.maxBodyBytes,
      maxEventsPerRequest: options.maxEventsPerRequest ?? DEFAULT_IMPORT_SETTINGS.maxEventsPerRequest,
      rateLimitBytesPerMinute: options.rateLimitBytesPerMinute ?? DEFAULT_IMPORT_SETTINGS.rateLimitBytesPerMinute,
      failedRecordIdKey: options.failedRecordIdKey ?? DEFAULT_IMPORT_SETTINGS.failedRecordIdKey,
    };
    this.rateLimit = new RollingByteLimit(this.settings.rateLimitBytesPerMinute);
    this.faults = new FaultInjector(options.seed ?? 1);
    if (options.faults) this.faults.set(options.faults);
    for (const project of options.projects ?? []) this.createProject(project);
    for (const account of options.serviceAccounts ?? []) {
      for (const [projectId, role] of Object.entries(account.roles)) {
        this.registry.grant(projectId, { username: account.username, secret: account.secret, role, expiresAtMs: account.expiresAtMs ?? null });
      }
    }
  }

  createProject(input: ProjectInput = {}): Project {
    return this.registry.createProject(input);
  }

  updateSettings(patch: Partial<ImportSettings>): ImportSettings {
    Object.assign(this.settings, patch);
    this.rateLimit.limitBytes = this.settings.rateLimitBytesPerMinute;
    return { ...this.settings };
  }

  setFaults(spec: FaultSpec, projectId?: string): void {
    this.faults.set(spec, projectId);
  }

  /** Parsed records of a project in one view (`dedup` by default). */
  events(projectId: string, view: EventView = 'dedup'): ImportRecord[] {
    return this.store.records(projectId, view);
  }

  recordRequest(projectId: string | null, status: number): void {
    countStatus(this.requests, status);
    if (projectId !== null) countStatus(this.projectCounters(projectId).requests, status);
  }

  projectCounters(projectId: string): ProjectCounters {
    let counters = this.counters.get(projectId);
    if (!counters) {
      counters = emptyCounters();
      this.counters.set(projectId, counters);
    }
    return counters;
  }

  stats() {
    const projects: Record<string, unknown> = {};
    for (const { id } of this.registry.list().projects) {
      const c = this.counters.get(id) ?? emptyCounters();
      projects[id] = {
        requests: { total: c.requests.total, by_status: { ...c.requests.byStatus } },
        records_imported: c.recordsImported,
        records_failed: c.recordsFailed,
        records_ignored: c.recordsIgnored,
        bytes_received: c.bytesReceived,
        events: { raw: this.store.count(id, 'raw'), dedup: this.store.count(id, 'dedup'), dedup_daily: this.store.count(id, 'dedup_daily') },
      };
    }
    return { requests: { total: this.requests.total, by_status: { ...this.requests.byStatus } }, projects };
  }

  /** Drops events, counters, faults and rate windows; projects too when asked. */
  reset(options: { projects?: boolean } = {}): void {
    this.store.clear();
    this.faults.clear();
    this.rateLimit.clear();
    this.requests = emptyCounts();
    this.counters = new Map();
    if (options.projects) this.registry.clear();
  }
}
