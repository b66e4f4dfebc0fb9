/**
 * Members as people rather than ordinals: pages of the member list, and the streamed export
 * (NDJSON or CSV: internal id, external id, aliases, device ids).
 *
 * The export walks the segment's bitmap 2,000 ordinals at a time, and PostgreSQL renders each
 * batch as text in pieces of 200 lines; Node only relays those strings as the client drains them.
 * Keeping per-row objects out of Node is what keeps memory flat: with rows parsed and formatted in
 * JavaScript, the garbage of a 1,000,000-row export was promoted faster than V8 collected it and
 * the server peaked ~35 MiB higher (bench/segments.ts export). Memory is one bitmap plus one batch.
 */
import { Readable } from 'node:stream';
import type { Queryable } from '../storage/index.js';
import type { OrdinalBitmap } from './bitmap.js';

export interface Member {
  user_id: string;
  external_id: string | null;
}

export type ExportFormat = 'ndjson' | 'csv';

const BATCH = 2000;
const PIECE = 200;

export async function membersByOrdinal(db: Queryable, workspaceId: string, ordinals: number[]): Promise<Member[]> {
  if (!ordinals.length) return [];
  const { rows } = await db.query<Member>(
    `SELECT id AS user_id, external_id FROM identity_user_profiles WHERE workspace_id = $1 AND ordinal = ANY($2::int8[]) ORDER BY ordinal`,
    [workspaceId, ordinals],
  );
  return rows;
}

export const CSV_HEADER = 'user_id,external_id,aliases,device_ids\n';

/**
 * Formula injection (OWASP, "CSV Injection"): a spreadsheet runs a cell that starts with `=`, `+`,
 * `-` or `@` (and, in some, a tab or carriage return) as a formula, so an external id such as
 * `=HYPERLINK(...)` would run on the machine of whoever opens the export. Such a cell gets a
 * leading `'`, which spreadsheets show as text and never evaluate. NULL stays empty.
 */
export function neutralizedCell(expr: string): string {
  return `(CASE WHEN ${expr} ~ ('^[-=+@' || chr(9) || chr(13) || ']') THEN '''' || ${expr} ELSE ${expr} END)`;
}

/** RFC 4180: a field holding a quote, comma or line break is quoted, its quotes doubled. NULL is empty. */
function csvCell(raw: string): string {
  const expr = neutralizedCell(raw);
  return `CASE WHEN ${raw} IS NULL THEN '' WHEN ${expr} ~ ('[",' || chr(13) || chr(10) || ']') THEN '"' || replace(${expr}, '"', '""') || '"' ELSE ${expr} END`;
}

const LINE: Record<ExportFormat, string> = {
  ndjson: `json_build_object('user_id', u.id, 'external_id', u.external_id,
             'aliases', coalesce(u.aliases, '[]'), 'device_ids', coalesce(u.device_ids, '[]'))::text`,
  csv: `u.id::text || ',' || ${csvCell('u.external_id')} || ',' || ${csvCell('u.aliases::text')} || ',' || ${csvCell('u.device_ids::text')}`,
};

/** One batch of members as text, in pieces of at most PIECE lines, in ordinal order. */
async function renderBatch(db: Queryable, workspaceId: string, ordinals: number[], format: ExportFormat): Promise<string[]> {
  const { rows } = await db.query<{ text: string }>(
    `SELECT string_agg(line, E'\\n' ORDER BY ordinal) || E'\\n' AS text
       FROM (SELECT u.ordinal, ${LINE[format]} AS line, (row_number() OVER (ORDER BY u.ordinal) - 1) / ${PIECE} AS piece
               FROM identity_user_identifiers u
              WHERE u.workspace_id = $1 AND u.ordinal = ANY($2::int8[])) q
      GROUP BY piece ORDER BY piece`,
    [workspaceId, ordinals],
  );
  return rows.map((r) => r.text);
}

async function* exportText(db: Queryable, workspaceId: string, members: OrdinalBitmap, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  let batch: number[] = [];
  for (const ordinal of members.from()) {
    batch.push(ordinal);
    if (batch.length < BATCH) continue;
    yield* await renderBatch(db, workspaceId, batch, format);
    batch = [];
  }
  if (batch.length) yield* await renderBatch(db, workspaceId, batch, format);
}

/** A readable stream of the export; it reads the next batch only when the client has taken the last. */
export function exportStream(db: Queryable, workspaceId: string, members: OrdinalBitmap, format: ExportFormat): Readable {
  return Readable.from(exportText(db, workspaceId, members, format), { objectMode: false, highWaterMark: 1 });
}
