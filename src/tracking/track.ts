/**
 * `POST /users/track` (rest-api.md §2): validate every item, then apply all valid ones in one
 * transaction — attributes, events, purchases, in index order — together with their event-log
 * entries. Items that fail are reported by index and the rest still apply.
 */
import { ApiError, Errors, type ErrorEntry } from '../http/errors.js';
import { findUnstorableString, unstorableType } from '../http/storable-strings.js';
import { appendEvents, type LogEvent } from '../events/log.js';
import { findUsers } from '../identity/resolve.js';
import { createUsers, insertAlias, saveProfiles, usersByAliases, usersByIds } from '../identity/store.js';
import { identifierKey, type Identifier, type User } from '../identity/types.js';
import { transactionWithRetry, type Db, type Queryable } from '../storage/index.js';
import { applyAttributes } from './apply-attributes.js';
import { customEvent, purchaseEvents, subscriptionStateChange } from './core-events.js';
import { recordEventStats, type StatOccurrence } from './event-stats.js';
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

export async function track(db: Db, workspaceId: string, body: unknown, opts: TrackOptions): Promise<TrackResponse> {
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

  const applied = valid.attributes.length + valid.events.length + valid.purchases.length
    ? await transactionWithRetry(db, (tx) => applyBatch(tx, workspaceId, valid, opts, nowMs))
    : { processed: { attributes: 0, events: 0, purchases: 0 }, errors: [] };
  errors.push(...applied.errors);
  const counted = ARRAYS.filter((n) => arrays[n] !== undefined);
  if (counted.every((n) => applied.processed[n] === 0)) throw Errors.allFailed(sortErrors(errors));

  const response: TrackResponse = { message: 'success' };
  for (const n of counted) response[`${n}_processed`] = applied.processed[n];
  if (errors.length) response.errors = sortErrors(errors);
  return response;
}

function sortErrors(errors: ErrorEntry[]): ErrorEntry[] {
  const order = (e: ErrorEntry) => ARRAYS.indexOf(e.input_array as ArrayName) * 1000 + Number(e.index);
  return errors.sort((a, b) => order(a) - order(b));
}

interface Applied {
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

async function applyBatch(tx: Queryable, workspaceId: string, batch: ValidBatch, opts: TrackOptions, nowMs: number): Promise<Applied> {
  const errors: ErrorEntry[] = [];
  const ordered: Array<{ array: ArrayName } & Indexed<Target>> = [
    ...batch.attributes.map((x) => ({ array: 'attributes' as const, ...x })),
    ...batch.events.map((x) => ({ array: 'events' as const, ...x })),
    ...batch.purchases.map((x) => ({ array: 'purchases' as const, ...x })),
  ];
  const users = await findUsers(tx, workspaceId, ordered.map((o) => o.item.identifier));

  // One pass in Braze's order decides which items create their user; a user created by an earlier
  // item is visible to later ones, so creation is planned here and executed in one batch below.
  const toCreate = new Map<string, Identifier>();
  const accepted = new Set<Target>();
  for (const o of ordered) {
    const key = identifierKey(o.item.identifier);
    if (users.has(key) || toCreate.has(key)) accepted.add(o.item);
    else if (mayCreate(o.item)) {
      toCreate.set(key, o.item.identifier);
      accepted.add(o.item);
    } else errors.push({ type: 'user not found', input_array: o.array, index: o.index });
  }
  await createMissingUsers(tx, workspaceId, toCreate, users);

  // Attributes: lock the profiles they touch (in id order), apply in memory, write back once.
  const attrItems = batch.attributes.filter((x) => accepted.has(x.item));
  const events: LogEvent[] = [];
  if (attrItems.length) {
    const lockIds = [...new Set(attrItems.map((x) => users.get(identifierKey(x.item.identifier))!.id))];
    const fresh = new Map((await usersByIds(tx, workspaceId, lockIds, true)).map((u) => [u.id, u]));
    for (const [key, u] of users) if (fresh.has(u.id)) users.set(key, fresh.get(u.id)!);
    for (const { item } of attrItems) {
      const user = fresh.get(users.get(identifierKey(item.identifier))!.id)!;
      for (const change of applyAttributes(user, item, opts.maxArrayAttributeValues)) {
        events.push(subscriptionStateChange(user, change, workspaceId, nowMs));
      }
    }
    await saveProfiles(tx, [...fresh.values()]);
  }

  const stats: StatOccurrence[] = [];
  const userOf = (t: Target): User => users.get(identifierKey(t.identifier))!;
  let eventCount = 0;
  for (const x of batch.events) {
    if (!accepted.has(x.item)) continue;
    const user = userOf(x.item);
    events.push(customEvent(user, x.item, workspaceId));
    stats.push({ userId: user.id, kind: 'event', name: x.item.name, timeMs: x.item.timeMs, count: 1 });
    eventCount++;
  }
  let purchaseCount = 0;
  for (const x of batch.purchases) {
    if (!accepted.has(x.item)) continue;
    const user = userOf(x.item);
    events.push(...purchaseEvents(user, x.item, workspaceId));
    stats.push({ userId: user.id, kind: 'purchase', name: x.item.productId, timeMs: x.item.timeMs, count: x.item.quantity });
    purchaseCount++;
  }
  await appendEvents(tx, workspaceId, events);
  await recordEventStats(tx, stats);
  return { processed: { attributes: attrItems.length, events: eventCount, purchases: purchaseCount }, errors };
}

async function createMissingUsers(tx: Queryable, workspaceId: string, toCreate: Map<string, Identifier>, users: Map<string, User>) {
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
      // Another request created this alias meanwhile: use its holder, drop the profile made here.
      await tx.query('DELETE FROM users WHERE id = $1', [user.id]);
      const holder = (await usersByAliases(tx, workspaceId, [id.alias]))[0];
      if (!holder) throw new Error('alias vanished during creation');
      const { alias_name: _n, alias_label: _l, ...rest } = holder;
      user = rest;
    }
    users.set(key, user);
  }
}
