/**
 * The SQL of segment evaluation, as pure functions from atoms to text and parameters. One dialect
 * for PGlite and PostgreSQL; nothing here can raise an error on odd stored data (JSON values are
 * compared as jsonb, never cast), so a filter over any attribute answers, never fails.
 *
 * Ordinals travel packed: `string_agg` of 4-byte big-endian words (ordinal − 2³¹, so the whole
 * unsigned 32-bit range fits an int4) in one bytea, which is about twice as fast as one row per
 * member at millions of members.
 */
import type { LiveAtom, ProfileAtom } from './plan.js';
import { windowStartDay } from './filter.js';

export interface Query {
  sql: string;
  params: unknown[];
}

const pack = (column: string) => `string_agg(int4send((${column} - 2147483648)::int4), ''::bytea)`;

/** Decodes a packed bytea (Buffer from pg, Uint8Array from PGlite) into ordinals. */
export function unpackOrdinals(packed: Uint8Array | null | undefined): Uint32Array {
  if (!packed || !packed.length) return new Uint32Array(0);
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out = new Uint32Array(packed.byteLength >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = (view.getInt32(i * 4) + 2147483648) >>> 0;
  return out;
}

/** A WHERE fragment over `identity_user_profiles u` (migration 020) true exactly for the atom's members; pushes its parameters. */
export function profilePredicate(atom: ProfileAtom, params: unknown[]): string {
  const p = (v: unknown) => `$${params.push(v)}`;
  if (atom.kind === 'everyone') return 'true';
  if (atom.kind === 'identified') return 'u.external_id IS NOT NULL';
  if (atom.kind === 'has_email') return 'u.email IS NOT NULL';
  const attr = `(u.custom_attributes -> ${p(atom.attribute)}::text)`;
  switch (atom.kind) {
    case 'attribute_exists':
      return `${attr} IS NOT NULL`;
    case 'attribute_equals':
      return `${attr} = ${p(JSON.stringify(atom.value))}::jsonb`;
    case 'attribute_in':
      return `${attr} IN (SELECT jsonb_array_elements(${p(JSON.stringify(atom.values))}::jsonb))`;
    case 'attribute_above':
    case 'attribute_below': {
      const cmp = atom.kind === 'attribute_above' ? '>' : '<';
      if (typeof atom.value === 'number') return `(jsonb_typeof(${attr}) = 'number' AND ${attr} ${cmp} ${p(JSON.stringify(atom.value))}::jsonb)`;
      const time = `(${attr} -> '$time')`;
      return `(jsonb_typeof(${time}) = 'string' AND (${time} #>> '{}') COLLATE "C" ${cmp} ${p(atom.value)}::text COLLATE "C")`;
    }
    case 'attribute_contains': {
      const inArray = `(jsonb_typeof(${attr}) = 'array' AND ${attr} @> ${p(JSON.stringify([atom.value]))}::jsonb)`;
      if (typeof atom.value === 'number') return inArray;
      return `((jsonb_typeof(${attr}) = 'string' AND strpos(${attr} #>> '{}', ${p(atom.value)}::text) > 0) OR ${inArray})`;
    }
  }
}

/**
 * One scan of the workspace's users that packs the members of each profile atom, optionally only
 * among the given ordinals (the users changed since the cache's snapshot). Column `a<i>` belongs
 * to `atoms[i]`.
 */
export function profileScan(workspaceId: string, atoms: ProfileAtom[], among?: Uint32Array): Query {
  const params: unknown[] = [workspaceId];
  const columns = atoms.map((a, i) => `${pack('u.ordinal')} FILTER (WHERE ${profilePredicate(a, params)}) AS a${i}`);
  const restrict = among ? ` AND u.ordinal = ANY($${params.push(Array.from(among))}::int8[])` : '';
  return { sql: `SELECT ${columns.join(', ')} FROM identity_user_profiles u WHERE u.workspace_id = $1${restrict}`, params };
}

/** The members of a live atom at `nowMs`, packed in column `packed`. */
export function liveQuery(workspaceId: string, atom: LiveAtom, nowMs: number): Query {
  const wrap = (inner: string, params: unknown[]): Query => ({ sql: `SELECT ${pack('q.ordinal')} AS packed FROM (${inner}) q`, params });
  switch (atom.kind) {
    case 'has_alias_label':
      return wrap(
        `SELECT ordinal FROM identity_alias_labels WHERE workspace_id = $1 AND alias_label = $2`,
        [workspaceId, atom.label],
      );
    case 'performed': {
      const params: unknown[] = [workspaceId, atom.event, windowStartDay(nowMs, atom.days), atom.atLeast];
      const name = atom.name === null ? '' : ` AND s.name = $${params.push(atom.name)}`;
      return wrap(
        `SELECT s.ordinal FROM identity_event_days s
          WHERE s.workspace_id = $1 AND s.kind = $2${name} AND s.day >= $3::date
          GROUP BY s.ordinal HAVING sum(s.count) >= $4`,
        params,
      );
    }
    case 'last_session_before':
    case 'last_session_after': {
      const bound = new Date(nowMs - atom.days * 86_400_000).toISOString();
      const cmp = atom.kind === 'last_session_before' ? '<' : '>';
      return wrap(`SELECT ordinal FROM identity_user_profiles WHERE workspace_id = $1 AND last_session_at ${cmp} $2::timestamptz`, [workspaceId, bound]);
    }
  }
}

/** The current members of each cohort that has any: one row per cohort, `cohort_id` and `packed`. */
export function cohortMembersQuery(cohortIds: string[]): Query {
  return {
    sql: `SELECT m.cohort_id, ${pack('u.ordinal')} AS packed FROM cohort_members m JOIN identity_user_profiles u ON u.id = m.user_id
           WHERE m.cohort_id = ANY($1::uuid[]) GROUP BY m.cohort_id`,
    params: [cohortIds],
  };
}
