/** What the Canvas routes need from identity and segments: finding named users, and a segment's members as user ids. */
import { findUsers, identifierKey, usersByIds, type Identifier } from '../identity/index.js';
import { getSegment, membersByOrdinal, type FilterNode, type OrdinalBitmap } from '../segments/index.js';
import type { Db } from '../storage/index.js';

export { findUsers, identifierKey, usersByIds, type Identifier };

export type MembersOf = (workspaceId: string, filter: FilterNode, nowMs: number) => Promise<OrdinalBitmap>;

/** The user ids in a segment now (none for an unknown segment). */
export async function membersOrNothing(members: MembersOf, db: Db, workspaceId: string, segmentId: string, nowMs: number): Promise<string[]> {
  const segment = await getSegment(db, workspaceId, segmentId);
  if (!segment) return [];
  const bitmap = await members(workspaceId, segment.filter, nowMs);
  const out: string[] = [];
  let after = -1;
  for (;;) {
    const ordinals = bitmap.page(after, 5000);
    if (!ordinals.length) return out;
    after = ordinals.at(-1)!;
    for (const m of await membersByOrdinal(db, workspaceId, ordinals)) out.push(m.user_id);
  }
}
