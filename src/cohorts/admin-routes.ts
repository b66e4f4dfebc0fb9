/**
 * Admin API of cohort import (docs/reference/operations.md): data import keys, the partner page (endpoints,
 * webhook URL, match key), cohorts with members and sync history, and the data-point ledger.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../http/index.js';
import { requireKey } from '../http/index.js';
import { ApiError, Errors } from '../http/index.js';
import { PageQuery, pageRequest } from '../http/index.js';
import { isCalendarDate } from '../tracking/index.js';
import type { CohortContext } from './context.js';
import { createImportKey, invalidateImportKey, listImportKeysPage, publicImportKey, rotateImportKey } from './import-keys.js';
import { MIXPANEL } from './partners.js';
import { getCohort, listCohortsPage, type Cohort } from './store.js';
import { Gauge } from 'prom-client';
import { listSyncs, listSyncsPage, staleSyncs, SYNC_STATUSES } from './sync-history.js';
import { listRejections } from './sync-rejections.js';
import { WEBHOOK_PATH } from './webhook.js';
import { formatMatchKey, parseMatchKey } from './webhook-payload.js';

import { CohortDetail, CohortPage, DataPointUsage, ImportKey, ImportKeyPage, NewImportKey, PartnerList, PartnerSettings, StaleSyncList, SyncPage, SyncRejectionPage } from './contract.js';

const admin = { permission: 'admin' as const };
const Prefix = Type.Object({ prefix: Type.String({ maxLength: 64 }) });

function publicCohort(c: Cohort, filterName: string | undefined) {
  return {
    id: c.id,
    partner: c.partner,
    cohort_id: c.partner_cohort_id,
    name: c.name,
    description: c.description,
    member_count: c.member_count,
    created_at: c.created_at,
    last_synced_at: c.last_synced_at,
    last_source: c.last_source,
    filter: filterName,
  };
}

export function cohortAdminRoutes(ctx: CohortContext) {
  return async function routes(app: FastifyInstance, { db, config }: AppServices): Promise<void> {
    app.post(
      '/admin/import-keys',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 201: NewImportKey }, summary: 'Generate a data import key for a partner (shown only in this response)',
          body: Type.Object({ partner: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        },
      },
      async (request, reply) => {
        const key = requireKey(request);
        const { partner } = request.body as { partner: string };
        if (!ctx.partners.get(partner)) throw Errors.badRequest(`unknown partner ${partner}; known: ${ctx.partners.list().map((p) => p.slug).join(', ')}`, 'partner');
        const created = await createImportKey(db, key.workspace_id, partner);
        return reply.status(201).send({ key: created.key, ...publicImportKey(created.record) });
      },
    );

    app.get(
      '/admin/import-keys',
      { config: admin, schema: { tags: ['admin'], response: { 200: ImportKeyPage }, summary: 'A page of data import keys, oldest first (prefixes only)', querystring: PageQuery } },
      async (request) => {
        const key = requireKey(request);
        const page = await listImportKeysPage(db, key.workspace_id, pageRequest(request.query));
        return { keys: page.items.map(publicImportKey), next_cursor: page.next_cursor };
      },
    );

    app.post(
      '/admin/import-keys/:prefix/rotate',
      { config: admin, schema: { tags: ['admin'], response: { 201: NewImportKey }, summary: 'Replace an active data import key; the old one stops at once', params: Prefix } },
      async (request, reply) => {
        const key = requireKey(request);
        const { prefix } = request.params as { prefix: string };
        const rotated = await db.transaction((tx) => rotateImportKey(tx, prefix, key.workspace_id));
        if (!rotated) throw Errors.notFound(`active data import key ${prefix}`);
        return reply.status(201).send({ key: rotated.key, ...publicImportKey(rotated.record), replaces: rotated.previous.prefix });
      },
    );

    app.post(
      '/admin/import-keys/:prefix/invalidate',
      { config: admin, schema: { tags: ['admin'], response: { 200: ImportKey }, summary: 'Invalidate a data import key at once', params: Prefix } },
      async (request) => {
        const key = requireKey(request);
        const { prefix } = request.params as { prefix: string };
        const ended = await invalidateImportKey(db, prefix, key.workspace_id);
        if (!ended) throw Errors.notFound(`active data import key ${prefix}`);
        return publicImportKey(ended);
      },
    );

    app.get('/admin/partners', { config: admin, schema: { tags: ['admin'], response: { 200: PartnerList }, summary: 'Partners, their endpoints and settings' } }, async (request) => {
      const key = requireKey(request);
      const { rows } = await db.query<{ partner: string; enabled: boolean; settings: Record<string, unknown> }>(
        'SELECT partner, enabled, settings FROM partner_settings WHERE workspace_id = $1',
        [key.workspace_id],
      );
      return {
        rest_endpoint: config.publicUrl,
        partners: ctx.partners.list().map((p) => {
          const row = rows.find((r) => r.partner === p.slug);
          return {
            partner: p.slug,
            name: p.name,
            filter: p.filterName,
            enabled: row?.enabled ?? true,
            cohort_endpoint: `${config.publicUrl}/partners/${p.slug}/cohorts`,
            user_cohort_endpoint: `${config.publicUrl}/partners/${p.slug}/cohorts/users`,
            ...(p.slug === MIXPANEL.slug
              ? { webhook_url: `${config.publicUrl}${WEBHOOK_PATH}`, match_key: formatMatchKey(parseMatchKey(row?.settings.match_key) ?? { kind: 'distinct_id' }) }
              : {}),
          };
        }),
      };
    });

    app.put(
      '/admin/partners/:partner',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: PartnerSettings }, summary: "Enable or disable a partner for this workspace; set Mixpanel's webhook match key",
          params: Type.Object({ partner: Type.String({ maxLength: 64 }) }),
          body: Type.Object(
            { enabled: Type.Optional(Type.Boolean()), match_key: Type.Optional(Type.String({ maxLength: 264 })) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const { partner } = request.params as { partner: string };
        const body = request.body as { enabled?: boolean; match_key?: string };
        if (!ctx.partners.get(partner)) throw Errors.notFound(`partner ${partner}`);
        if (body.match_key !== undefined && (partner !== MIXPANEL.slug || !parseMatchKey(body.match_key))) {
          throw new ApiError(400, 'match_key must be distinct_id, email or property:<name> (Mixpanel only)', [{ type: 'invalid match_key', path: 'match_key' }]);
        }
        const settings = body.match_key !== undefined ? { match_key: body.match_key } : {};
        const { rows } = await db.query<{ enabled: boolean; settings: Record<string, unknown> }>(
          `INSERT INTO partner_settings (workspace_id, partner, enabled, settings) VALUES ($1, $2, coalesce($3, true), $4::jsonb)
           ON CONFLICT (workspace_id, partner) DO UPDATE SET enabled = coalesce($3, partner_settings.enabled),
             settings = partner_settings.settings || $4::jsonb, updated_at = now()
           RETURNING enabled, settings`,
          [key.workspace_id, partner, body.enabled ?? null, JSON.stringify(settings)],
        );
        return { partner, ...rows[0] };
      },
    );

    app.get('/admin/cohorts', { config: admin, schema: { tags: ['admin'], response: { 200: CohortPage }, summary: 'A page of cohorts by name, with member counts', querystring: PageQuery } }, async (request) => {
      const key = requireKey(request);
      const page = await listCohortsPage(db, key.workspace_id, pageRequest(request.query));
      return { cohorts: page.items.map((c) => publicCohort(c, ctx.partners.get(c.partner)?.filterName)), next_cursor: page.next_cursor };
    });

    app.get(
      '/admin/cohorts/:id',
      { config: admin, schema: { tags: ['admin'], response: { 200: CohortDetail }, summary: 'A cohort, its sync history and its adds and removes per day', params: Type.Object({ id: Type.String({ maxLength: 64 }) }) } },
      async (request) => {
        const key = requireKey(request);
        const { id } = request.params as { id: string };
        const cohort = await getCohort(db, key.workspace_id, id);
        if (!cohort) throw Errors.notFound(`cohort ${id}`);
        const { rows: daily } = await db.query<{ day: string; added: number; removed: number }>(
          `SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(added)::int8 AS added, sum(removed)::int8 AS removed
             FROM data_points WHERE cohort_id = $1 GROUP BY day ORDER BY day`,
          [cohort.id],
        );
        return {
          ...publicCohort(cohort, ctx.partners.get(cohort.partner)?.filterName),
          daily,
          syncs: await listSyncs(db, key.workspace_id, { cohortId: cohort.id, limit: 100 }),
        };
      },
    );

    app.get(
      '/admin/cohort-syncs',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: SyncPage }, summary: 'A page of the sync history, newest first, filtered by cohort and status',
          querystring: Type.Object(
            { ...PageQuery.properties, cohort_id: Type.Optional(Type.String({ maxLength: 64 })), status: Type.Optional(Type.String({ maxLength: 32 })) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const { cohort_id: cohortId, status, ...paging } = request.query as { cohort_id?: string; status?: string };
        if (status !== undefined && !(SYNC_STATUSES as readonly string[]).includes(status)) throw Errors.badRequest(`status must be one of ${SYNC_STATUSES.join(', ')}`, 'status');
        if (cohortId !== undefined && !(await getCohort(db, key.workspace_id, cohortId))) throw Errors.notFound(`cohort ${cohortId}`);
        const page = await listSyncsPage(db, key.workspace_id, pageRequest(paging), { cohortId, status });
        return { syncs: page.items, next_cursor: page.next_cursor };
      },
    );

    app.get(
      '/admin/cohort-sync-rejections',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: SyncRejectionPage }, summary: 'Rejected webhook pushes and partner API requests, newest first (when, key prefix, why)',
          querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })), before: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })) }),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const q = request.query as { limit?: string; before?: string };
        const limit = Math.min(1000, Number(q.limit ?? 100));
        const rejections = await listRejections(db, key.workspace_id, { limit, before: q.before === undefined ? undefined : Number(q.before) });
        const since = new Date(Date.now() - 24 * 3600_000);
        return {
          rejections,
          last_24h: rejections.filter((r) => new Date(r.at) >= since).length,
          next_before: rejections.length === limit && rejections.length > 0 ? String(rejections.at(-1)!.id) : null,
        };
      },
    );

    app.get('/admin/cohort-syncs/stale', { config: admin, schema: { tags: ['admin'], response: { 200: StaleSyncList }, summary: 'Dynamic syncs whose last good sync is older than two intervals' } }, async (request) => {
      const key = requireKey(request);
      return { stale: await staleSyncs(db, key.workspace_id) };
    });

    // Scraped from the database, so every process reports the same and a restart loses nothing.
    new Gauge({
      name: 'rivulet_cohort_sync_stale',
      help: 'Dynamic cohort syncs whose last good sync is older than two intervals (docs/reference/cohort-import.md §8), 1 each',
      labelNames: ['workspace', 'kind', 'id'],
      registers: [app.metrics],
      async collect() {
        this.reset();
        for (const s of await staleSyncs(db).catch(() => [])) this.set({ workspace: s.workspace_id, kind: s.kind, id: s.id }, 1);
      },
    });
    new Gauge({
      name: 'rivulet_cohort_pull_connection_failed',
      help: 'Pull connections in the failed state (docs/reference/cohort-import.md §8.3), 1 each',
      labelNames: ['workspace', 'id'],
      registers: [app.metrics],
      async collect() {
        this.reset();
        const { rows } = await db
          .query<{ id: string; workspace_id: string }>(`SELECT id::text AS id, workspace_id::text AS workspace_id FROM mixpanel_connections WHERE state = 'failed'`)
          .catch(() => ({ rows: [] as Array<{ id: string; workspace_id: string }> }));
        for (const r of rows) this.set({ workspace: r.workspace_id, id: r.id }, 1);
      },
    });

    app.get(
      '/admin/usage/data-points',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          response: { 200: DataPointUsage }, summary: 'The data-point ledger per UTC day, by source',
          querystring: Type.Object({ from: Type.Optional(Type.String({ maxLength: 10 })), to: Type.Optional(Type.String({ maxLength: 10 })) }),
        },
      },
      async (request) => {
        const key = requireKey(request);
        const q = request.query as { from?: string; to?: string };
        for (const f of ['from', 'to'] as const) {
          if (q[f] !== undefined && !isCalendarDate(q[f])) throw Errors.badRequest(`${f} must be a date YYYY-MM-DD`, f);
        }
        const { rows } = await db.query<{ day: string; source: string; added: number; removed: number }>(
          `SELECT to_char(day, 'YYYY-MM-DD') AS day, source, sum(added)::int8 AS added, sum(removed)::int8 AS removed
             FROM data_points WHERE workspace_id = $1 AND ($2::date IS NULL OR day >= $2::date) AND ($3::date IS NULL OR day <= $3::date)
            GROUP BY day, source ORDER BY day, source`,
          [key.workspace_id, q.from ?? null, q.to ?? null],
        );
        const days = new Map<string, { day: string; data_points: number; by_source: Record<string, number> }>();
        for (const r of rows) {
          const d = days.get(r.day) ?? { day: r.day, data_points: 0, by_source: {} };
          d.data_points += r.added + r.removed;
          d.by_source[r.source] = (d.by_source[r.source] ?? 0) + r.added + r.removed;
          days.set(r.day, d);
        }
        const list = [...days.values()];
        return { days: list, total: list.reduce((n, d) => n + d.data_points, 0) };
      },
    );
  };
}
