/**
 * Random filter trees over random populations: the bitmap evaluator's count, the paged member
 * list and the in-memory reference evaluator agree — first on a fresh cache, then again after
 * random changes (attributes, identity, new and deleted users, cohort membership) so that the
 * incremental refresh from the change log is checked too — and by a second evaluator that starts
 * after the changes from the bitmaps the first one saved (restored, then patched from the log).
 * Reproduce a failure: SEGMENT_PROPERTY_SEED=<seed> npx vitest run src/segments/property.db.test.ts
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { SegmentEvaluator } from './evaluator.js';
import { membersByOrdinal } from './export.js';
import type { FilterNode } from './filter.js';
import { referenceMembers, type PopulationUser } from './reference.js';
import { createCohort, setMembership, writeUsers, type UserSpec, type WrittenUser } from './test-support/population.js';
import { checkFilter } from './validate.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');
const HOUR = 3_600_000;
const KEYS = ['plan', 'n', 'tags', 'signup', 'missing'] as const;
const LABELS = ['mixpanel_id', 'crm'];
const NAMES = ['open', 'buy', 'sku1'];
const DATES = ['2024-01-01T00:00:00.000Z', '2024-06-30T12:00:00.000Z', '2025-02-28T23:59:59.999Z'];
const STRINGS = ['pro', 'Pro', 'a b', '5', '', 'ü'];
const NUMBERS = [0, 1, 5, -2.5, 12, 1e21, 0.30000000000000004];

const scalar = fc.oneof(
  { arbitrary: fc.constantFrom(...STRINGS), weight: 3 },
  { arbitrary: fc.constantFrom(...NUMBERS), weight: 2 },
  { arbitrary: fc.boolean(), weight: 1 },
);
const storedValue = fc.oneof(
  { arbitrary: scalar, weight: 4 },
  { arbitrary: fc.array(fc.oneof(fc.constantFrom('a', 'b', 'pro'), fc.constantFrom(1, 5, 7)), { maxLength: 4 }), weight: 2 },
  { arbitrary: fc.constantFrom(...DATES).map(($time) => ({ $time })), weight: 2 },
  { arbitrary: fc.constant({ nested: { plan: 'pro' } }), weight: 1 },
);
const attributes = fc.record({ plan: storedValue, n: storedValue, tags: storedValue, signup: storedValue }, { requiredKeys: [] });

const userSpec = fc.record({
  identified: fc.boolean(),
  email: fc.option(fc.constant('someone@example.com'), { nil: null }),
  custom_attributes: attributes,
  last_session_at: fc.option(
    fc.integer({ min: 0, max: 24 * 12 }).map((h) => NOW - h * HOUR - HOUR / 2),
    { nil: null },
  ),
  alias_labels: fc.subarray(LABELS),
  stats: fc.array(
    fc.record({
      kind: fc.constantFrom('event' as const, 'purchase' as const),
      name: fc.constantFrom(...NAMES),
      day: fc.integer({ min: 0, max: 7 }).map((d) => new Date(NOW - d * 24 * HOUR).toISOString().slice(0, 10)),
      count: fc.integer({ min: 1, max: 4 }),
    }),
    { maxLength: 4 },
  ),
  cohorts: fc.subarray([0, 1, 2]),
});

/** Cohort filters carry the cohort's index until `bind` swaps in the run's cohort ids. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ filter: fc.constant('Mixpanel_Cohorts'), op: fc.constantFrom('includes', 'does_not_include'), value: fc.constantFrom('#0', '#1', '#2') }),
  fc.record({ filter: fc.constant('custom_attribute'), attribute: fc.constantFrom(...KEYS), op: fc.constantFrom('exists', 'does_not_exist') }),
  fc.record({ filter: fc.constant('custom_attribute'), attribute: fc.constantFrom(...KEYS), op: fc.constantFrom('equals', 'not_equals'), value: scalar }),
  fc.record({
    filter: fc.constant('custom_attribute'),
    attribute: fc.constantFrom(...KEYS),
    op: fc.constantFrom('greater_than', 'less_than'),
    value: fc.oneof(fc.constantFrom(...NUMBERS), fc.constantFrom(...DATES, '2024-06-30')),
  }),
  fc.record({
    filter: fc.constant('custom_attribute'),
    attribute: fc.constantFrom(...KEYS),
    op: fc.constant('contains'),
    value: fc.oneof(fc.constantFrom('a', 'r', 'pro', 'b'), fc.constantFrom(1, 5, 7)),
  }),
  fc.record({ filter: fc.constant('custom_attribute'), attribute: fc.constantFrom(...KEYS), op: fc.constant('in'), value: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
  fc.record({ filter: fc.constant('identity'), op: fc.constantFrom('identified', 'anonymous') }),
  fc.record({ filter: fc.constant('email'), op: fc.constantFrom('exists', 'does_not_exist') }),
  fc.record({ filter: fc.constant('alias_label'), op: fc.constantFrom('exists', 'does_not_exist'), value: fc.constantFrom(...LABELS, 'other') }),
  fc.record({
    filter: fc.constant('custom_event'),
    name: fc.constantFrom(...NAMES),
    op: fc.constantFrom('at_least', 'at_most'),
    count: fc.integer({ min: 0, max: 6 }),
    days: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record(
    {
      filter: fc.constant('purchase'),
      product_id: fc.constantFrom(...NAMES),
      op: fc.constantFrom('at_least', 'at_most'),
      count: fc.integer({ min: 0, max: 6 }),
      days: fc.integer({ min: 1, max: 8 }),
    },
    { requiredKeys: ['filter', 'op', 'count', 'days'] },
  ),
  fc.record({ filter: fc.constant('last_session'), op: fc.constantFrom('more_than_days_ago', 'less_than_days_ago'), days: fc.integer({ min: 1, max: 10 }) }),
);

const tree = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ and: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ or: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ not: tie('node') }),
  ),
})).node;

type GeneratedUser = typeof userSpec extends fc.Arbitrary<infer T> ? T : never;

type Mutation =
  | { kind: 'set'; user: number; key: string; value: unknown }
  | { kind: 'unset'; user: number; key: string }
  | { kind: 'identify'; user: number }
  | { kind: 'delete'; user: number }
  | { kind: 'add'; spec: GeneratedUser }
  | { kind: 'membership'; user: number; cohort: number; member: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), user: fc.nat(), key: fc.constantFrom(...KEYS), value: storedValue }),
  fc.record({ kind: fc.constant('unset' as const), user: fc.nat(), key: fc.constantFrom(...KEYS) }),
  fc.record({ kind: fc.constant('identify' as const), user: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), user: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), spec: userSpec }),
  fc.record({ kind: fc.constant('membership' as const), user: fc.nat(), cohort: fc.integer({ min: 0, max: 2 }), member: fc.boolean() }),
);

function bind(node: unknown, cohortIds: string[]): unknown {
  if (Array.isArray(node)) return node.map((n) => bind(n, cohortIds));
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Record<string, unknown>;
  if (o.filter === 'Mixpanel_Cohorts') return { ...o, value: cohortIds[Number(String(o.value).slice(1))] };
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, bind(v, cohortIds)]));
}

let t: TestDb;
let evaluator: SegmentEvaluator;
beforeAll(async () => {
  t = await openTestDb();
  evaluator = new SegmentEvaluator(t.db);
});
afterAll(() => t.drop());

let run = 0;
function toSpec(s: GeneratedUser, cohortIds: string[]): UserSpec {
  const { identified, cohorts, ...rest } = s;
  return { ...rest, external_id: identified ? `e${++run}` : null, cohorts: cohorts.map((i) => cohortIds[i]!) };
}

async function mutate(users: WrittenUser[], m: Mutation, workspaceId: string, cohortIds: string[]): Promise<void> {
  if (m.kind === 'add') {
    users.push(...(await writeUsers(t.db, workspaceId, [toSpec(m.spec, cohortIds)])));
    return;
  }
  const u = users[m.user % Math.max(1, users.length)];
  if (!u) return;
  switch (m.kind) {
    case 'set':
    case 'unset': {
      const next = { ...u.custom_attributes };
      if (m.kind === 'set') next[m.key] = m.value;
      else delete next[m.key];
      await t.db.query('UPDATE users SET custom_attributes = $2::jsonb, updated_at = now() WHERE id = $1', [u.id, JSON.stringify(next)]);
      u.custom_attributes = next;
      return;
    }
    case 'identify':
      u.external_id ??= `e${++run}`;
      await t.db.query('UPDATE users SET external_id = $2 WHERE id = $1', [u.id, u.external_id]);
      return;
    case 'delete':
      await t.db.query('DELETE FROM users WHERE id = $1', [u.id]);
      users.splice(users.indexOf(u), 1);
      return;
    case 'membership': {
      const cohort = cohortIds[m.cohort]!;
      await setMembership(t.db, cohort, [u.id], m.member);
      u.cohorts = m.member ? [...new Set([...u.cohorts, cohort])] : u.cohorts.filter((c) => c !== cohort);
    }
  }
}

/** The member list as the API pages it: small pages, following the cursor to the end. */
async function pagedMemberIds(evaluator: SegmentEvaluator, workspaceId: string, filter: FilterNode): Promise<string[]> {
  const members = await evaluator.members(workspaceId, filter, NOW);
  const ids: string[] = [];
  for (let cursor = -1; ; ) {
    const page = members.page(cursor, 7);
    if (!page.length) break;
    ids.push(...(await membersByOrdinal(t.db, workspaceId, page)).map((m) => m.user_id));
    cursor = page.at(-1)!;
  }
  return ids;
}

async function agree(workspaceId: string, filters: FilterNode[], users: readonly WrittenUser[], evaluated = evaluator): Promise<void> {
  const idOf = new Map(users.map((u: PopulationUser & { id: string }) => [u.ordinal, u.id]));
  for (const filter of filters) {
    const expected = referenceMembers(filter, users, NOW).map((o) => idOf.get(o));
    const count = await evaluated.count(workspaceId, filter, NOW);
    const listed = await pagedMemberIds(evaluated, workspaceId, filter);
    expect({ filter, count, listed }).toEqual({ filter, count: expected.length, listed: expected });
  }
}

describe(`segment evaluation against the reference on ${TEST_BACKEND}`, () => {
  it('count = member list = reference, before and after random changes', async () => {
    const seed = process.env.SEGMENT_PROPERTY_SEED ? Number(process.env.SEGMENT_PROPERTY_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(
        fc.array(userSpec, { minLength: 3, maxLength: 25 }),
        fc.array(fc.oneof(leaf, tree), { minLength: 1, maxLength: 8 }),
        fc.array(mutation, { maxLength: 6 }),
        async (specs, rawFilters, mutations) => {
          const workspaceId = (await ensureWorkspace(t.db, `prop-${randomUUID()}`)).id;
          const cohortIds = [await createCohort(t.db, workspaceId, 'A'), await createCohort(t.db, workspaceId, 'B'), await createCohort(t.db, workspaceId, 'C')];
          const users = await writeUsers(
            t.db,
            workspaceId,
            specs.map((s) => toSpec(s, cohortIds)),
          );
          const filters = rawFilters.map((raw) => {
            const checked = checkFilter(bind(raw, cohortIds));
            if (!checked.ok) throw new Error(`generated an invalid filter: ${JSON.stringify(checked.problems)}`);
            return checked.value;
          });
          await agree(workspaceId, filters, users);
          await evaluator.saveOnce(workspaceId);
          for (const m of mutations) await mutate(users, m, workspaceId, cohortIds);
          await agree(workspaceId, filters, users, new SegmentEvaluator(t.db));
          await agree(workspaceId, filters, users);
        },
      ),
      { numRuns: 100, ...(seed === undefined ? {} : { seed }) },
    );
  }, 240_000);
});
