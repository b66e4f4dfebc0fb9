/**
 * Mixpanel's query API as pull mode uses it (docs/reference/cohort-import.md §5; docs/reference/mixpanel-apis.md §9): one
 * engage page, and cohorts/list for the cohorts' names. Each call answers an outcome that says what
 * the run should do next (use the page, restart the snapshot, back off, mark the credentials
 * failed, or give the cohort up); only the caller's own abort is thrown. Error texts come from
 * Mixpanel's `error` field and never contain the credentials.
 */
import { request } from 'undici';
import type { Credentials } from './connection-input.js';

export interface QueryTarget {
  host: string;
  projectId: string;
  mixpanelWorkspaceId: string | null;
  credentials: Credentials;
}

export type QueryOutcome<T> =
  | { kind: 'ok'; value: T }
  /** The paging session is unknown or expired: start the snapshot again at page 0. */
  | { kind: 'session_rejected'; message: string }
  /** 429, 5xx, timeout or a broken connection: back off and ask again. */
  | { kind: 'transient'; status: number | null; message: string }
  /** 401/403: the connection's credentials are refused. */
  | { kind: 'auth_failed'; status: number; message: string }
  /** Any other refusal: asking again would not help. */
  | { kind: 'rejected'; status: number; message: string };

export interface EngageResult {
  $distinct_id?: unknown;
  $properties?: Record<string, unknown>;
}

export interface EngagePage {
  results: EngageResult[];
  sessionId: string | null;
  pageSize: number;
  total: number | null;
}

export interface MixpanelCohortInfo {
  id: string;
  name: string;
  description: string | null;
}

export interface EngageParams {
  cohortId: string;
  includeAllUsers: boolean;
  outputProperties: string[];
  sessionId: string | null;
  page: number;
}

export const DEFAULT_PAGE_SIZE = 1000;

/** Text from Mixpanel made storable (PostgreSQL text holds no U+0000 and no lone surrogates). */
function storable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');
}

function errorText(body: unknown, status: number): string {
  const e = (body as { error?: unknown } | null)?.error;
  const text = typeof e === 'string' ? e : typeof (e as { message?: unknown } | null)?.message === 'string' ? (e as { message: string }).message : '';
  // Mixpanel's text goes into the sync history: keep it short and storable.
  const clean = storable(text.slice(0, 300));
  return `HTTP ${status}${clean ? `: ${clean}` : ''}`;
}

/** What a reply means for the run; pure. `sentSession` says whether the request carried a session_id. */
export function classifyQueryReply(status: number, body: unknown, sentSession: boolean): Exclude<QueryOutcome<never>, { kind: 'ok' }> | null {
  if (status >= 200 && status < 300) return null;
  const message = errorText(body, status);
  if (status === 401 || status === 403) return { kind: 'auth_failed', status, message };
  if (status === 429 || status >= 500) return { kind: 'transient', status, message };
  if (status === 400 && sentSession) return { kind: 'session_rejected', message };
  return { kind: 'rejected', status, message };
}

export function authorizationOf(c: Credentials): string {
  const pair = c.kind === 'service_account' ? `${c.username}:${c.secret}` : `${c.secret}:`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}

export class MixpanelQueryClient {
  constructor(
    private readonly target: QueryTarget,
    private readonly timeoutMs: number,
  ) {}

  async engagePage(p: EngageParams, signal: AbortSignal): Promise<QueryOutcome<EngagePage>> {
    const form = new URLSearchParams({
      filter_by_cohort: JSON.stringify({ id: /^\d{1,15}$/.test(p.cohortId) ? Number(p.cohortId) : p.cohortId }),
      include_all_users: String(p.includeAllUsers),
      output_properties: JSON.stringify(p.outputProperties),
    });
    if (p.sessionId !== null) {
      form.set('session_id', p.sessionId);
      form.set('page', String(p.page));
    }
    const reply = await this.post('/api/query/engage', form, signal);
    if (reply.kind !== 'ok') return reply;
    const failed = classifyQueryReply(reply.value.status, reply.value.body, p.sessionId !== null);
    if (failed) return failed;
    const body = reply.value.body as { results?: unknown; session_id?: unknown; page_size?: unknown; total?: unknown } | null;
    if (!body || !Array.isArray(body.results)) return { kind: 'transient', status: reply.value.status, message: 'engage answered without a results array' };
    return {
      kind: 'ok',
      value: {
        results: body.results as EngageResult[],
        sessionId: typeof body.session_id === 'string' || typeof body.session_id === 'number' ? String(body.session_id) : null,
        pageSize: typeof body.page_size === 'number' && body.page_size > 0 ? body.page_size : DEFAULT_PAGE_SIZE,
        total: typeof body.total === 'number' ? body.total : null,
      },
    };
  }

  async listCohorts(signal: AbortSignal): Promise<QueryOutcome<MixpanelCohortInfo[]>> {
    const reply = await this.post('/api/query/cohorts/list', new URLSearchParams(), signal);
    if (reply.kind !== 'ok') return reply;
    const failed = classifyQueryReply(reply.value.status, reply.value.body, false);
    if (failed) return failed;
    if (!Array.isArray(reply.value.body)) return { kind: 'transient', status: reply.value.status, message: 'cohorts/list answered without an array' };
    const cohorts: MixpanelCohortInfo[] = [];
    for (const c of reply.value.body as Array<Record<string, unknown>>) {
      if (!c || (typeof c.id !== 'number' && typeof c.id !== 'string')) continue;
      const name = typeof c.name === 'string' && c.name.trim() ? storable(c.name.slice(0, 255)) : `Mixpanel cohort ${c.id}`;
      cohorts.push({ id: storable(String(c.id)), name, description: typeof c.description === 'string' ? storable(c.description.slice(0, 4096)) : null });
    }
    return { kind: 'ok', value: cohorts };
  }

  private async post(path: string, form: URLSearchParams, signal: AbortSignal): Promise<QueryOutcome<{ status: number; body: unknown }>> {
    const url = new URL(`${this.target.host}${path}`);
    url.searchParams.set('project_id', this.target.projectId);
    if (this.target.mixpanelWorkspaceId) url.searchParams.set('workspace_id', this.target.mixpanelWorkspaceId);
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { authorization: authorizationOf(this.target.credentials), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      const text = await res.body.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        /* judged by status */
      }
      return { kind: 'ok', value: { status: res.statusCode, body } };
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err as { name?: string; code?: string };
      const timedOut = e.name === 'TimeoutError' || /Timeout/i.test(e.code ?? '');
      return { kind: 'transient', status: null, message: timedOut ? `no reply within ${this.timeoutMs} ms` : `connection error: ${e.code ?? e.name ?? 'unknown'}` };
    }
  }
}
