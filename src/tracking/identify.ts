/** `POST /users/identify` and `POST /users/alias/new` (docs/reference/rest-api.md §3–§4). */
import { ApiError, Errors, type ErrorEntry } from '../http/index.js';
import { findUnstorableString, unstorableType } from '../http/index.js';
import {
  createUsers,
  identityKey,
  identifyProfile,
  insertAlias,
  lockForIdentify,
  lockIdentityKeys,
  userHasAliasLabel,
  usersByAliases,
  usersByExternalIds,
  type MergeBehavior,
  type MergeParticipant,
  type UserAlias,
} from '../identity/index.js';
import { isUniqueViolation, isRetryableConflict, transactionWithRetry, type Db, type Queryable } from '../storage/index.js';
import { isPlainObject } from './json-shape.js';
import { checkAlias, isValidExternalId } from './validate.js';

export const MAX_IDENTIFY_OBJECTS = 50;
const TOO_MANY = 'The max number of external_ids and aliases per request was exceeded';

interface BatchResult {
  aliases_processed: number;
  message: 'success';
  errors?: ErrorEntry[];
}

function checkArray(body: unknown, field: string): unknown[] {
  if (!isPlainObject(body)) throw Errors.invalidJson('the body must be a JSON object');
  const list = body[field];
  if (!Array.isArray(list)) throw Errors.badRequest(`${field} must be an array`, field);
  if (list.length > MAX_IDENTIFY_OBJECTS) {
    throw new ApiError(400, TOO_MANY, [{ type: `${field} holds ${list.length} objects; at most ${MAX_IDENTIFY_OBJECTS}`, path: field }]);
  }
  if (list.length === 0) throw Errors.badRequest(`${field} must not be empty`, field);
  return list;
}

function finish(processed: number, errors: ErrorEntry[]): BatchResult {
  if (processed === 0) throw Errors.allFailed(errors);
  return errors.length ? { aliases_processed: processed, message: 'success', errors } : { aliases_processed: processed, message: 'success' };
}

const retryIdentify = { retryOn: (e: unknown) => isRetryableConflict(e) || isUniqueViolation(e), attempts: 4 };

export async function identifyUsers(db: Db, workspaceId: string, body: unknown, participants: readonly MergeParticipant[]): Promise<BatchResult> {
  if (isPlainObject(body)) {
    for (const f of ['emails_to_identify', 'phone_numbers_to_identify']) {
      if (body[f] !== undefined) throw Errors.badRequest(`${f} is not supported`, f);
    }
  }
  const list = checkArray(body, 'aliases_to_identify');
  const mb = (body as Record<string, unknown>).merge_behavior ?? 'merge';
  if (mb !== 'merge' && mb !== 'none') throw Errors.badRequest('merge_behavior must be "merge" or "none"', 'merge_behavior');
  const behavior = mb as MergeBehavior;

  const errors: ErrorEntry[] = [];
  const valid: Array<{ index: number; externalId: string; alias: UserAlias }> = [];
  list.forEach((raw, index) => {
    const fail = (type: string) => errors.push({ type, input_array: 'aliases_to_identify', index });
    if (!isPlainObject(raw)) return fail('invalid object');
    const unstorable = findUnstorableString(raw);
    if (unstorable !== undefined) return fail(unstorableType(unstorable));
    if (!isValidExternalId(raw.external_id)) return fail(raw.external_id === undefined ? 'missing external_id' : 'invalid external_id');
    const alias = checkAlias(raw.user_alias);
    if (!alias) return fail(raw.user_alias === undefined ? 'missing user_alias' : 'invalid user_alias');
    valid.push({ index, externalId: raw.external_id, alias });
  });
  const processed = await transactionWithRetry(
    db,
    async (tx) => {
      const txErrors: ErrorEntry[] = [];
      let count = 0;
      await lockForIdentify(tx, workspaceId, valid);
      for (const v of valid) {
        const error = await identifyOne(tx, workspaceId, v.externalId, v.alias, behavior, participants);
        if (error) txErrors.push({ type: error, input_array: 'aliases_to_identify', index: v.index });
        else count++;
      }
      return { count, txErrors };
    },
    retryIdentify,
  );
  errors.push(...processed.txErrors);
  return finish(processed.count, errors.sort((a, b) => Number(a.index) - Number(b.index)));
}

async function identifyOne(
  tx: Queryable,
  workspaceId: string,
  externalId: string,
  alias: UserAlias,
  behavior: MergeBehavior,
  participants: readonly MergeParticipant[],
): Promise<string | undefined> {
  const [holder] = await usersByAliases(tx, workspaceId, [alias]);
  if (!holder) return 'alias not found';
  const outcome = await identifyProfile(tx, workspaceId, holder.id, externalId, behavior, participants);
  return outcome.ok ? undefined : outcome.error;
}

export async function newAliases(db: Db, workspaceId: string, body: unknown): Promise<BatchResult> {
  const list = checkArray(body, 'user_aliases');
  const errors: ErrorEntry[] = [];
  const valid: Array<{ index: number; externalId: string | undefined; alias: UserAlias }> = [];
  list.forEach((raw, index) => {
    const fail = (type: string) => errors.push({ type, input_array: 'user_aliases', index });
    if (!isPlainObject(raw)) return fail('invalid object');
    const unstorable = findUnstorableString(raw);
    if (unstorable !== undefined) return fail(unstorableType(unstorable));
    const alias = checkAlias(raw);
    if (!alias) return fail(typeof raw.alias_name !== 'string' || !raw.alias_name ? 'invalid alias_name' : 'invalid alias_label');
    if (raw.external_id !== undefined && raw.external_id !== null && !isValidExternalId(raw.external_id)) return fail('invalid external_id');
    valid.push({ index, externalId: (raw.external_id as string | null | undefined) ?? undefined, alias });
  });
  const result = await transactionWithRetry(
    db,
    async (tx) => {
      const txErrors: ErrorEntry[] = [];
      let count = 0;
      // Step 1 of the lock order (identity/locks.ts): every alias this request may create, at once.
      await lockIdentityKeys(
        tx,
        valid.map((v) => identityKey.alias(workspaceId, v.alias)),
      );
      for (const v of valid) {
        const error = await addAlias(tx, workspaceId, v.externalId, v.alias);
        if (error) txErrors.push({ type: error, input_array: 'user_aliases', index: v.index });
        else count++;
      }
      return { count, txErrors };
    },
    retryIdentify,
  );
  errors.push(...result.txErrors);
  return finish(result.count, errors.sort((a, b) => Number(a.index) - Number(b.index)));
}

async function addAlias(tx: Queryable, workspaceId: string, externalId: string | undefined, alias: UserAlias): Promise<string | undefined> {
  const [holder] = await usersByAliases(tx, workspaceId, [alias]);
  if (externalId === undefined) {
    if (holder) return 'alias already exists';
    const [user] = await createUsers(tx, workspaceId, [{}]);
    if (!(await insertAlias(tx, workspaceId, user!.id, alias))) {
      throw Object.assign(new Error('alias created concurrently'), { code: '23505' });
    }
    return undefined;
  }
  const [user] = await usersByExternalIds(tx, workspaceId, [externalId]);
  if (!user) return 'user not found';
  if (holder) return holder.id === user.id ? undefined : 'alias already exists';
  if (await userHasAliasLabel(tx, user.id, alias.alias_label)) return `alias label conflict ${alias.alias_label}`;
  if (!(await insertAlias(tx, workspaceId, user.id, alias))) {
    throw Object.assign(new Error('alias created concurrently'), { code: '23505' });
  }
  return undefined;
}
