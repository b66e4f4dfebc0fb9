/**
 * Saved segments in the database, and the check that a filter's cohorts exist. Segment names are
 * unique per workspace (a clash is a 409 naming `name`).
 */
import { randomUUID } from 'node:crypto';
import { listCohorts } from '../cohorts/index.js';
import { queryPage, type Page, type PageRequest } from '../storage/index.js';
import { isUniqueViolation, type Queryable } from '../storage/index.js';
import { SegmentErrors } from './errors.js';
import { cohortFilters, type CohortFilterNames, type FilterNode } from './filter.js';
import type { Problem, SegmentInput } from './validate.js';

export interface Segment {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  filter: FilterNode;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, workspace_id, name, description, filter, created_at, updated_at';

async function uniqueName<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw SegmentErrors.nameTaken(name);
    throw err;
  }
}

export async function createSegment(db: Queryable, workspaceId: string, input: SegmentInput): Promise<Segment> {
  return uniqueName(input.name, async () => {
    const { rows } = await db.query<Segment>(
      `INSERT INTO segments (id, workspace_id, name, description, filter) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING ${COLUMNS}`,
      [randomUUID(), workspaceId, input.name, input.description, JSON.stringify(input.filter)],
    );
    return rows[0]!;
  });
}

export async function updateSegment(db: Queryable, workspaceId: string, id: string, input: SegmentInput): Promise<Segment | undefined> {
  return uniqueName(input.name, async () => {
    const { rows } = await db.query<Segment>(
      `UPDATE segments SET name = $3, description = $4, filter = $5::jsonb, updated_at = now()
        WHERE workspace_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [workspaceId, id, input.name, input.description, JSON.stringify(input.filter)],
    );
    return rows[0];
  });
}

export async function getSegment(db: Queryable, workspaceId: string, id: string): Promise<Segment | undefined> {
  const { rows } = await db.query<Segment>(`SELECT ${COLUMNS} FROM segments WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0];
}

export async function listSegments(db: Queryable, workspaceId: string): Promise<Segment[]> {
  const { rows } = await db.query<Segment>(`SELECT ${COLUMNS} FROM segments WHERE workspace_id = $1 ORDER BY name, id`, [workspaceId]);
  return rows;
}

/** A page of the workspace's segments by name (GET /admin/segments). */
export function listSegmentsPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<Segment>> {
  return queryPage<Segment>(db, `SELECT ${COLUMNS} FROM segments WHERE workspace_id = $1`, [workspaceId], [{ expr: 'name' }, { expr: 'id' }], page, (r) => [r.name, r.id]);
}

export async function deleteSegment(db: Queryable, workspaceId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM segments WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return rowCount === 1;
}

/** A problem for every cohort filter whose cohort is not one of this workspace's cohorts of that partner. */
export async function cohortProblems(db: Queryable, workspaceId: string, filter: FilterNode, partners: CohortFilterNames): Promise<Problem[]> {
  const refs = cohortFilters(filter);
  if (!refs.length) return [];
  const found = new Map((await listCohorts(db, workspaceId)).map((c) => [c.id, c]));
  return refs.flatMap(({ path: at, filter: f }) => {
    const partner = partners.get(f.filter);
    return found.get(f.value)?.partner === partner ? [] : [{ path: `${at}.value`, type: `${at}.value names no ${partner} cohort of this workspace` }];
  });
}
