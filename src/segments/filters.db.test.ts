import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { ChangeLogPruner } from './change-log.js';
import { SegmentEvaluator } from './evaluator.js';
import type { FilterNode } from './filter.js';
import { referenceMembers } from './reference.js';
import { createCohort, setMembership, writeUsers, type WrittenUser } from './test-support/population.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');
const DAY = 86_400_000;
const day = (daysAgo: number) => new Date(NOW - daysAgo * DAY).toISOString().slice(0, 10);

let t: TestDb;
let ws: string;
let users: WrittenUser[];
let cohortA: string;
let cohortB: string;
let cohortC: string;
let evaluator: SegmentEvaluator;

beforeAll(async () => {
  t = await openTestDb();
  ws = (await ensureWorkspace(t.db, 'segments-filters')).id;
  cohortA = await createCohort(t.db, ws, 'Power users');
  cohortB = await createCohort(t.db, ws, 'Churn risk');
  cohortC = await createCohort(t.db, ws, 'Amplitude movers', 'amplitude');
  users = await writeUsers(t.db, ws, [
    {
      external_id: 'u1',
      email: 'a@x.io',
      custom_attributes: { plan: 'pro', n: 5, tags: ['a', 'b'], signup: { $time: '2024-01-10T00:00:00.000Z' }, bio: 'loves cats' },
      last_session_at: NOW - 1 * DAY,
      alias_labels: ['mixpanel_id'],
      stats: [
        { kind: 'event', name: 'open', day: day(0), count: 2 },
        { kind: 'purchase', name: 'sku1', day: day(3), count: 1 },
      ],
      cohorts: [cohortA, cohortB],
    },
    {
      external_id: 'u2',
      custom_attributes: { plan: 'free', n: 12, tags: ['c', 7] },
      last_session_at: NOW - 10 * DAY,
      stats: [{ kind: 'event', name: 'open', day: day(20), count: 5 }],
      cohorts: [cohortA],
    },
    {
      email: 'c@x.io',
      custom_attributes: { plan: 'pro', n: '5', signup: { $time: '2023-06-01T00:00:00.000Z' } },
      alias_labels: ['crm'],
      stats: [{ kind: 'purchase', name: 'sku2', day: day(0), count: 2 }],
      cohorts: [cohortB],
    },
    { external_id: 'u4' },
    {
      external_id: 'u5',
      custom_attributes: { plan: true, bio: 'dogs' },
      last_session_at: NOW - 3 * DAY,
      stats: [
        { kind: 'event', name: 'open', day: day(6), count: 1 },
        { kind: 'event', name: 'open', day: day(0), count: 1 },
      ],
      cohorts: [cohortA, cohortC],
    },
  ]);
  evaluator = new SegmentEvaluator(t.db);
});
afterAll(() => t.drop());

/** Names of the members: external id, or `anon` for the anonymous user. */
async function who(filter: FilterNode): Promise<string[]> {
  const members = await evaluator.members(ws, filter, NOW);
  const names = users.filter((u) => members.has(u.ordinal)).map((u) => u.external_id ?? 'anon');
  // Every case is also checked against the reference evaluator.
  const reference = referenceMembers(filter, users, NOW);
  expect([...members.from()]).toEqual(reference);
  return names;
}

const attr = (attribute: string, op: string, value?: unknown) => ({ filter: 'custom_attribute', attribute, op, ...(value === undefined ? {} : { value }) }) as FilterNode;

describe(`segment filters on ${TEST_BACKEND}`, () => {
  it('Mixpanel_Cohorts and other partners’ cohort filters: includes / does not include', async () => {
    expect(await who({ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortA })).toEqual(['u1', 'u2', 'u5']);
    expect(await who({ filter: 'Mixpanel_Cohorts', op: 'does_not_include', value: cohortA })).toEqual(['anon', 'u4']);
    expect(await who({ filter: 'Amplitude_Cohorts', op: 'includes', value: cohortC })).toEqual(['u5']);
  });

  it('custom attributes: equals, not equals, exists, does not exist', async () => {
    expect(await who(attr('plan', 'equals', 'pro'))).toEqual(['u1', 'anon']);
    expect(await who(attr('plan', 'equals', true))).toEqual(['u5']);
    expect(await who(attr('n', 'equals', 5))).toEqual(['u1']);
    expect(await who(attr('n', 'equals', '5'))).toEqual(['anon']);
    expect(await who(attr('plan', 'not_equals', 'pro'))).toEqual(['u2', 'u4', 'u5']);
    expect(await who(attr('bio', 'exists'))).toEqual(['u1', 'u5']);
    expect(await who(attr('bio', 'does_not_exist'))).toEqual(['u2', 'anon', 'u4']);
  });

  it('custom attributes: greater / less than for numbers and dates', async () => {
    expect(await who(attr('n', 'greater_than', 5))).toEqual(['u2']);
    expect(await who(attr('n', 'greater_than', 4.5))).toEqual(['u1', 'u2']);
    expect(await who(attr('n', 'less_than', 12))).toEqual(['u1']);
    expect(await who(attr('signup', 'greater_than', '2023-12-31T23:59:59Z'))).toEqual(['u1']);
    expect(await who(attr('signup', 'less_than', '2024-01-10T00:00:00.000Z'))).toEqual(['anon']);
    expect(await who(attr('signup', 'less_than', '2030-01-01'))).toEqual(['u1', 'anon']);
  });

  it('custom attributes: contains (strings and arrays) and in a list', async () => {
    expect(await who(attr('bio', 'contains', 'cat'))).toEqual(['u1']);
    expect(await who(attr('tags', 'contains', 'b'))).toEqual(['u1']);
    expect(await who(attr('tags', 'contains', 7))).toEqual(['u2']);
    expect(await who(attr('plan', 'in', ['free', true, 'gold']))).toEqual(['u2', 'u5']);
    expect(await who(attr('n', 'in', [12, '5']))).toEqual(['u2', 'anon']);
  });

  it('identity: identified or anonymous, has email, has an alias label', async () => {
    expect(await who({ filter: 'identity', op: 'identified' })).toEqual(['u1', 'u2', 'u4', 'u5']);
    expect(await who({ filter: 'identity', op: 'anonymous' })).toEqual(['anon']);
    expect(await who({ filter: 'email', op: 'exists' })).toEqual(['u1', 'anon']);
    expect(await who({ filter: 'email', op: 'does_not_exist' })).toEqual(['u2', 'u4', 'u5']);
    expect(await who({ filter: 'alias_label', op: 'exists', value: 'crm' })).toEqual(['anon']);
    expect(await who({ filter: 'alias_label', op: 'does_not_exist', value: 'mixpanel_id' })).toEqual(['u2', 'anon', 'u4', 'u5']);
  });

  it('behaviour: custom events and purchases at least / at most N times in the last D days', async () => {
    const open = (op: string, count: number, days: number) => ({ filter: 'custom_event', name: 'open', op, count, days }) as FilterNode;
    expect(await who(open('at_least', 2, 1))).toEqual(['u1']);
    expect(await who(open('at_least', 2, 7))).toEqual(['u1', 'u5']);
    expect(await who(open('at_least', 5, 30))).toEqual(['u2']);
    expect(await who(open('at_most', 1, 7))).toEqual(['u2', 'anon', 'u4']);
    expect(await who(open('at_most', 0, 30))).toEqual(['anon', 'u4']);
    expect(await who(open('at_least', 0, 1))).toEqual(['u1', 'u2', 'anon', 'u4', 'u5']);
    expect(await who({ filter: 'purchase', op: 'at_least', count: 1, days: 1 })).toEqual(['anon']);
    expect(await who({ filter: 'purchase', op: 'at_least', count: 1, days: 4 })).toEqual(['u1', 'anon']);
    expect(await who({ filter: 'purchase', product_id: 'sku1', op: 'at_most', count: 0, days: 30 })).toEqual(['u2', 'anon', 'u4', 'u5']);
  });

  it('behaviour: last session more / less than D days ago', async () => {
    expect(await who({ filter: 'last_session', op: 'less_than_days_ago', days: 2 })).toEqual(['u1']);
    expect(await who({ filter: 'last_session', op: 'less_than_days_ago', days: 7 })).toEqual(['u1', 'u5']);
    expect(await who({ filter: 'last_session', op: 'more_than_days_ago', days: 7 })).toEqual(['u2']);
  });

  it('nests and negates groups', async () => {
    const inA = { filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortA } as FilterNode;
    const inB = { filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortB } as FilterNode;
    expect(await who({ and: [inA, { not: inB }, attr('plan', 'exists')] })).toEqual(['u2', 'u5']);
    expect(await who({ or: [{ and: [inA, inB] }, { filter: 'identity', op: 'anonymous' }] })).toEqual(['u1', 'anon']);
    expect(await who({ not: { or: [inA, inB] } })).toEqual(['u4']);
    expect(await who({ not: { not: { and: [inB, attr('plan', 'equals', 'pro')] } } })).toEqual(['u1', 'anon']);
    expect(await who({ and: [{ not: inA }, { not: inB }] })).toEqual(['u4']);
    expect(await who({ and: [] })).toEqual(['u1', 'u2', 'anon', 'u4', 'u5']);
    expect(await who({ or: [] })).toEqual([]);
    expect(await who({ not: { and: [] } })).toEqual([]);
  });

  it('shows attribute, identity, cohort and user changes in the next count, without a rebuild', async () => {
    const proInA = { and: [{ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortA }, attr('plan', 'equals', 'pro')] } as FilterNode;
    expect(await who(proInA)).toEqual(['u1']);
    const [u1, u2, anon] = users;
    await t.db.query(`UPDATE users SET custom_attributes = custom_attributes || '{"plan":"pro"}' WHERE id = $1`, [u2!.id]);
    u2!.custom_attributes = { ...u2!.custom_attributes, plan: 'pro' };
    expect(await who(proInA)).toEqual(['u1', 'u2']);

    await setMembership(t.db, cohortA, [u1!.id], false);
    u1!.cohorts = u1!.cohorts.filter((c) => c !== cohortA);
    expect(await who(proInA)).toEqual(['u2']);

    await t.db.query(`UPDATE users SET external_id = 'u3' WHERE id = $1`, [anon!.id]);
    anon!.external_id = 'u3';
    expect(await who({ filter: 'identity', op: 'anonymous' })).toEqual([]);

    const [added] = await writeUsers(t.db, ws, [{ external_id: 'u6', custom_attributes: { plan: 'pro' }, cohorts: [cohortA] }]);
    users.push(added!);
    expect(await who(proInA)).toEqual(['u2', 'u6']);

    await t.db.query('DELETE FROM users WHERE id = $1', [u2!.id]);
    users.splice(users.indexOf(u2!), 1);
    expect(await who(proInA)).toEqual(['u6']);
    expect(await evaluator.count(ws, { and: [] }, NOW)).toBe(users.length);
  });

  it('evicts under its memory budget without losing an answer, with several workspaces in flight', async () => {
    const other = (await ensureWorkspace(t.db, 'segments-filters-2')).id;
    const otherCohort = await createCohort(t.db, other, 'Other');
    const otherUsers = await writeUsers(t.db, other, [
      { external_id: 'o1', custom_attributes: { plan: 'pro' }, cohorts: [otherCohort] },
      { external_id: 'o2', custom_attributes: { plan: 'free' }, alias_labels: ['crm'] },
    ]);
    const starved = new SegmentEvaluator(t.db, { cacheBytes: 1 });
    const filters: Array<[string, WrittenUser[], FilterNode]> = [
      [ws, users, { and: [{ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortA }, attr('plan', 'exists')] }],
      [other, otherUsers, { or: [{ filter: 'Mixpanel_Cohorts', op: 'includes', value: otherCohort }, { filter: 'alias_label', op: 'exists', value: 'crm' }] }],
      [ws, users, { not: attr('plan', 'equals', 'pro') }],
      [other, otherUsers, attr('plan', 'equals', 'free')],
    ];
    const runs = Array.from({ length: 24 }, (_, i) => filters[i % filters.length]!);
    const answers = await Promise.all(runs.map(([w, , f]) => starved.members(w, f, NOW)));
    answers.forEach((members, i) => expect([...members.from()]).toEqual(referenceMembers(runs[i]![2], runs[i]![1], NOW)));
  });

  it('reloads when the change log was pruned past its snapshot', async () => {
    const pro = attr('plan', 'equals', 'pro');
    expect(await who(pro)).toEqual(['u1', 'u3', 'u6']);
    const u4 = users.find((u) => u.external_id === 'u4')!;
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"pro"}' WHERE id = $1`, [u4.id]);
    u4.custom_attributes = { plan: 'pro' };
    // The cut is the oldest transaction running on the whole server; others' may hold it back a while.
    const pruner = new ChangeLogPruner(t.db, { retentionMs: 0 });
    const logged = async () => (await t.db.query('SELECT 1 FROM segment_user_changes WHERE ordinal = $1', [u4.ordinal])).rows.length;
    for (let i = 0; (await logged()) && i < 100; i++) {
      await pruner.pruneOnce();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await logged()).toBe(0);
    expect(await who(pro)).toEqual(['u1', 'u3', 'u4', 'u6']);
  });
});
