/**
 * Admin API of the Currents export (`/admin/currents…`, Bearer key with `admin`): create, list,
 * pause, resume, delete and test Mixpanel exports; their status, dead letters (list, re-send) and
 * notifications. No response ever carries a credential: connectors are shown through
 * `publicConnector`, which has only the last four characters of each.
 */
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { ApiError, Errors } from '../../http/index.js';
import { PageQuery, pageRequest } from '../../http/index.js';
import type { CurrentsContext } from '../context.js';
import { ChangedConnector, ConnectionTestResult, Connector as ConnectorView, ConnectorPage, ConnectorStatus, DeadLetterPage, NoContent, NotificationPage, ResendReport } from '../contract.js';
import { deadLettersByIds, listDeadLetters } from '../delivery/dead-letters.js';
import { importClientFor } from '../delivery/live-export.js';
import { resendDeadLetters } from '../delivery/resend.js';
import { listNotificationsPage } from '../notifications/outbox.js';
import { testConnection } from './connection-test.js';
import { historyRoute } from '../history/route.js';
import { sentSince } from '../history/store.js';
import { parseMixpanelExportInput, parseMixpanelExportUpdate, settingsAsBody, type SealedSecrets } from './settings.js';
import { connectorStatus, lagOf, publicConnector } from './status.js';
import { createConnector, deleteConnector, getConnector, listConnectorsPage, openSecrets, setPaused, updateConnector, type Connector } from './store.js';

const admin = { permission: 'admin' as const };
const documented = (description: string) => ({ type: 'object', description, additionalProperties: true }) as const;
const IdParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] } as const;
const RESEND_BUDGET_MS = 60_000;

const CREATE_DESCRIPTION =
  '{"name", "contact_email", "credentials": {"kind": "service_account", "username", "secret", "project_id"} | {"kind": "api_secret", "api_secret"}, ' +
  '"project_token", "region": "US"|"EU"|"IN", "event_types": [...], "base_url"?, "partner_id"?, "batch_byte_cap"?, "max_in_flight"?, "start_from"?: "now"|"earliest"}';

export function connectorRoutes(ctx: CurrentsContext) {
  return async function routes(app: FastifyInstance, { db }: AppServices): Promise<void> {
    const find = async (request: { params: unknown }, workspaceId: string): Promise<Connector> => {
      const { id } = request.params as { id: string };
      const c = await getConnector(db, id, workspaceId);
      if (!c) throw Errors.notFound(`connector ${id}`);
      return c;
    };

    app.post(
      '/admin/currents/mixpanel',
      { config: admin, schema: { tags: ['admin'], response: { 201: ConnectorView }, summary: 'Create a Mixpanel export', body: documented(CREATE_DESCRIPTION) } },
      async (request, reply) => {
        const key = requireKey(request);
        const input = parseMixpanelExportInput(request.body);
        const created = await createConnector(db, ctx.box, key.workspace_id, input);
        request.log.info({ connector: created.id }, 'Mixpanel export created');
        await ctx.changed();
        return reply.status(201).send(publicConnector(created));
      },
    );

    app.post(
      '/admin/currents/mixpanel/test',
      { config: admin, schema: { tags: ['admin'], response: { 200: ConnectionTestResult }, summary: 'Test Mixpanel settings before creating an export (nothing is stored or imported)', body: documented(CREATE_DESCRIPTION) } },
      async (request) => {
        requireKey(request);
        const input = parseMixpanelExportInput(request.body);
        return probe({ ...input, maxInFlight: 1 }, input.secrets);
      },
    );

    app.get('/admin/currents', { config: admin, schema: { tags: ['admin'], response: { 200: ConnectorPage }, summary: "A page of this workspace's Mixpanel exports, oldest first", querystring: PageQuery } }, async (request) => {
      const key = requireKey(request);
      const page = await listConnectorsPage(db, key.workspace_id, pageRequest(request.query));
      // What the Currents list shows per Current beside its state and last error: delivered in the
      // last 24 h (from the per-minute history) and the lag.
      const delivered = await sentSince(db, key.workspace_id, new Date(Date.now() - 24 * 3_600_000));
      const connectors = [];
      for (const c of page.items) connectors.push({ ...publicConnector(c), delivered_24h: delivered.get(c.id) ?? 0, lag: await lagOf(db, c) });
      return { connectors, next_cursor: page.next_cursor };
    });

    app.get('/admin/currents/:id', { config: admin, schema: { tags: ['admin'], response: { 200: ConnectorView }, summary: 'One Mixpanel export', params: IdParams } }, async (request) => {
      const key = requireKey(request);
      return publicConnector(await find(request, key.workspace_id));
    });

    app.get(
      '/admin/currents/:id/status',
      { config: admin, schema: { tags: ['admin'], response: { 200: ConnectorStatus }, summary: 'State, lag, counters by reason, retries and last error', params: IdParams } },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        return connectorStatus(db, c, ctx.live(c.id));
      },
    );

    for (const action of ['pause', 'resume'] as const) {
      app.post(
        `/admin/currents/:id/${action}`,
        { config: admin, schema: { tags: ['admin'], response: { 200: ConnectorView }, summary: action === 'pause' ? 'Pause (the cursor holds)' : 'Resume', params: IdParams } },
        async (request) => {
          const key = requireKey(request);
          const { id } = request.params as { id: string };
          const updated = await setPaused(db, id, key.workspace_id, action === 'pause');
          if (!updated) throw Errors.notFound(`connector ${id}`);
          await ctx.changed();
          return publicConnector(updated);
        },
      );
    }

    app.patch(
      '/admin/currents/:id',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: ChangedConnector }, summary: 'Change a Mixpanel export in place: credentials, project token, region, base URL, event types, name, contact email, partner id, batch cap, requests in flight',
          params: IdParams,
          body: documented('any fields of the create body but start_from; credentials are replaced as a whole'),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        const secrets = await openSecrets(db, ctx.box, c.id);
        const { input, changed } = parseMixpanelExportUpdate(request.body, settingsAsBody(c, secrets));
        // A fixed credential, token or destination is tried at once, not after the failed state's back-off.
        const reset = changed.some((k) => ['credentials', 'project_token', 'region', 'base_url'].includes(k));
        const updated = await updateConnector(db, c.id, key.workspace_id, { ...input, sealed: ctx.box.sealJson(input.secrets) }, reset);
        if (!updated) throw Errors.notFound(`connector ${c.id}`);
        await ctx.changed();
        return { ...publicConnector(updated), changed };
      },
    );

    app.delete(
      '/admin/currents/:id',
      { config: admin, schema: { tags: ['admin'], response: { 204: NoContent }, summary: 'Delete a Mixpanel export with its counters and dead letters', params: IdParams } },
      async (request, reply) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        if (!(await deleteConnector(db, id, key.workspace_id))) throw Errors.notFound(`connector ${id}`);
        await ctx.changed();
        return reply.status(204).send();
      },
    );

    app.post(
      '/admin/currents/:id/test',
      { config: admin, schema: { tags: ['admin'], response: { 200: ConnectionTestResult }, summary: 'Test the connection with a probe Mixpanel rejects on purpose (nothing is imported)', params: IdParams } },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        return probe({ ...c, maxInFlight: 1 }, await openSecrets(db, ctx.box, c.id));
      },
    );

    app.get(
      '/admin/currents/:id/dead-letters',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: DeadLetterPage }, summary: 'Dead letters (state=dead by default), paged by id',
          params: IdParams,
          querystring: {
            type: 'object',
            properties: {
              state: { type: 'string', enum: ['dead', 'resent', 'all'] },
              reason: { type: 'string', maxLength: 600 },
              after: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000 },
            },
            additionalProperties: false,
          },
        },
      },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        const q = request.query as { state?: 'dead' | 'resent' | 'all'; reason?: string; after?: number; limit?: number };
        const state = q.state === 'all' ? undefined : (q.state ?? 'dead');
        const letters = await listDeadLetters(db, c.id, { state, reason: q.reason, after: q.after, limit: q.limit ?? 100 });
        return { dead_letters: letters, next_after: letters.length > 0 ? letters[letters.length - 1]!.id : null };
      },
    );

    app.post(
      '/admin/currents/:id/dead-letters/resend',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: ResendReport }, summary: 'Re-send dead letters (by id, or every dead one up to 1,000); the $insert_id is kept',
          params: IdParams,
          body: documented('{"ids": [1, 2]} or {"all": true}'),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        const body = (request.body ?? {}) as { ids?: unknown; all?: unknown };
        let letters;
        if (body.all === true) letters = await listDeadLetters(db, c.id, { state: 'dead', limit: 1000 });
        else if (Array.isArray(body.ids) && body.ids.length > 0 && body.ids.length <= 1000 && body.ids.every((i) => Number.isSafeInteger(i) && i > 0)) {
          letters = await deadLettersByIds(db, c.id, body.ids as number[]);
        } else throw new ApiError(400, 'give "ids" (1 to 1,000 dead-letter ids) or "all": true', [{ type: 'ids must be an array of dead-letter ids', path: 'ids' }]);
        const secrets = await openSecrets(db, ctx.box, c.id);
        const client = importClientFor(c, secrets, ctx.config);
        try {
          return await resendDeadLetters(db, c.id, letters, {
            send: (b, signal) => client.send(b, signal),
            token: secrets.projectToken,
            batchByteCap: c.batchByteCap,
            delayScale: ctx.config.delayScale,
            authRetryMs: ctx.config.authRetryMs,
            budgetMs: RESEND_BUDGET_MS,
          });
        } finally {
          await client.close();
        }
      },
    );

    app.get(
      '/admin/currents/:id/notifications',
      { config: admin, schema: { tags: ['admin'], response: { 200: NotificationPage }, summary: "A page of notices to the connector's contact (the outbox), newest first", params: IdParams, querystring: PageQuery } },
      async (request) => {
        const key = requireKey(request);
        const c = await find(request, key.workspace_id);
        const page = await listNotificationsPage(db, c.id, pageRequest(request.query));
        return { notifications: page.items, next_cursor: page.next_cursor };
      },
    );

    historyRoute(app, db, find);

    async function probe(c: Pick<Connector, 'region' | 'baseUrl' | 'maxInFlight'>, secrets: SealedSecrets) {
      const client = importClientFor(c, secrets, { ...ctx.config, requestTimeoutMs: Math.min(ctx.config.requestTimeoutMs, 15_000) });
      try {
        return await testConnection((body) => client.send(body));
      } finally {
        await client.close();
      }
    }
  };
}
