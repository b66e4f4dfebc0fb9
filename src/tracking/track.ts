/**
 * `POST /users/track` (docs/reference/rest-api.md §2): validate every item, then apply all valid ones in one
 * transaction — attributes, events, purchases, in index order — together with their event-log
 * entries. Items that fail are reported by index and the rest still apply. Concurrent requests
 * share a transaction (group commit) without changing what any of them sees or answers.
 */
import { ApiError, Errors, type ErrorEntry } from '../http/index.js';
import { findUnstorableString, unstorableType } from '../http/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import { recordEventStats, type StatOccurrence } from '../identity/index.js';
import { identityKey, lockIdentityKeys } from '../identity/index.js';
import { deleteUsers } from '../identity/index.js';
import { findUserRefs } from '../identity/index.js';
import { createUsers, insertAlias, saveProfiles, usersByAliases, usersByIds } from '../identity/index.js';
import { identifierKey, type Identifier, type UserRef } from '../identity/index.js';
import { GroupCommitter, type GroupCommitOptions, type GroupCommitStats } from '../storage/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { applyAttributes } from './apply-attributes.js';
import { customEvent, purchaseEvents, subscriptionStateChange } from './core-events.js';
import { isPlainObject } from './json-shape.js';
import {
  checkAttributes,
  checkEvent,
  checkPurchase,
  MAX_ITEMS_PER_ARRAY,
  type AttributesItem,
  type Checked,
  type EventItem,
  type PurchaseItem,
  type Target,
} from './validate.js';

const ARRAYS = ['attributes', 'events', 'purchases'] as const;
type ArrayName = (typeof ARRAYS)[number];

export interface TrackResponse {
  message: 'success';
  attributes_processed?: number;
  events_processed?: number;
  purchases_processed?: number;
  errors?: ErrorEntry[];
}

interface Indexed<T> {
  index: number;
  item: T;
}

interface ValidBatch {
  attributes: Indexed<AttributesItem>[];
  events: Indexed<EventItem>[];
  purchases: Indexed<PurchaseItem>[];
}

export interface TrackOptions {
  maxArrayAttributeValues: number;
  nowMs?: number;
}

/** Fatal checks of the body's shape (nothing applied when they fail). */
function checkBody(body: unknown): Record<ArrayName, unknown[] | undefined> {
  if (!isPlainObject(body)) throw Errors.invalidJson('the body must be a JSON object');
  const arrays = {} as Record<ArrayName, unknown[] | undefined>;
  for (const name of ARRAYS) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw Errors.badRequest(`${name} must be an array`, name);
    if (v.length > MAX_ITEMS_PER_ARRAY) {
      throw new ApiError(400, 'Max Input Length Exceeded', [
        { type: `${name} holds ${v.length} objects; at most ${MAX_ITEMS_PER_ARRAY} are allowed`, path: name },
      ]);
    }
    arrays[name] = v;
  }
  if (!ARRAYS.some((n) => arrays[n]?.length)) {
    throw Errors.badRequest('Request must contain attributes, events or purchases');
  }
  return arrays;
}

export interface TrackJob {
  workspaceId: string;
  valid: ValidBatch;
  nowMs: number;
}

/** A validated request: its fatal checks passed, its invalid items are listed, its valid ones wait to be applied. */
export interface PreparedTrack {
  arrays: Record<ArrayName, unknown[] | undefined>;
  errors: ErrorEntry[];
  /** Absent when no item is valid. */
  job?: TrackJob;
}

/** Checks a body and every item in it (pure). Throws the fatal errors; collects the per-item ones. */
export function prepareTrack(workspaceId: string, body: unknown, opts: TrackOptions): PreparedTrack {
  const arrays = checkBody(body);
  const nowMs = opts.nowMs ?? Date.now();
  const errors: ErrorEntry[] = [];
  const valid: ValidBatch = { attributes: [], events: [], purchases: [] };
  const collect = <T>(name: ArrayName, list: Indexed<T>[], check: (raw: unknown) => Checked<T>) => {
    arrays[name]?.forEach((raw, index) => {
      const unstorable = findUnstorableString(raw);
      if (unstorable !== undefined) return errors.push({ type: unstorableType(unstorable), input_array: name, index });
      const r = check(raw);
      if (r.ok) list.push({ index, item: r.value });
      else errors.push({ type: r.error, input_array: name, index });
    });
  };
  collect('attributes', valid.attributes, (r) => checkAttributes(r, opts.maxArrayAttributeValues));
  collect('events', valid.events, (r) => checkEvent(r, nowMs));
  collect('purchases', valid.purchases, (r) => checkPurchase(r, nowMs));
  const any = valid.attributes.length + valid.events.length + valid.purchases.length > 0;
  return any ? { arrays, errors, job: { workspaceId, valid, nowMs } } : { arrays, errors };
}

/** The response for a prepared request once its valid items were applied (or none were). */
export function trackResponse(prepared: PreparedTrack, applied: Applied | undefined): TrackResponse {
  const { arrays } = prepared;
  const errors = [...prepared.errors, ...(applied?.errors ?? [])];
  const processed = applied?.processed ?? { attributes: 0, events: 0, purchases: 0 };
  const counted = ARRAYS.filter((n) => arrays[n] !== undefined);
  if (counted.every((n) => processed[n] === 0)) throw Errors.allFailed(sortErrors(errors));

  const response: TrackResponse = { message: 'success' };
  for (const n of counted) response[`${n}_processed`] = processed[n];
  if (errors.length) response.errors = sortErrors(errors);
  return response;
}

/** How much of a group a job takes: its items (a group is capped so its statements stay moderate). */
export function trackJobWeight(job: TrackJob): number {
  return job.valid.attributes.length + job.valid.events.length + job.valid.purchases.length;
}

/** The group-commit settings of `/users/track` from the configured limits (docs/reference/operations.md#limits). */
export function trackGroupOptions(
  dbKind: string,
  limits: { trackGroupsInFlight?: number | undefined; trackGroupMaxItems: number; trackGroupLingerMs: number; trackGroupLingerItems?: number | undefined },
): GroupCommitOptions {
  return {
    maxInFlight: limits.trackGroupsInFlight ?? (dbKind === 'pglite' ? 1 : 2),
    maxGroupWeight: limits.trackGroupMaxItems,
    lingerMs: limits.trackGroupLingerMs,
    ...(limits.trackGroupLingerItems !== undefined ? { lingerWeight: limits.trackGroupLingerItems } : {}),
  };
}

export interface Tracker {
  track(workspaceId: string, body: unknown): Promise<TrackResponse>;
  readonly stats: GroupCommitStats;
}

/**
 * `/users/track` with group commit: concurrent requests of one workspace are applied together, in
 * arrival order, in one transaction (see storage/group-commit.ts); each still gets its own answer.
 */
export function createTracker(db: Db, opts: TrackOptions & { group: GroupCommitOptions }): Tracker {
  const committer = new GroupCommitter<TrackJob, Applied>(
    db,
    (tx, jobs) => applyTrackJobs(tx, jobs, opts),
    trackJobWeight,
    opts.group,
  );
  return {
    stats: committer.stats,
    async track(workspaceId, body) {
      const prepared = prepareTrack(workspaceId, body, opts);
      const applied = prepared.job ? await committer.submit(workspaceId, prepared.job) : undefined;
      return trackResponse(prepared, applied);
    },
  };
}

function sortErrors(errors: ErrorEntry[]): ErrorEntry[] {
  const order = (e: ErrorEntry) => ARRAYS.indexOf(e.input_array as ArrayName) * 1000 + Number(e.index);
  return errors.sort((a, b) => order(a) - order(b));
}

export interface Applied {
  processed: Record<ArrayName, number>;
  errors: ErrorEntry[];
}

/** §2.4: may this item create its user when none exists? */
function mayCreate(t: Target): boolean {
  switch (t.identifier.kind) {
    case 'external_id':
    case 'email':
      return t.updateExistingOnly !== true;
    case 'user_alias':
      return t.updateExistingOnly === false;
    case 'braze_id':
      return false;
  }
}

/**
 * Applies the valid items of several requests of one workspace, in request order and within each
 * in Braze's order (attributes, events, purchases), exactly as if they ran one after another: a
 * user created by an earlier item is seen by later ones, attribute changes stack, and the log
 * receives the events in that order. One statement per kind of write for the whole group.
 */
export async function applyTrackJobs(tx: Queryable, jobs: TrackJob[], opts: TrackOptions): Promise<Applied[]> {
  const workspaceId = jobs[0]!.workspaceId;
  if (jobs.some((j) => j.workspaceId !== workspaceId)) throw new Error('a track group holds one workspace');
  type Ordered = { array: ArrayName } & Indexed<Target>;
  const orderedOf = (b: ValidBatch): Ordered[] => [
    ...b.attributes.map((x) => ({ array: 'attributes' as const, index: x.index, item: x.item })),
    ...b.events.map((x) => ({ array: 'events' as const, index: x.index, item: x.item })),
    ...b.purchases.map((x) => ({ array: 'purchases' as const, index: x.index, item: x.item })),
  ];
  const ordered = jobs.map((j) => orderedOf(j.valid));
  const users: Map<string, UserRef> = await findUserRefs(tx, workspaceId, ordered.flat().map((o) => o.item.identifier));

  // One pass in order decides which items create their user; a user created by an earlier item is
  // visible to later ones, so creation is planned here and executed in one batch below.
  const toCreate = new Map<string, Identifier>();
  const accepted = new Set<Target>();
  const results: Applied[] = jobs.map(() => ({ processed: { attributes: 0, events: 0, purchases: 0 }, errors: [] }));
  ordered.forEach((items, j) => {
    for (const o of items) {
      const key = identifierKey(o.item.identifier);
      if (users.has(key) || toCreate.has(key)) accepted.add(o.item);
      else if (mayCreate(o.item)) {
        toCreate.set(key, o.item.identifier);
        accepted.add(o.item);
      } else results[j]!.errors.push({ type: 'user not found', input_array: o.array, index: o.index });
    }
  });
  await createMissingUsers(tx, workspaceId, toCreate, users);
  const userOf = (t: Target): UserRef => users.get(identifierKey(t.identifier))!;

  // Attributes: lock the profiles they touch (in id order, FOR NO KEY UPDATE: a profile change
  // leaves the keys alone, so cohort writers holding FOR KEY SHARE are not blocked), apply in
  // memory, write back once.
  const eventsOf: LogEvent[][] = jobs.map(() => []);
  const attrIds = new Set<string>();
  for (const j of jobs) for (const x of j.valid.attributes) if (accepted.has(x.item)) attrIds.add(userOf(x.item).id);
  if (attrIds.size) {
    const fresh = new Map((await usersByIds(tx, workspaceId, [...attrIds], 'no key update')).map((u) => [u.id, u]));
    for (const [key, u] of users) if (fresh.has(u.id)) users.set(key, fresh.get(u.id)!);
    jobs.forEach((job, j) => {
      for (const { item } of job.valid.attributes) {
        if (!accepted.has(item)) continue;
        const user = fresh.get(userOf(item).id)!;
        for (const change of applyAttributes(user, item, opts.maxArrayAttributeValues)) {
          eventsOf[j]!.push(subscriptionStateChange(user, change, workspaceId, job.nowMs));
        }
        results[j]!.processed.attributes++;
      }
    });
    await saveProfiles(tx, [...fresh.values()]);
  }

  const stats: StatOccurrence[] = [];
  jobs.forEach((job, j) => {
    for (const x of job.valid.events) {
      if (!accepted.has(x.item)) continue;
      const user = userOf(x.item);
      eventsOf[j]!.push(customEvent(user, x.item, workspaceId));
      stats.push({ userId: user.id, kind: 'event', name: x.item.name, timeMs: x.item.timeMs, count: 1 });
      results[j]!.processed.events++;
    }
    for (const x of job.valid.purchases) {
      if (!accepted.has(x.item)) continue;
      const user = userOf(x.item);
      eventsOf[j]!.push(...purchaseEvents(user, x.item, workspaceId));
      stats.push({ userId: user.id, kind: 'purchase', name: x.item.productId, timeMs: x.item.timeMs, count: x.item.quantity });
      results[j]!.processed.purchases++;
    }
  });
  await appendEvents(tx, workspaceId, eventsOf.flat());
  await recordEventStats(tx, stats);
  return results;
}

/**
 * Creates the users planned by `applyTrackJobs`, in the global lock order (identity/locks.ts): the
 * identifiers' keys first, all at once, so that a request in another process creating the same
 * identifier waits for this transaction instead of making a second user or deadlocking; then the
 * identifiers are looked up again (one created meanwhile is used, not duplicated); then the users
 * and aliases, in request order (ordinals follow it; the keys' locks make the order of the inserts
 * irrelevant to other transactions).
 */
async function createMissingUsers(tx: Queryable, workspaceId: string, toCreate: Map<string, Identifier>, users: Map<string, UserRef>) {
  if (!toCreate.size) return;
  await lockIdentityKeys(tx, [...toCreate.values()].map((id) => lockKeyOf(workspaceId, id)));
  const meanwhile = await findUserRefs(tx, workspaceId, [...toCreate.values()]);
  for (const [key, user] of meanwhile) {
    users.set(key, user);
    toCreate.delete(key);
  }
  if (!toCreate.size) return;
  const entries = [...toCreate.entries()];
  const created = await createUsers(
    tx,
    workspaceId,
    entries.map(([, id]) => ({
      externalId: id.kind === 'external_id' ? id.externalId : null,
      email: id.kind === 'email' ? id.email : null,
    })),
  );
  for (let i = 0; i < entries.length; i++) {
    const [key, id] = entries[i]!;
    let user = created[i]!;
    if (id.kind === 'user_alias' && !(await insertAlias(tx, workspaceId, user.id, id.alias))) {
      // Only when an alias was created without its key's lock: use its holder, drop the profile made here.
      await deleteUsers(tx, [user.id]);
      const holder = (await usersByAliases(tx, workspaceId, [id.alias]))[0];
      if (!holder) throw new Error('alias vanished during creation');
      const { alias_name: _n, alias_label: _l, ...rest } = holder;
      user = rest;
    }
    users.set(key, user);
  }
}

function lockKeyOf(workspaceId: string, id: Identifier): string {
  switch (id.kind) {
    case 'external_id':
      return identityKey.externalId(workspaceId, id.externalId);
    case 'email':
      return identityKey.email(workspaceId, id.email);
    case 'user_alias':
      return identityKey.alias(workspaceId, id.alias);
    case 'braze_id':
      return `braze:${id.userId}`;
  }
}
