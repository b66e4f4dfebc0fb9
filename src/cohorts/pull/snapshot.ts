/**
 * Pure pieces of a pull snapshot (docs/reference/cohort-import.md §5): what an engage query asks for under a
 * match key, the identifier a result is matched by, and the diff (entered, left) between the last
 * stored snapshot and a new one, which the sync history records.
 */
import type { MatchKey } from '../webhook-payload.js';
import type { EngageResult } from './query-client.js';

/**
 * `distinct_id` includes members without a profile; the other keys need a profile property.
 * Only the property the key needs is asked for, which keeps pages small.
 */
export function engageShape(key: MatchKey): { includeAllUsers: boolean; outputProperties: string[] } {
  if (key.kind === 'distinct_id') return { includeAllUsers: true, outputProperties: ['$email'] };
  if (key.kind === 'email') return { includeAllUsers: false, outputProperties: ['$email'] };
  return { includeAllUsers: false, outputProperties: [key.name] };
}

/** U+0000 and lone surrogates: no user can hold such an identifier, and PostgreSQL text cannot store it. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function text(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v.length > 0 && v.length <= 1024 && !UNSTORABLE.test(v) ? v : undefined;
}

/**
 * The identifier of one engage result under the key; undefined when the result lacks it (or it is
 * not storable text), which counts as not found. Emails are trimmed and lower-cased.
 */
export function identifierOf(result: EngageResult, key: MatchKey): string | undefined {
  if (key.kind === 'distinct_id') return text(result.$distinct_id);
  const props = result.$properties ?? {};
  if (key.kind === 'email') return text(props.$email)?.trim().toLowerCase() || undefined;
  return text(props[key.name]);
}

export interface IdentifierDiff {
  entered: string[];
  left: string[];
}

/** Sorted distinct identifiers: the stored form of a snapshot. */
export function snapshotOf(identifiers: Iterable<string>): string[] {
  return [...new Set(identifiers)].sort();
}

export function diffIdentifiers(previous: readonly string[], current: readonly string[]): IdentifierDiff {
  const before = new Set(previous);
  const now = new Set(current);
  return { entered: current.filter((id) => !before.has(id)), left: previous.filter((id) => !now.has(id)) };
}
