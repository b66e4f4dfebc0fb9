/**
 * The segment admin API (Bearer key with `admin`): CRUD, the filter catalogue, a preview count of
 * an unsaved filter, and per segment its live count, member pages, streamed export and a
 * membership check. Bodies are validated by `validate.ts` rather than by schema so that a 400
 * lists every problem in the filter tree with its path; schemas here only document them.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../http/index.js';
import { requireKey } from '../http/index.js';
import { PageQuery, pageRequest } from '../http/index.js';
import type { Queryable } from '../storage/index.js';
import { filterCatalogue } from './catalogue.js';
import { ChangeLogPruner } from './change-log.js';
import { SegmentErrors } from './errors.js';
import { SegmentEvaluator } from './evaluator.js';
import { exportStream, membersByOrdinal, type ExportFormat } from './export.js';
import { listCohorts, partnerList } from '../cohorts/index.js';
import type { CohortFilterNames, FilterNode } from './filter.js';
import { cohortProblems, createSegment, deleteSegment, getSegment, listSegmentsPage, updateSegment, type Segment } from './store.js';
import { withStatementTimeout } from './statement-timeout.js';
import { checkFilter, checkSegmentBody, type SegmentInput } from './validate.js';
import { FilterCatalogue, MemberExport, MemberPage, Membership, NoContent, Segment as SegmentView, SegmentCount, SegmentPage } from './contract.js';

const admin = { permission: 'admin' as const };
const tags = ['segments'];
const documented = (description: string) => ({ type: 'object', description, additionalProperties: true }) as const;
const SegmentBodyDoc = documented(
  '{"name": string, "description"?: string | null, "filter": filter tree}. Filter tree: {"and": [...]}, {"or": [...]}, {"not": {...}} or a filter ' +
    '{"filter": kind, "op": operator, ...operands}; GET /admin/segments/filters lists kinds and operators.',
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const MembersQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: '1 to 1000, default 100' })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}$' })),
  },
  { additionalProperties: false },
);
const ExportQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')])) }, { additionalProperties: false });
const MembershipQuery = Type.Object(
  { external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })), user_id: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);

function present(s: Segment) {
  return { id: s.id, name: s.name, description: s.description, filter: s.filter, created_at: s.created_at, updated_at: s.updated_at };
}

/** Body and filter checks, then whether every cohort exists: one 400 with every problem. */
async function validSegmentBody(db: Queryable, workspaceId: string, body: unknown, partners: CohortFilterNames): Promise<SegmentInput> {
  const checked = checkSegmentBody(body, partners);
  if (!checked.ok) throw SegmentErrors.invalid(checked.problems);
  const problems = await cohortProblems(db, workspaceId, checked.value.filter, partners);
  if (problems.length) throw SegmentErrors.invalid(problems);
  return checked.value;
}

async function validPreviewFilter(db: Queryable, workspaceId: string, body: unknown, partners: CohortFilterNames): Promise<FilterNode> {
  const raw = (body ?? {}) as Record<string, unknown>;
  const extra = Object.keys(raw).filter((k) => k !== 'filter').map((k) => ({ path: k, type: `${k} is not allowed` }));
  const checked = checkFilter(raw.filter, partners);
  const problems = [...extra, ...(checked.ok ? await cohortProblems(db, workspaceId, checked.value, partners) : checked.problems)];
  if (problems.length || !checked.ok) throw SegmentErrors.invalid(problems);
  return checked.value;
}

export async function segmentRoutes(app: FastifyInstance, { db, config }: AppServices): Promise<void> {
  const partners = partnerList(config);
  const cohortFilterNames: CohortFilterNames = new Map(partners.map((p) => [p.filterName, p.slug]));
  // Only the evaluator's reads are bounded; the change-log pruner and the export's batches are not.
  const evaluator = new SegmentEvaluator(withStatementTimeout(db, config.limits.segmentStatementTimeoutMs));
  const pruner = new ChangeLogPruner(db);
  pruner.start((err) => app.log.warn({ err }, 'segment change log pruning failed'));
  app.addHook('onClose', () => pruner.stop());
  evaluator.startPersisting((err) => app.log.warn({ err }, 'saving segment bitmaps failed'));
  app.addHook('onClose', () => evaluator.close());

  const segmentOf = async (workspaceId: string, id: string): Promise<Segment> => {
    const segment = await getSegment(db, workspaceId, id);
    if (!segment) throw SegmentErrors.segmentNotFound(id);
    return segment;
  };

  app.get('/admin/segments', { config: admin, schema: { tags, response: { 200: SegmentPage }, summary: "A page of this workspace's segments by name", querystring: PageQuery } }, async (request) => {
    const key = requireKey(request);
    const page = await listSegmentsPage(db, key.workspace_id, pageRequest(request.query));
    return { segments: page.items.map(present), next_cursor: page.next_cursor };
  });

  app.post('/admin/segments', { config: admin, schema: { tags, response: { 201: SegmentView }, summary: 'Create a segment', body: SegmentBodyDoc } }, async (request, reply) => {
    const key = requireKey(request);
    const input = await validSegmentBody(db, key.workspace_id, request.body, cohortFilterNames);
    return reply.status(201).send(present(await createSegment(db, key.workspace_id, input)));
  });

  app.get(
    '/admin/segments/filters',
    { config: admin, schema: { tags, response: { 200: FilterCatalogue }, summary: "The filter catalogue: kinds, operators, and the workspace's cohorts per partner filter" } },
    async (request) => filterCatalogue(partners, await listCohorts(db, requireKey(request).workspace_id)),
  );

  app.post(
    '/admin/segments/preview-count',
    { config: admin, schema: { tags, response: { 200: SegmentCount }, summary: 'Count the users an unsaved filter matches now', body: documented('{"filter": filter tree}') } },
    async (request) => {
      const key = requireKey(request);
      const filter = await validPreviewFilter(db, key.workspace_id, request.body, cohortFilterNames);
      return { count: await evaluator.count(key.workspace_id, filter) };
    },
  );

  app.get('/admin/segments/:id', { config: admin, schema: { tags, response: { 200: SegmentView }, summary: 'A segment', params: IdParams } }, async (request) => {
    const key = requireKey(request);
    return present(await segmentOf(key.workspace_id, (request.params as { id: string }).id));
  });

  app.put(
    '/admin/segments/:id',
    { config: admin, schema: { tags, response: { 200: SegmentView }, summary: "Replace a segment's name, description and filter", params: IdParams, body: SegmentBodyDoc } },
    async (request) => {
      const key = requireKey(request);
      const { id } = request.params as { id: string };
      const input = await validSegmentBody(db, key.workspace_id, request.body, cohortFilterNames);
      const updated = await updateSegment(db, key.workspace_id, id, input);
      if (!updated) throw SegmentErrors.segmentNotFound(id);
      return present(updated);
    },
  );

  app.delete('/admin/segments/:id', { config: admin, schema: { tags, response: { 204: NoContent }, summary: 'Delete a segment', params: IdParams } }, async (request, reply) => {
    const key = requireKey(request);
    const { id } = request.params as { id: string };
    if (!(await deleteSegment(db, key.workspace_id, id))) throw SegmentErrors.segmentNotFound(id);
    return reply.status(204).send();
  });

  app.get('/admin/segments/:id/count', { config: admin, schema: { tags, response: { 200: SegmentCount }, summary: 'How many users are in the segment now', params: IdParams } }, async (request) => {
    const key = requireKey(request);
    const segment = await segmentOf(key.workspace_id, (request.params as { id: string }).id);
    return { count: await evaluator.count(key.workspace_id, segment.filter) };
  });

  app.get(
    '/admin/segments/:id/members',
    {
      config: admin,
      schema: { tags, response: { 200: MemberPage }, summary: 'A page of members in a stable order; pass next_cursor back as cursor for the next page', params: IdParams, querystring: MembersQuery },
    },
    async (request) => {
      const key = requireKey(request);
      const segment = await segmentOf(key.workspace_id, (request.params as { id: string }).id);
      const { limit = '100', cursor } = request.query as { limit?: string; cursor?: string };
      const members = await evaluator.members(key.workspace_id, segment.filter);
      const page = members.page(cursor === undefined ? -1 : Number(cursor), Number(limit));
      const last = page.at(-1);
      const more = last !== undefined && members.page(last, 1).length > 0;
      return { count: members.size, members: await membersByOrdinal(db, key.workspace_id, page), next_cursor: more ? String(last) : null };
    },
  );

  app.get(
    '/admin/segments/:id/export',
    { config: admin, schema: { tags, response: { 200: MemberExport }, summary: 'Stream every member: NDJSON (default) or CSV', params: IdParams, querystring: ExportQuery } },
    async (request, reply) => {
      const key = requireKey(request);
      const segment = await segmentOf(key.workspace_id, (request.params as { id: string }).id);
      const format: ExportFormat = (request.query as { format?: ExportFormat }).format ?? 'ndjson';
      const members = await evaluator.members(key.workspace_id, segment.filter);
      const stream = exportStream(db, key.workspace_id, members, format);
      stream.on('error', (err) => request.log.error({ err }, 'segment export failed mid-stream'));
      return reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="segment-${segment.id}.${format}"`)
        .header('x-segment-count', String(members.size))
        .send(stream);
    },
  );

  app.get(
    '/admin/segments/:id/membership',
    { config: admin, schema: { tags, response: { 200: Membership }, summary: 'Whether one user (by external_id or user_id) is in the segment now', params: IdParams, querystring: MembershipQuery } },
    async (request) => {
      const key = requireKey(request);
      const segment = await segmentOf(key.workspace_id, (request.params as { id: string }).id);
      const q = request.query as { external_id?: string; user_id?: string };
      const by = q.external_id !== undefined ? 'external_id' : 'user_id';
      const { rows } = await db.query<{ id: string; external_id: string | null; ordinal: number }>(
        `SELECT id, external_id, ordinal FROM identity_user_profiles WHERE workspace_id = $1 AND ${by === 'external_id' ? 'external_id = $2' : 'id = $2::uuid'}`,
        [key.workspace_id, q[by]],
      );
      const user = rows[0];
      if (!user) throw SegmentErrors.userNotFound(by);
      const members = await evaluator.members(key.workspace_id, segment.filter);
      return { member: members.has(user.ordinal), user_id: user.id, external_id: user.external_id };
    },
  );
}
