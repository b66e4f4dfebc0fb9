/**
 * The segment admin API's contract: the shapes `/admin/segments…` answers with. Fastify
 * serializes responses from these schemas and the dashboard reads them as `Static<typeof …>`.
 * Request bodies are checked by `validate.ts` (one 400 listing every problem of a filter tree), so
 * the filter tree is open here. Imports TypeBox and the shared HTTP contract only.
 */
import { Type, type Static } from 'typebox';
import { NextCursor, NoContent, Nullable, Timestamp } from '../http/contract.js';

/** A filter tree: `{"and"|"or": [...]}`, `{"not": {...}}` or a filter; GET /admin/segments/filters lists them. */
export const FilterTree = Type.Unknown({ description: 'filter tree: {"and": [...]}, {"or": [...]}, {"not": {...}} or {"filter": kind, "op": operator, ...operands}' });

export const Segment = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  filter: FilterTree,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Segment = Static<typeof Segment>;
export const SegmentPage = Type.Object({ segments: Type.Array(Segment), next_cursor: NextCursor });

export const CatalogueEntry = Type.Object({
  filter: Type.String(),
  category: Type.Union([Type.Literal('cohorts'), Type.Literal('attributes'), Type.Literal('identity'), Type.Literal('behaviour')]),
  description: Type.String(),
  operators: Type.Array(Type.String()),
  fields: Type.Record(Type.String(), Type.String(), { description: 'operand fields besides filter and op, with what each takes' }),
  partner: Type.Optional(Type.String()),
  cohorts: Type.Optional(Type.Array(Type.Object({ id: Type.String(), name: Type.String(), partner_cohort_id: Type.String(), member_count: Type.Integer() }))),
});
export type CatalogueEntry = Static<typeof CatalogueEntry>;
export const FilterCatalogue = Type.Object({ groups: Type.Array(Type.String()), filters: Type.Array(CatalogueEntry) });

export const SegmentCount = Type.Object({ count: Type.Integer() });
export const Member = Type.Object({ user_id: Type.String(), external_id: Nullable(Type.String()) });
export const MemberPage = Type.Object({ count: Type.Integer(), members: Type.Array(Member), next_cursor: NextCursor });
export const Membership = Type.Object({ member: Type.Boolean(), user_id: Type.String(), external_id: Nullable(Type.String()) });
/** The export is a stream (NDJSON lines of Member with aliases and device ids, or CSV), not one JSON value. */
export const MemberExport = Type.String({ description: 'NDJSON (application/x-ndjson) or CSV (text/csv): user_id, external_id, aliases, device_ids per member' });

export { NoContent };
