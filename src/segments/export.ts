/**
 * Members as people rather than ordinals: pages of the member list, and the streamed export
 * (NDJSON or CSV: internal id, external id, aliases, device ids). The export walks the segment's
 * bitmap in chunks and reads each chunk's users as the stream drains, so memory stays flat
 * whatever the segment's size: one bitmap plus one chunk.
 */
import { Readable } from 'node:stream';
import type { UserAlias } from '../identity/index.js';
import type { Queryable } from '../storage/index.js';
import type { OrdinalBitmap } from './bitmap.js';

export interface Member {
  user_id: string;
  external_id: string | null;
}

export interface ExportedMember extends Member {
  aliases: UserAlias[];
  device_ids: string[];
}

export type ExportFormat = 'ndjson' | 'csv';

export const EXPORT_CHUNK = 2000;

export async function membersByOrdinal(db: Queryable, workspaceId: string, ordinals: number[]): Promise<Member[]> {
  if (!ordinals.length) return [];
  const { rows } = await db.query<Member>(
    `SELECT id AS user_id, external_id FROM users WHERE workspace_id = $1 AND ordinal = ANY($2::int8[]) ORDER BY ordinal`,
    [workspaceId, ordinals],
  );
  return rows;
}

async function exportedByOrdinal(db: Queryable, workspaceId: string, ordinals: number[]): Promise<ExportedMember[]> {
  const { rows } = await db.query<ExportedMember>(
    `SELECT u.id AS user_id, u.external_id,
            coalesce((SELECT json_agg(json_build_object('alias_name', a.alias_name, 'alias_label', a.alias_label) ORDER BY a.alias_label)
                        FROM user_aliases a WHERE a.user_id = u.id), '[]') AS aliases,
            coalesce((SELECT json_agg(d.device_id ORDER BY d.device_id) FROM user_devices d WHERE d.user_id = u.id), '[]') AS device_ids
       FROM users u WHERE u.workspace_id = $1 AND u.ordinal = ANY($2::int8[]) ORDER BY u.ordinal`,
    [workspaceId, ordinals],
  );
  return rows;
}

export const CSV_HEADER = 'user_id,external_id,aliases,device_ids\n';

/** RFC 4180 quoting; list cells hold JSON arrays, so names with commas or colons stay unambiguous. */
function csvCell(value: string | null): string {
  if (value === null) return '';
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(m: ExportedMember): string {
  const lists = [m.aliases.length ? JSON.stringify(m.aliases) : '', m.device_ids.length ? JSON.stringify(m.device_ids) : ''];
  return `${[m.user_id, m.external_id, ...lists].map(csvCell).join(',')}\n`;
}

export function ndjsonLine(m: ExportedMember): string {
  return `${JSON.stringify({ user_id: m.user_id, external_id: m.external_id, aliases: m.aliases, device_ids: m.device_ids })}\n`;
}

async function* exportText(db: Queryable, workspaceId: string, members: OrdinalBitmap, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  const line = format === 'csv' ? csvLine : ndjsonLine;
  let chunk: number[] = [];
  const flush = async () => (await exportedByOrdinal(db, workspaceId, chunk)).map(line).join('');
  for (const ordinal of members.from()) {
    chunk.push(ordinal);
    if (chunk.length < EXPORT_CHUNK) continue;
    yield await flush();
    chunk = [];
  }
  if (chunk.length) yield await flush();
}

/** A readable stream of the export; it reads the next chunk only when the client has taken the last. */
export function exportStream(db: Queryable, workspaceId: string, members: OrdinalBitmap, format: ExportFormat): Readable {
  return Readable.from(exportText(db, workspaceId, members, format), { objectMode: false, highWaterMark: 1 });
}
