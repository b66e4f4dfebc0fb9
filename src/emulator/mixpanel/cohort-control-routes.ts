/**
 * Control endpoints of the emulator's cohort side (not part of Mixpanel's API):
 * `/_emulator/cohorts` (create or replace, add, remove, list, read, delete),
 * `/_emulator/engage` (settings, faults, session expiry, the query log) and
 * `/_emulator/webhook-syncs` (create, list, read state and history, run now, replay, faults,
 * resume, forget snapshots, delete).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ControlInputError, readFaults } from './control-input.js';
import { readCohort, readDeliveryFaults, readDistinctIds, readEngageSettings, readMembers, readProjectId, readSyncConfig } from './cohort-control-input.js';
import type { CohortEmulator } from './cohort-emulator.js';
import { mixpanelDate, type Cohort } from './cohorts.js';
import { UnknownSync, type SyncRun, type WebhookSync } from './webhook-sender.js';

const CONTROL_BODY_LIMIT = 256 * 1024 * 1024;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function cohortJson(c: Cohort, withMembers: boolean) {
  return {
    project_id: c.projectId,
    id: c.id,
    name: c.name,
    description: c.description,
    is_visible: c.isVisible,
    created: mixpanelDate(c.createdMs),
    count: c.members.size,
    ...(withMembers ? { members: [...c.members] } : {}),
  };
}

function runJson(r: SyncRun) {
  return {
    run: r.run,
    trigger: r.trigger,
    status: r.status,
    error: r.error,
    started_at: iso(r.startedAtMs),
    finished_at: iso(r.finishedAtMs),
    cohorts: r.cohorts.map((c) => ({
      cohort_id: c.cohortId,
      full: c.full,
      actions: c.actions.map((a) => ({ action: a.action, session_id: a.sessionId, pages: a.pages, members: a.members })),
    })),
    deliveries: r.deliveries.map((d) => ({
      cohort_id: d.cohortId,
      action: d.action,
      session_id: d.sessionId,
      page_count: d.pageCount,
      total_pages: d.totalPages,
      members: d.members,
      attempts: d.attempts,
      status: d.status,
      outcome: d.outcome,
      error: d.error,
    })),
  };
}

function syncJson(s: WebhookSync) {
  const c = s.config;
  return {
    id: s.id,
    project_id: c.projectId,
    url: c.url,
    username: c.basicAuth?.username ?? null,
    cohort_ids: c.cohortIds,
    properties: c.properties,
    schedule: c.schedule.kind === 'one_time' ? 'one_time' : { every_seconds: c.schedule.seconds },
    first_sync: c.firstSync,
    page_size: c.pageSize ?? null,
    faults: { send_page_twice: c.faults.sendPageTwice ?? null, reorder_pages: c.faults.reorderPages ?? false, stop_after_page: c.faults.stopAfterPage ?? null },
    state: s.state,
    last_error: s.lastError,
    next_run_at: iso(s.nextRunAtMs),
    notifications: s.notifications.map((n) => ({ at: iso(n.atMs), message: n.message })),
    snapshots: [...s.snapshots].map(([cohortId, snap]) => ({ cohort_id: cohortId, members: snap.ids.size, taken_at: iso(snap.takenAtMs) })),
    runs: s.runs.map(runJson),
  };
}

export async function cohortControlRoutes(app: FastifyInstance, opts: { cohorts: CohortEmulator }): Promise<void> {
  const { cohorts } = opts;
  const { book, engage, sender, registry } = cohorts;
  // Cohorts of a million members are set up through these routes.
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= CONTROL_BODY_LIMIT;
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
    if (err instanceof ControlInputError) return reply.code(400).send({ error: err.message });
    if (err instanceof UnknownSync) return reply.code(404).send({ error: err.message });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });

  const project = (raw: unknown) => {
    const id = readProjectId(raw);
    if (!registry.project(id)) throw Object.assign(new Error(`unknown project ${id}`), { statusCode: 404 });
    return id;
  };
  const cohortOf = (projectId: string, id: string) => {
    const c = book.get(projectId, id);
    if (!c) throw Object.assign(new Error(`unknown cohort ${id} in project ${projectId}`), { statusCode: 404 });
    return c;
  };
  type Body = Record<string, unknown> | undefined;
  type IdParams = { Params: { id: string }; Querystring: { project_id?: string; members?: string }; Body: Body };

  app.post<{ Body: Body }>('/_emulator/cohorts', async (request, reply) => {
    const { projectId, input } = readCohort(request.body);
    project(projectId);
    const { cohort, created } = book.upsert(projectId, input);
    return reply.code(created ? 201 : 200).send(cohortJson(cohort, false));
  });

  app.get<{ Querystring: { project_id?: string } }>('/_emulator/cohorts', async (request) => {
    const projectId = project(request.query.project_id);
    return { cohorts: book.list(projectId).map((c) => cohortJson(c, false)) };
  });

  app.post('/_emulator/cohorts/reset', async () => {
    cohorts.reset();
    return { reset: true };
  });

  app.get<IdParams>('/_emulator/cohorts/:id', async (request) => {
    const c = cohortOf(project(request.query.project_id), request.params.id);
    return cohortJson(c, request.query.members !== 'false');
  });

  app.delete<IdParams>('/_emulator/cohorts/:id', async (request) => {
    const projectId = project(request.query.project_id);
    cohortOf(projectId, request.params.id);
    return { deleted: book.delete(projectId, request.params.id) };
  });

  app.put<IdParams>('/_emulator/cohorts/:id/members', async (request) => {
    const c = cohortOf(project(request.body?.project_id), request.params.id);
    book.replaceMembers(c, readMembers(request.body?.members));
    return cohortJson(c, false);
  });

  app.post<IdParams>('/_emulator/cohorts/:id/members', async (request) => {
    const c = cohortOf(project(request.body?.project_id), request.params.id);
    const added = book.addMembers(c, readMembers(request.body?.members));
    return { ...cohortJson(c, false), added };
  });

  app.post<IdParams>('/_emulator/cohorts/:id/members/remove', async (request) => {
    const c = cohortOf(project(request.body?.project_id), request.params.id);
    const removed = book.removeMembers(c, readDistinctIds(request.body?.distinct_ids));
    return { ...cohortJson(c, false), removed };
  });

  app.get('/_emulator/engage/settings', async () => ({ ...engage.settings }));
  app.post('/_emulator/engage/settings', async (request) => engage.updateSettings(readEngageSettings(request.body)));
  app.post('/_emulator/engage/faults', async (request) => {
    const { spec, projectId, seed } = readFaults(request.body, cohorts.now());
    if (seed !== undefined) engage.faults.reseed(seed);
    engage.faults.set(spec, projectId);
    return { faults: engage.faults.all() };
  });
  app.delete('/_emulator/engage/faults', async () => {
    engage.faults.clear();
    return { faults: {} };
  });
  app.post('/_emulator/engage/sessions/expire', async () => ({ expired: engage.expireSessions() }));
  app.get<{ Querystring: { project_id?: string } }>('/_emulator/engage/queries', async (request) => ({
    queries: engage.queries(request.query.project_id).map((q) => ({
      at: iso(q.atMs),
      kind: q.kind,
      project_id: q.projectId,
      cohort_id: q.cohortId,
      page: q.page,
      session_id: q.sessionId,
      status: q.status,
      results: q.results,
    })),
  }));

  app.post<{ Body: Body }>('/_emulator/webhook-syncs', async (request, reply) => {
    const config = readSyncConfig(request.body);
    project(config.projectId);
    return reply.code(201).send(syncJson(sender.create(config)));
  });
  app.get('/_emulator/webhook-syncs', async () => ({ syncs: sender.list().map(syncJson) }));
  const syncOf = (id: string) => {
    const s = sender.get(id);
    if (!s) throw new UnknownSync(id);
    return s;
  };
  app.get<IdParams>('/_emulator/webhook-syncs/:id', async (request) => syncJson(syncOf(request.params.id)));
  app.delete<IdParams>('/_emulator/webhook-syncs/:id', async (request) => ({ deleted: sender.delete(syncOf(request.params.id).id) }));
  const runRoute = (trigger: 'manual' | 'replay') => async (request: { params: { id: string }; body: Body }, reply: FastifyReply) => {
    const id = syncOf(request.params.id).id;
    const running = sender.run(id, trigger);
    if (request.body?.wait === false) {
      running.catch(() => undefined);
      return reply.code(202).send({ id, accepted: true });
    }
    return runJson(await running);
  };
  app.post<IdParams>('/_emulator/webhook-syncs/:id/run', runRoute('manual'));
  app.post<IdParams>('/_emulator/webhook-syncs/:id/replay', runRoute('replay'));
  app.post<IdParams>('/_emulator/webhook-syncs/:id/faults', async (request) => syncJson(sender.setFaults(syncOf(request.params.id).id, readDeliveryFaults(request.body))));
  app.post<IdParams>('/_emulator/webhook-syncs/:id/resume', async (request) => syncJson(sender.resume(syncOf(request.params.id).id)));
  app.post<IdParams>('/_emulator/webhook-syncs/:id/forget-snapshots', async (request) => syncJson(sender.forgetSnapshots(syncOf(request.params.id).id)));
}
