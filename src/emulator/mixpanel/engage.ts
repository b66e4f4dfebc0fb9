/**
 * The engage query API's behaviour (docs/reference/mixpanel-apis.md §9), independent of HTTP: authentication
 * (service account with `project_id`, or the legacy API secret as the Basic username), injected
 * faults, the per-project limits (60 queries per rolling hour, 5 concurrent; every page and every
 * cohorts/list call is one query), paging sessions and the replies. Sessions hold a snapshot of the
 * people selected by page 0, so later pages are consistent; a session expires an hour (settable)
 * after its last use, which keeps a slow, budget-limited reader's session alive between pages.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { mixpanelDate, type CohortBook, type CohortMember } from './cohorts.js';
import { engageRow, parseEngageQuery, selectPeople } from './engage-query.js';
import { FaultInjector } from './faults.js';
import type { ProjectRegistry } from './projects.js';

export interface EngageSettings {
  pageSize: number;
  /** A paging session is forgotten this long after its last use. */
  sessionTtlMs: number;
  /** Queries per project in a rolling hour before 429. */
  queriesPerHour: number;
  /** Queries in flight per project before 429. */
  maxConcurrent: number;
  /** Added to every admitted query, so concurrency can be observed. */
  latencyMs: number;
}

export const DEFAULT_ENGAGE_SETTINGS: Readonly<EngageSettings> = {
  pageSize: 1000,
  sessionTtlMs: 3_600_000,
  queriesPerHour: 60,
  maxConcurrent: 5,
  latencyMs: 0,
};

export type QueryKind = 'engage' | 'cohorts_list';

export interface QueryRequest {
  kind: QueryKind;
  /** The path as called, echoed in error bodies as `request`. */
  path: string;
  authorization: string | undefined;
  /** `project_id` from the query string. */
  projectId: string | undefined;
  /** Form fields and query parameters, merged. */
  fields: Readonly<Record<string, string | undefined>>;
}

export interface QueryReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface QueryLogEntry {
  atMs: number;
  kind: QueryKind;
  projectId: string | null;
  cohortId: string | null;
  page: number | null;
  sessionId: string | null;
  status: number;
  results: number | null;
}

interface Session {
  projectId: string;
  people: CohortMember[];
  lastUsedMs: number;
}

const HOUR_MS = 3_600_000;
const LOG_CAP = 10_000;

type QueryAuth = { ok: true; projectId: string } | { ok: false; status: 400 | 401 | 403; error: string };

function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header) : null;
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? { username: decoded, password: '' } : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Any role on the project may query; the legacy secret names its own project. */
export function authenticateQuery(registry: ProjectRegistry, authorization: string | undefined, projectId: string | undefined, nowMs: number): QueryAuth {
  const credentials = basicCredentials(authorization);
  if (!credentials) return { ok: false, status: 401, error: 'Invalid credentials' };
  const account = registry.serviceAccount(credentials.username);
  if (account && account.secret === credentials.password) {
    if (account.expiresAtMs !== null && nowMs >= account.expiresAtMs) return { ok: false, status: 401, error: 'Invalid credentials' };
    if (projectId === undefined) return { ok: false, status: 400, error: 'project_id is required with a service account' };
    if (!account.roles.has(projectId) || !registry.project(projectId)) {
      return { ok: false, status: 403, error: 'service account has no role on this project' };
    }
    return { ok: true, projectId };
  }
  const project = registry.projectBySecret(credentials.username);
  if (!project) return { ok: false, status: 401, error: 'Invalid credentials' };
  if (projectId !== undefined && projectId !== project.id) return { ok: false, status: 403, error: 'API secret does not belong to this project' };
  return { ok: true, projectId: project.id };
}

export class EngageApi {
  readonly settings: EngageSettings;
  readonly faults: FaultInjector;
  private readonly sessions = new Map<string, Session>();
  private readonly hourly = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private log: QueryLogEntry[] = [];

  constructor(
    private readonly registry: ProjectRegistry,
    private readonly book: CohortBook,
    private readonly now: () => number,
    settings: Partial<EngageSettings> = {},
    seed = 1,
  ) {
    this.settings = { ...DEFAULT_ENGAGE_SETTINGS, ...settings };
    this.faults = new FaultInjector(seed);
  }

  async handle(request: QueryRequest): Promise<QueryReply> {
    const f = request.fields;
    const page = f.page === undefined || f.page === '' ? 0 : Number(f.page);
    const entry: QueryLogEntry = {
      atMs: this.now(),
      kind: request.kind,
      projectId: null,
      cohortId: null,
      page: request.kind === 'engage' && Number.isSafeInteger(page) ? page : null,
      sessionId: request.kind === 'engage' ? (f.session_id ?? null) : null,
      status: 0,
      results: null,
    };
    const reply = await this.answer(request, entry);
    entry.status = reply.status;
    this.log.push(entry);
    if (this.log.length > LOG_CAP) this.log = this.log.slice(-LOG_CAP / 2);
    return reply;
  }

  /** The queries answered so far, oldest first (control endpoint and tests). */
  queries(projectId?: string): QueryLogEntry[] {
    return projectId === undefined ? [...this.log] : this.log.filter((e) => e.projectId === projectId);
  }

  /** Forgets every paging session, as if they had all expired. */
  expireSessions(): number {
    const n = this.sessions.size;
    this.sessions.clear();
    return n;
  }

  updateSettings(patch: Partial<EngageSettings>): EngageSettings {
    Object.assign(this.settings, patch);
    return { ...this.settings };
  }

  reset(): void {
    this.sessions.clear();
    this.hourly.clear();
    this.inFlight.clear();
    this.faults.clear();
    this.log = [];
  }

  private async answer(request: QueryRequest, entry: QueryLogEntry): Promise<QueryReply> {
    const fail = (status: number, error: string): QueryReply => ({ status, body: { request: request.path, error } });
    const auth = authenticateQuery(this.registry, request.authorization, request.projectId, this.now());
    if (auth.ok) entry.projectId = auth.projectId;
    const fault = this.faults.decide(auth.ok ? auth.projectId : null, this.now());
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.status !== null) {
      const reply = fail(fault.status, fault.status === 429 ? 'Query rate limit exceeded' : 'injected fault');
      if (fault.retryAfter !== null) reply.headers = { 'retry-after': fault.retryAfter };
      return reply;
    }
    if (!auth.ok) return fail(auth.status, auth.error);
    const refused = this.admit(auth.projectId);
    if (refused) return fail(429, refused);
    try {
      if (this.settings.latencyMs > 0) await sleep(this.settings.latencyMs);
      return request.kind === 'cohorts_list' ? this.cohortsList(auth.projectId) : this.engage(auth.projectId, request, entry, fail);
    } finally {
      this.inFlight.set(auth.projectId, (this.inFlight.get(auth.projectId) ?? 1) - 1);
    }
  }

  /** Counts a query against both limits; returns why it is refused, if it is. */
  private admit(projectId: string): string | null {
    const now = this.now();
    if ((this.inFlight.get(projectId) ?? 0) >= this.settings.maxConcurrent) {
      return `too many concurrent queries: at most ${this.settings.maxConcurrent} per project`;
    }
    const times = (this.hourly.get(projectId) ?? []).filter((t) => t > now - HOUR_MS);
    this.hourly.set(projectId, times);
    if (times.length >= this.settings.queriesPerHour) {
      return `Query rate limit exceeded: at most ${this.settings.queriesPerHour} queries per hour per project`;
    }
    times.push(now);
    this.inFlight.set(projectId, (this.inFlight.get(projectId) ?? 0) + 1);
    return null;
  }

  private cohortsList(projectId: string): QueryReply {
    const numeric = (s: string) => (/^\d{1,15}$/.test(s) ? Number(s) : s);
    return {
      status: 200,
      body: this.book.list(projectId).map((c) => ({
        count: c.members.size,
        is_visible: c.isVisible ? 1 : 0,
        description: c.description,
        created: mixpanelDate(c.createdMs),
        project_id: numeric(projectId),
        id: numeric(c.id),
        name: c.name,
      })),
    };
  }

  private engage(projectId: string, request: QueryRequest, entry: QueryLogEntry, fail: (s: number, e: string) => QueryReply): QueryReply {
    const parsed = parseEngageQuery(request.fields);
    if (!parsed.ok) return fail(400, parsed.error);
    const q = parsed.query;
    entry.page = q.page;
    entry.cohortId = q.cohortId ?? null;
    const now = this.now();
    let sessionId = q.sessionId;
    let session: Session | undefined;
    if (sessionId !== undefined) {
      session = this.sessions.get(sessionId);
      if (!session || session.projectId !== projectId || now - session.lastUsedMs > this.settings.sessionTtlMs) {
        if (session) this.sessions.delete(sessionId);
        return fail(400, 'session_id is unknown or expired; start again from page 0 without session_id');
      }
      session.lastUsedMs = now;
    } else {
      let people: CohortMember[];
      if (q.cohortId !== undefined) {
        const cohort = this.book.get(projectId, q.cohortId);
        if (!cohort) return fail(400, `cohort ${q.cohortId} not found in project ${projectId}`);
        people = this.book.members(cohort);
      } else {
        people = this.book.allProfiles(projectId);
      }
      this.pruneSessions(now);
      sessionId = `${Math.floor(now / 1000)}-${randomBytes(3).toString('hex').toUpperCase()}`;
      session = { projectId, people: selectPeople(people, q), lastUsedMs: now };
      this.sessions.set(sessionId, session);
    }
    entry.sessionId = sessionId;
    const size = this.settings.pageSize;
    const results = session.people.slice(q.page * size, (q.page + 1) * size).map((p) => engageRow(p, q.outputProperties));
    entry.results = results.length;
    return { status: 200, body: { page: q.page, page_size: size, session_id: sessionId, status: 'ok', total: session.people.length, results } };
  }

  private pruneSessions(now: number): void {
    for (const [id, s] of this.sessions) if (now - s.lastUsedMs > this.settings.sessionTtlMs) this.sessions.delete(id);
  }
}
