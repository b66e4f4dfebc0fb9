/**
 * Segment evaluation: compressed bitmaps of user ordinals kept in memory, refreshed from the
 * database before every evaluation, so any process sees every committed change in its next count.
 *
 * Why bitmaps and not SQL: "in cohort A and not in cohort B and plan = pro" over 10,000,000 users
 * is a join of two 3,000,000-row member lists and a scan of 10,000,000 jsonb documents — seconds
 * in PostgreSQL on two cores. With each atom's members held as a bitmap the same count is three
 * word-wide passes over 1.2 MiB bitsets: milliseconds. SQL still finds the members of each atom
 * the first time (and the live atoms every time); the bitmaps make combining them cheap.
 *
 * Freshness, without a rebuild step:
 * - Cohort bitmaps carry the cohort's `members_version`, read in the same round trip as the rest
 *   of the freshness check; a cohort whose version moved is reloaded (its members are read after
 *   the version, so the copy is never older than the version it claims).
 * - Profile bitmaps (attributes, external id, email, and `everyone`) follow the user change log
 *   that triggers on `users` write (migrations/003). The cache keeps the PostgreSQL snapshot it
 *   is current as of; the next check asks for log rows that snapshot did not see — by transaction
 *   visibility, not by time or sequence, so a transaction that commits late is never skipped —
 *   and re-tests only those users. A snapshot older than the pruned part of the log, or a change
 *   set too large to be worth patching, means a reload.
 * - Live atoms (aliases, event counts in the last D days, last session) depend on the clock or on
 *   tables without a change log; they are read from the database at every evaluation.
 * - The result is always intersected with `everyone`, so a deleted (merged) user never counts.
 */
import type { Db } from '../storage/index.js';
import { OrdinalBitmap } from './bitmap.js';
import type { FilterNode } from './filter.js';
import { EVERYONE, atomKey, atomsOf, evaluatePlan, isLiveAtom, isProfileAtom, planOf, type Atom, type ProfileAtom } from './plan.js';
import { cohortMembersQuery, liveQuery, profileScan, unpackOrdinals, type Query } from './sql.js';

export interface EvaluatorOptions {
  /** Memory for cached bitmaps across workspaces; least recently used ones go first. */
  cacheBytes?: number;
  /** Beyond this many changed users since the last check, reload instead of patching. */
  reloadAboveChanges?: number;
}

interface Cached<K> {
  key: K;
  bitmap: OrdinalBitmap;
  usedAt: number;
}

interface CachedCohort extends Cached<string> {
  version: number | null;
}

interface FreshnessRow {
  snapshot: string;
  stale: boolean | null;
  changed: Uint8Array | null;
  cohorts: Array<[string, number]> | null;
}

class WorkspaceCache {
  /** The snapshot the profile bitmaps are current as of (pg_snapshot text). */
  snapshot: string | undefined;
  readonly profiles = new Map<string, Cached<ProfileAtom>>();
  readonly cohorts = new Map<string, CachedCohort>();
  /** An evaluation is between its reads and its use of these bitmaps: not to be evicted. */
  busy = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly workspaceId: string) {}

  /** Runs `work` after every earlier call has settled: one evaluation at a time per workspace. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const guarded = async () => {
      this.busy = true;
      try {
        return await work();
      } finally {
        this.busy = false;
      }
    };
    const run = this.tail.then(guarded, guarded);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

export class SegmentEvaluator {
  private readonly workspaces = new Map<string, WorkspaceCache>();
  private readonly cacheBytes: number;
  private readonly reloadAboveChanges: number;
  private clock = 0;

  constructor(
    private readonly db: Db,
    opts: EvaluatorOptions = {},
  ) {
    this.cacheBytes = opts.cacheBytes ?? 512 * 1024 * 1024;
    this.reloadAboveChanges = opts.reloadAboveChanges ?? 100_000;
  }

  /** The ordinals of the workspace's users who match `filter` now. */
  async members(workspaceId: string, filter: FilterNode, nowMs = Date.now()): Promise<OrdinalBitmap> {
    const plan = planOf(filter);
    const atoms = atomsOf(plan);
    const ws = this.workspace(workspaceId);
    return ws.exclusive(async () => {
      const cohortIds = atoms.flatMap((a) => (a.kind === 'cohort' ? [a.cohortId] : []));
      const profileAtoms = [EVERYONE, ...atoms.filter(isProfileAtom)];
      const staleCohorts = await this.refresh(ws, cohortIds);
      const live = new Map<string, OrdinalBitmap>();
      // Independent reads, each on its own connection where the store has several.
      await Promise.all([
        this.loadCohorts(ws, staleCohorts),
        this.loadProfiles(ws, profileAtoms),
        ...atoms.filter(isLiveAtom).map(async (atom) => live.set(atomKey(atom), await this.load(liveQuery(workspaceId, atom, nowMs)))),
      ]);

      const tick = ++this.clock;
      const bitmapOf = (atom: Atom): OrdinalBitmap => {
        const entry = atom.kind === 'cohort' ? ws.cohorts.get(atom.cohortId) : isProfileAtom(atom) ? ws.profiles.get(atomKey(atom)) : undefined;
        if (entry) entry.usedAt = tick;
        return entry?.bitmap ?? live.get(atomKey(atom))!;
      };
      const result = evaluatePlan(plan, bitmapOf(EVERYONE), bitmapOf);
      this.evict(ws, tick);
      return result;
    });
  }

  async count(workspaceId: string, filter: FilterNode, nowMs = Date.now()): Promise<number> {
    return (await this.members(workspaceId, filter, nowMs)).size;
  }

  private workspace(id: string): WorkspaceCache {
    let ws = this.workspaces.get(id);
    if (!ws) this.workspaces.set(id, (ws = new WorkspaceCache(id)));
    return ws;
  }

  private async load(q: Query): Promise<OrdinalBitmap> {
    const { rows } = await this.db.query<{ packed: Uint8Array | null }>(q.sql, q.params);
    return OrdinalBitmap.of(unpackOrdinals(rows[0]?.packed));
  }

  /**
   * One round trip: the current snapshot, the users changed since ours, and cohort versions.
   * Patches the profile bitmaps; returns the cohorts whose bitmaps must be (re)loaded, by version.
   */
  private async refresh(ws: WorkspaceCache, cohortIds: string[]): Promise<Map<string, number | null>> {
    const { rows } = await this.db.query<FreshnessRow>(
      `SELECT pg_current_snapshot()::text AS snapshot,
              (SELECT pruned_below FROM segment_change_horizon) > pg_snapshot_xmin($2::pg_snapshot) AS stale,
              (SELECT string_agg(int4send((c.ordinal - 2147483648)::int4), ''::bytea)
                 FROM (SELECT DISTINCT ordinal FROM segment_user_changes
                        WHERE workspace_id = $1 AND txid >= pg_snapshot_xmin($2::pg_snapshot)
                          AND NOT pg_visible_in_snapshot(txid, $2::pg_snapshot)) c) AS changed,
              (SELECT json_agg(json_build_array(id, members_version)) FROM cohorts
                WHERE workspace_id = $1 AND id = ANY($3::uuid[])) AS cohorts`,
      [ws.workspaceId, ws.snapshot ?? null, cohortIds],
    );
    const row = rows[0]!;
    const changed = unpackOrdinals(row.changed);
    if (ws.snapshot === undefined || row.stale || changed.length > this.reloadAboveChanges) {
      ws.profiles.clear();
    } else if (changed.length && ws.profiles.size) {
      const entries = [...ws.profiles.values()];
      const scan = profileScan(ws.workspaceId, entries.map((e) => e.key), changed);
      const found = (await this.db.query<Record<string, Uint8Array | null>>(scan.sql, scan.params)).rows[0] ?? {};
      const retested = OrdinalBitmap.of(changed);
      const patched = entries.map((e, i) => e.bitmap.andNot(retested).or(OrdinalBitmap.of(unpackOrdinals(found[`a${i}`]))));
      entries.forEach((e, i) => (e.bitmap = patched[i]!));
    }
    ws.snapshot = row.snapshot;

    const versions = new Map(row.cohorts ?? []);
    const stale = new Map<string, number | null>();
    for (const id of cohortIds) {
      const version = versions.get(id) ?? null;
      if (ws.cohorts.get(id)?.version !== version) stale.set(id, version);
    }
    return stale;
  }

  /** Loads cohorts' members, read after their versions so a copy is never older than its version. */
  private async loadCohorts(ws: WorkspaceCache, versions: Map<string, number | null>): Promise<void> {
    if (!versions.size) return;
    const q = cohortMembersQuery([...versions.keys()]);
    const { rows } = await this.db.query<{ cohort_id: string; packed: Uint8Array | null }>(q.sql, q.params);
    const packed = new Map(rows.map((r) => [r.cohort_id, r.packed]));
    for (const [id, version] of versions) {
      ws.cohorts.set(id, { key: id, version, bitmap: OrdinalBitmap.of(unpackOrdinals(packed.get(id))), usedAt: this.clock });
    }
  }

  /** Loads the profile atoms not cached yet, in one scan of the workspace's users. */
  private async loadProfiles(ws: WorkspaceCache, atoms: ProfileAtom[]): Promise<void> {
    const missing = atoms.filter((a) => !ws.profiles.has(atomKey(a)));
    if (!missing.length) return;
    const scan = profileScan(ws.workspaceId, missing);
    const row = (await this.db.query<Record<string, Uint8Array | null>>(scan.sql, scan.params)).rows[0] ?? {};
    missing.forEach((atom, i) => {
      ws.profiles.set(atomKey(atom), { key: atom, bitmap: OrdinalBitmap.of(unpackOrdinals(row[`a${i}`])), usedAt: this.clock });
    });
  }

  /**
   * Drops least recently used bitmaps beyond the budget: never one used by the current evaluation,
   * nor any of another workspace whose evaluation is in flight (it may have just loaded them).
   */
  private evict(current: WorkspaceCache, tick: number): void {
    const droppable: Array<{ entry: Cached<unknown>; drop: () => void }> = [];
    let bytes = 0;
    for (const ws of this.workspaces.values()) {
      for (const entry of [...ws.profiles.values(), ...ws.cohorts.values()]) bytes += entry.bitmap.bytes;
      if (ws.busy && ws !== current) continue;
      for (const [k, entry] of ws.profiles) droppable.push({ entry, drop: () => ws.profiles.delete(k) });
      for (const [k, entry] of ws.cohorts) droppable.push({ entry, drop: () => ws.cohorts.delete(k) });
    }
    if (bytes <= this.cacheBytes) return;
    droppable.sort((a, b) => a.entry.usedAt - b.entry.usedAt);
    for (const { entry, drop } of droppable) {
      if (bytes <= this.cacheBytes || entry.usedAt >= tick) break;
      bytes -= entry.bitmap.bytes;
      drop();
    }
  }
}
