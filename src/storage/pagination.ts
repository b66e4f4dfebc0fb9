/**
 * Pages of the admin API's lists: `?limit=` (1 to 1,000, default 100) and an opaque keyset
 * `cursor`; the body carries `next_cursor` (null on the last page). Pass it back as `cursor` for
 * the next page (docs/reference/operations.md#pages).
 *
 * Keyset, not offset: a page costs the same however deep it is, and rows written meanwhile never
 * shift later pages. The cursor is the last row's sort key as base64url JSON; the server checks its
 * shape and PostgreSQL its values, so a forged cursor only ever selects rows of the caller's list.
 */
import { InvalidCursor } from '../errors/index.js';
import type { Queryable } from './db.js';

export const PAGE_DEFAULT = 100;
export const PAGE_MAX = 1000;

/** The querystring of every paged list; extend it with the list's own filters. */
export type KeyValue = string | number;

export interface PageRequest {
  limit: number;
  /** The sort key of the last row of the previous page. */
  after: KeyValue[] | undefined;
}

/** One column of a list's order. `expr` is trusted SQL; the row's value comes from `keyOf`. */
export interface SortKey {
  expr: string;
  desc?: boolean;
}

const badCursor = () => new InvalidCursor();

export function encodeCursor(values: KeyValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** `?limit=&cursor=` as validated by `PageQuery`; a cursor of the wrong shape is a 400. */
export function pageRequest(query: unknown): PageRequest {
  const q = (query ?? {}) as { limit?: string; cursor?: string };
  const limit = q.limit === undefined ? PAGE_DEFAULT : Number(q.limit);
  if (q.cursor === undefined) return { limit, after: undefined };
  let after: unknown;
  try {
    after = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  const valid =
    Array.isArray(after) &&
    after.length > 0 &&
    after.length <= 4 &&
    after.every((v) => (typeof v === 'string' && v.length <= 512 && !v.includes('\u0000')) || Number.isSafeInteger(v));
  if (!valid) throw badCursor();
  return { limit, after: after as KeyValue[] };
}

/**
 * The SQL tail of a page: ` AND (<after the cursor>)` (empty on the first page), the ORDER BY and
 * the LIMIT (one row more than the page, to know whether another page follows). Pushes parameters.
 */
export function keysetSql(keys: SortKey[], page: PageRequest, params: unknown[]): { where: string; orderBy: string; limit: string } {
  const orderBy = `ORDER BY ${keys.map((k) => `${k.expr}${k.desc ? ' DESC' : ''}`).join(', ')}`;
  const limit = `LIMIT ${page.limit + 1}`;
  if (!page.after) return { where: '', orderBy, limit };
  if (page.after.length !== keys.length) throw badCursor();
  const refs = page.after.map((v) => `$${params.push(v)}`);
  // (k1 after v1) OR (k1 = v1 AND k2 after v2) OR …: directions may differ per column.
  const alternatives = keys.map((k, i) => {
    const equal = keys.slice(0, i).map((p, j) => `${p.expr} = ${refs[j]}`);
    return `(${[...equal, `${k.expr} ${k.desc ? '<' : '>'} ${refs[i]}`].join(' AND ')})`;
  });
  return { where: ` AND (${alternatives.join(' OR ')})`, orderBy, limit };
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Cuts the extra row fetched by `keysetSql` and makes the cursor from the page's last row; no page: every row. */
export function pageOf<T>(rows: T[], page: PageRequest | undefined, keyOf: (row: T) => KeyValue[]): Page<T> {
  if (!page || rows.length <= page.limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, page.limit);
  return { items, next_cursor: encodeCursor(keyOf(items[items.length - 1]!)) };
}

/** A timestamp as a key value: milliseconds, as the key's SQL (`millis(...)`) compares them. */
export function millisKey(at: Date | string): string {
  return new Date(at).toISOString();
}

/** The SQL of a timestamp column truncated to what `millisKey` keeps, so cursor and rows compare exactly. */
export function millis(column: string): string {
  return `date_trunc('milliseconds', ${column})`;
}

/**
 * Runs a page's query; a cursor whose values PostgreSQL cannot read as the key's types (a forged
 * one: SQLSTATE class 22, data exception) is the client's mistake, a 400, not a 500.
 */
export async function readPage<T>(page: PageRequest, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (page.after && typeof code === 'string' && code.startsWith('22')) throw badCursor();
    throw err;
  }
}

/**
 * One page of `select` (a SELECT that ends with its WHERE clause, its parameters in `params`) in
 * the order of `keys`; `keyOf` gives a row's values of those keys for the next cursor.
 */
export async function queryPage<Row>(
  db: Queryable,
  select: string,
  params: unknown[],
  keys: SortKey[],
  page: PageRequest,
  keyOf: (row: Row) => KeyValue[],
): Promise<Page<Row>> {
  const tail = keysetSql(keys, page, params);
  return readPage(page, async () => pageOf((await db.query<Row>(`${select}${tail.where} ${tail.orderBy} ${tail.limit}`, params)).rows, page, keyOf));
}
