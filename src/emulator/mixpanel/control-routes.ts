/**
 * The emulator's own endpoints under `/_emulator/` (not part of Mixpanel's API): create projects
 * and service accounts, set faults and settings, read stored events back, read counters, reset.
 * Tests and scripts that run the emulator in another process drive it through these.
 */
import type { FastifyInstance } from 'fastify';
import { ControlInputError, readFaults, readGrant, readProject, readSettings } from './control-input.js';
import type { MixpanelEmulator } from './emulator.js';
import type { Project, ServiceAccount } from './projects.js';
import { EVENT_VIEWS, type EventView } from './store.js';

function projectJson(project: Project, accounts: readonly ServiceAccount[]) {
  return {
    project_id: project.id,
    token: project.token,
    api_secret: project.apiSecret,
    service_accounts: accounts
      .filter((a) => a.roles.has(project.id))
      .map((a) => ({
        username: a.username,
        secret: a.secret,
        role: a.roles.get(project.id),
        expires_at: a.expiresAtMs === null ? null : new Date(a.expiresAtMs).toISOString(),
      })),
  };
}

function nonNegativeInt(value: string | undefined, fallback: number): number | null {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

export async function controlRoutes(app: FastifyInstance, opts: { emulator: MixpanelEmulator }): Promise<void> {
  const { emulator } = opts;

  app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
    if (err instanceof ControlInputError) return reply.code(400).send({ error: err.message });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });

  app.get('/_emulator/projects', async () => {
    const { projects, serviceAccounts } = emulator.registry.list();
    return { projects: projects.map((p) => projectJson(p, serviceAccounts)) };
  });

  app.post('/_emulator/projects', async (request, reply) => {
    const input = readProject(request.body);
    let project: Project;
    try {
      project = emulator.createProject(input);
    } catch (err) {
      return reply.code(409).send({ error: (err as Error).message });
    }
    return reply.code(201).send(projectJson(project, emulator.registry.list().serviceAccounts));
  });

  app.post<{ Params: { id: string } }>('/_emulator/projects/:id/service-accounts', async (request, reply) => {
    const project = emulator.registry.project(request.params.id);
    if (!project) return reply.code(404).send({ error: `unknown project ${request.params.id}` });
    emulator.registry.grant(project.id, readGrant(request.body));
    return reply.code(201).send(projectJson(project, emulator.registry.list().serviceAccounts));
  });

  app.get('/_emulator/faults', async () => ({ faults: emulator.faults.all() }));

  app.post('/_emulator/faults', async (request) => {
    const { spec, projectId, seed } = readFaults(request.body, emulator.now());
    if (seed !== undefined) emulator.faults.reseed(seed);
    emulator.setFaults(spec, projectId);
    return { faults: emulator.faults.all() };
  });

  app.delete('/_emulator/faults', async () => {
    emulator.faults.clear();
    return { faults: {} };
  });

  app.get('/_emulator/settings', async () => ({ ...emulator.settings }));

  app.post('/_emulator/settings', async (request) => emulator.updateSettings(readSettings(request.body)));

  app.get<{ Querystring: { project_id?: string; view?: string; offset?: string; limit?: string } }>('/_emulator/events', async (request, reply) => {
    const { project_id: projectId, view = 'dedup' } = request.query;
    if (!projectId) return reply.code(400).send({ error: 'project_id is required' });
    if (!emulator.registry.project(projectId)) return reply.code(404).send({ error: `unknown project ${projectId}` });
    if (!EVENT_VIEWS.includes(view as EventView)) return reply.code(400).send({ error: `view must be one of ${EVENT_VIEWS.join(', ')}` });
    const offset = nonNegativeInt(request.query.offset, 0);
    const limit = nonNegativeInt(request.query.limit, Number.POSITIVE_INFINITY);
    if (offset === null || limit === null) return reply.code(400).send({ error: 'offset and limit must be non-negative integers' });
    const page = emulator.store.page(projectId, view as EventView, offset, limit);
    // Records are stored as JSON text; splice them in rather than parse and re-serialize.
    const head = JSON.stringify({ project_id: projectId, view, total: page.total, offset }).slice(0, -1);
    return reply.type('application/json').send(`${head},"events":[${page.records.join(',')}]}`);
  });

  app.get('/_emulator/stats', async () => emulator.stats());

  app.post('/_emulator/reset', async (request) => {
    const body = (request.body ?? {}) as { projects?: unknown };
    emulator.reset({ projects: body.projects === true });
    return { reset: true };
  });
}
