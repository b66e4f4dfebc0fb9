/**
 * Admin API of pull mode: `/admin/mixpanel/connections` (create, list, get, update, delete, run
 * now). Bodies are checked by `readConnection`, so a 400 names each field at fault. Credentials go
 * in and never come out: responses show their kind and the secret's last four characters.
 * `base_url` (http or https only) sends the connection's queries somewhere other than Mixpanel's
 * query host for its region: the emulator, or a proxy.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { Errors } from '../../http/index.js';
import { PageQuery, pageRequest } from '../../http/index.js';
import type { SecretBox } from '../../secrets/index.js';
import { queriesInWindow } from './budget.js';
import { readConnection, type ConnectionFields } from './connection-input.js';
import { createConnection, deleteConnection, getConnection, listConnectionsPage, publicConnection, requestRun, updateConnection } from './connections.js';

import { NoContent } from '../../http/index.js';
import { PullConnection, PullConnectionDetail, PullConnectionPage } from '../contract.js';

const admin = { permission: 'admin' as const };
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });
const BODY_DOC =
  '{name?, project_id, mixpanel_workspace_id?, region? (US|EU|IN), base_url? (http(s), e.g. the emulator), ' +
  'service_account: {username, secret} | api_secret, cohort_ids, mode? (one_time|dynamic), interval_minutes? (>= 5, default 15), ' +
  'match_key? (distinct_id|email|property:<name>), query_budget? (1-60 per hour), enabled?}';

export interface PullRoutesDeps {
  box: () => Promise<SecretBox>;
  /** The query budget's window, for the budget used shown per connection. */
  budgetWindowMs: number;
  /** Asks the scheduler to look for due runs now. */
  wake: () => void;
}

export function pullRoutes(deps: PullRoutesDeps) {
  return async function routes(app: FastifyInstance, { db }: AppServices): Promise<void> {
    const tags = ['admin'];
    const body = { type: 'object', description: BODY_DOC, additionalProperties: true } as const;

    app.post('/admin/mixpanel/connections', { config: admin, schema: { tags, response: { 201: PullConnection }, summary: 'Create a Mixpanel connection for pull mode', body } }, async (request, reply) => {
      const key = requireKey(request);
      const fields = readConnection(request.body, false) as ConnectionFields;
      const box = await deps.box();
      const row = await createConnection(db, box, key.workspace_id, fields);
      deps.wake();
      return reply.status(201).send(publicConnection(row, box));
    });

    app.get(
      '/admin/mixpanel/connections',
      { config: admin, schema: { tags, response: { 200: PullConnectionPage }, summary: 'A page of Mixpanel connections, oldest first (credentials never shown)', querystring: PageQuery } },
      async (request) => {
        const key = requireKey(request);
        const box = await deps.box();
        const page = await listConnectionsPage(db, key.workspace_id, pageRequest(request.query));
        return { connections: page.items.map((r) => publicConnection(r, box)), next_cursor: page.next_cursor };
      },
    );

    app.get(
      '/admin/mixpanel/connections/:id',
      { config: admin, schema: { tags, response: { 200: PullConnectionDetail }, summary: 'A Mixpanel connection, its stored snapshots and its query budget', params: Id } },
      async (request) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const row = await getConnection(db, key.workspace_id, id);
        if (!row) throw Errors.notFound(`Mixpanel connection ${id}`);
        const { rows: snapshots } = await db.query<{ cohort_id: string; identifiers: number; taken_at: Date }>(
          `SELECT mixpanel_cohort_id AS cohort_id, cardinality(identifiers) AS identifiers, taken_at
             FROM pull_snapshots WHERE connection_id = $1 ORDER BY mixpanel_cohort_id`,
          [row.id],
        );
        return {
          ...publicConnection(row, await deps.box()),
          snapshots,
          query_budget_used: await queriesInWindow(db, row.project_id, deps.budgetWindowMs),
        };
      },
    );

    app.patch(
      '/admin/mixpanel/connections/:id',
      { config: admin, schema: { tags, response: { 200: PullConnection }, summary: 'Change a Mixpanel connection (any field of the create body)', params: Id, body } },
      async (request) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const patch = readConnection(request.body, true);
        const box = await deps.box();
        const row = await updateConnection(db, box, key.workspace_id, id, patch);
        if (!row) throw Errors.notFound(`Mixpanel connection ${id}`);
        deps.wake();
        return publicConnection(row, box);
      },
    );

    app.delete(
      '/admin/mixpanel/connections/:id',
      { config: admin, schema: { tags, response: { 204: NoContent }, summary: 'Delete a Mixpanel connection (its cohorts and memberships stay)', params: Id } },
      async (request, reply) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        if (!(await deleteConnection(db, key.workspace_id, id))) throw Errors.notFound(`Mixpanel connection ${id}`);
        return reply.status(204).send();
      },
    );

    app.post(
      '/admin/mixpanel/connections/:id/run',
      { config: admin, schema: { tags, response: { 202: PullConnection }, summary: 'Run a Mixpanel connection now (after any run in progress)', params: Id } },
      async (request, reply) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const row = await requestRun(db, key.workspace_id, id);
        deps.wake();
        return reply.status(202).send(publicConnection(row, await deps.box()));
      },
    );
  };
}
