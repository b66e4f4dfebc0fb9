/**
 * One run of a Mixpanel connection (docs/reference/cohort-import.md §5): cohorts/list for the names, then for
 * each cohort the engage pages from page 0 until a short page, each page one query through the
 * project's budget gate. A rejected session restarts the snapshot at page 0; 429/5xx back off
 * (60 s doubling to 300 s) and ask again; 401/403 end the run and mark the connection failed
 * (retried every 15 min). Only a complete snapshot is applied; a partial one is discarded and the
 * failure recorded in the sync history. The caller's abort (a stop) ends the run at once,
 * applying nothing more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CohortLocked } from '../../errors/index.js';
import type { SecretBox } from '../../secrets/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import type { CohortContext } from '../context.js';
import { MIXPANEL } from '../partners.js';
import { findCohort } from '../store.js';
import { recordSync } from '../sync-history.js';
import { parseMatchKey, type MatchKey } from '../webhook-payload.js';
import { applySnapshot, partnerCohortIdOf } from './apply-snapshot.js';
import type { Credentials } from './connection-input.js';
import { openCredentials, type ConnectionRow, type RunEnd } from './connections.js';
import { queryHost } from './hosts.js';
import type { QueryGate } from './budget.js';
import { MixpanelQueryClient, type EngagePage, type EngageParams, type MixpanelCohortInfo, type QueryOutcome } from './query-client.js';
import { engageShape, identifierOf } from './snapshot.js';
import { backoffMs, type PullTiming } from './timing.js';

export interface PullDeps {
  db: Db;
  box: () => Promise<SecretBox>;
  ctx: CohortContext;
  gate: QueryGate;
  timing: PullTiming;
  /** Tells the connection's owner something went wrong (logged when no mail is configured). */
  notify: (message: string) => void;
  /** Run first in every transaction that writes for the run: throws LeaseLost when the run's lease is gone. */
  fence: (tx: Queryable) => Promise<void>;
}

/** A rejected session restarts the snapshot; more restarts than this in one run give the cohort up. */
const MAX_SNAPSHOT_RESTARTS = 3;
/** A cohort locked by another replacement is retried this many times, a second apart and more. */
const LOCK_ATTEMPTS = 3;

type Failure = Exclude<QueryOutcome<never>, { kind: 'ok' }>;
type Snapshot = { kind: 'complete'; identifiers: Array<string | undefined>; pages: number };

class PullRun {
  private readonly client: MixpanelQueryClient;
  private readonly key: MatchKey;

  constructor(
    private readonly deps: PullDeps,
    private readonly conn: ConnectionRow,
    credentials: Credentials,
    private readonly signal: AbortSignal,
  ) {
    this.key = parseMatchKey(conn.match_key) ?? { kind: 'distinct_id' };
    this.client = new MixpanelQueryClient(
      { host: queryHost(conn.region, conn.base_url), projectId: conn.project_id, mixpanelWorkspaceId: conn.mixpanel_workspace_id, credentials },
      deps.timing.requestTimeoutMs,
    );
  }

  /** One query through the gate, asked again after a back-off while the answer is transient. */
  private async ask<T>(query: () => Promise<QueryOutcome<T>>): Promise<QueryOutcome<T>> {
    const { gate, timing } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const out = await gate.run(this.conn.project_id, this.conn.query_budget, this.signal, query);
      if (out.kind !== 'transient' || attempt >= timing.transientAttempts) return out;
      await sleep(backoffMs(timing, attempt), undefined, { signal: this.signal });
    }
  }

  async cohortNames(): Promise<QueryOutcome<Map<string, MixpanelCohortInfo>>> {
    const out = await this.ask(() => this.client.listCohorts(this.signal));
    if (out.kind !== 'ok') return out;
    return { kind: 'ok', value: new Map(out.value.map((c) => [c.id, c])) };
  }

  /** A complete snapshot of the cohort, restarting at page 0 when the paging session is rejected. */
  async snapshot(cohortId: string): Promise<Snapshot | Failure> {
    for (let restarts = 0; ; restarts++) {
      const out = await this.readPages(cohortId);
      if (out.kind !== 'session_rejected') return out;
      if (restarts >= MAX_SNAPSHOT_RESTARTS) return { kind: 'rejected', status: 400, message: `paging session rejected ${restarts + 1} times: ${out.message}` };
    }
  }

  /** Pages from 0 until a page shorter than the page size. */
  private async readPages(cohortId: string): Promise<Snapshot | Failure> {
    const shape = engageShape(this.key);
    const identifiers: Array<string | undefined> = [];
    let sessionId: string | null = null;
    for (let page = 0; ; page++) {
      const params: EngageParams = { cohortId, ...shape, sessionId, page };
      const out: QueryOutcome<EngagePage> = await this.ask(() => this.client.engagePage(params, this.signal));
      if (out.kind !== 'ok') return out;
      for (const r of out.value.results) identifiers.push(identifierOf(r, this.key));
      if (out.value.results.length < out.value.pageSize) return { kind: 'complete', identifiers, pages: page + 1 };
      if (out.value.sessionId === null) return { kind: 'rejected', status: 200, message: 'a full engage page came without a session_id' };
      sessionId = out.value.sessionId;
    }
  }

  async apply(info: MixpanelCohortInfo, snap: Snapshot): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await applySnapshot(this.deps.db, this.deps.ctx, {
          workspaceId: this.conn.workspace_id,
          connectionId: this.conn.id,
          projectId: this.conn.project_id,
          cohortId: info.id,
          name: info.name,
          description: info.description,
          matchKey: this.key,
          identifiers: snap.identifiers,
          pages: snap.pages,
          fence: this.deps.fence,
        });
        return;
      } catch (err) {
        const locked = err instanceof CohortLocked;
        if (!locked || attempt >= LOCK_ATTEMPTS) throw err;
        await sleep(1000 * attempt, undefined, { signal: this.signal });
      }
    }
  }

  async recordFailure(cohortId: string, error: string): Promise<void> {
    const partnerCohortId = partnerCohortIdOf(this.conn.project_id, cohortId);
    const cohort = await findCohort(this.deps.db, this.conn.workspace_id, MIXPANEL.slug, partnerCohortId);
    await this.deps.db.transaction(async (tx) => {
      await this.deps.fence(tx);
      await recordSync(tx, {
      workspaceId: this.conn.workspace_id,
      partner: MIXPANEL.slug,
      source: 'pull',
      cohortId: cohort?.id ?? null,
      partnerCohortId,
      action: 'replacement',
      status: 'failed',
        error,
        details: { connection_id: this.conn.id },
      });
    });
  }

  /** The cohort's name when cohorts/list could not be read: the stored one, else a placeholder. */
  async fallbackInfo(cohortId: string): Promise<MixpanelCohortInfo> {
    const cohort = await findCohort(this.deps.db, this.conn.workspace_id, MIXPANEL.slug, partnerCohortIdOf(this.conn.project_id, cohortId));
    return { id: cohortId, name: cohort?.name ?? `Mixpanel cohort ${cohortId}`, description: cohort?.description ?? null };
  }
}

/** Runs a claimed connection to its end; throws only on abort or an unexpected failure. */
export async function runConnection(deps: PullDeps, conn: ConnectionRow, signal: AbortSignal): Promise<RunEnd> {
  const { timing } = deps;
  const authFailed = async (run: PullRun | null, message: string, unreadable = false): Promise<RunEnd> => {
    const retrying = `retrying every ${Math.round(timing.authRetryMs / 60_000)} min until they are fixed`;
    const error = unreadable ? `${message}; ${retrying}` : `Mixpanel refused the credentials (${message}); ${retrying}`;
    if (run) for (const id of conn.cohort_ids) await run.recordFailure(id, error);
    deps.notify(`Mixpanel connection ${conn.id} (${conn.name}, project ${conn.project_id}) failed: ${error}`);
    return { state: 'failed', nextRunInMs: timing.authRetryMs, error, succeeded: false };
  };
  let credentials: Credentials;
  try {
    credentials = openCredentials(await deps.box(), conn);
  } catch {
    return authFailed(
      null,
      "the stored credentials cannot be decrypted with this deployment's master key (they were sealed under another one): enter them again (PATCH the connection's credentials)",
      true,
    );
  }
  const run = new PullRun(deps, conn, credentials, signal);
  const names = await run.cohortNames();
  if (names.kind === 'auth_failed') return authFailed(run, names.message);
  const problems: string[] = [];
  for (const cohortId of conn.cohort_ids) {
    let info: MixpanelCohortInfo;
    if (names.kind === 'ok') {
      const found = names.value.get(cohortId);
      if (!found) {
        const error = `cohort ${cohortId} is not in project ${conn.project_id}'s cohorts/list`;
        problems.push(error);
        await run.recordFailure(cohortId, error);
        continue;
      }
      info = found;
    } else {
      info = await run.fallbackInfo(cohortId);
    }
    const snap = await run.snapshot(cohortId);
    if (snap.kind === 'auth_failed') return authFailed(run, snap.message);
    if (snap.kind !== 'complete') {
      const error = `cohort ${cohortId}: snapshot discarded, nothing applied: ${snap.message}`;
      problems.push(error);
      await run.recordFailure(cohortId, error);
      continue;
    }
    await run.apply(info, snap);
  }
  const dynamic = conn.mode === 'dynamic';
  if (problems.length === 0) {
    return { state: dynamic ? 'active' : 'done', nextRunInMs: dynamic ? conn.interval_seconds * 1000 : null, error: null, succeeded: true };
  }
  return {
    state: 'active',
    nextRunInMs: dynamic ? conn.interval_seconds * 1000 : timing.retryLaterMs,
    error: problems.join('; ').slice(0, 2000),
    succeeded: false,
  };
}
