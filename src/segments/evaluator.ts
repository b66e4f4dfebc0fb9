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
 *
 * Saved for a quick start: every minute (`startPersisting`) each workspace's most recently used
 * bitmaps are written to segment_bitmaps (migrations/045) with the snapshot they are current as of
 * (a cohort's: its members_version). A process that lacks a bitmap — it just started, or evicted
 * it — reads the saved copy and re-tests the users changed since its snapshot, as the freshness
 * check does, instead of scanning every user; a copy that cannot be brought up to date that way
 * (log pruned past it, cohort version moved, unreadable) is ignored and the tables are read.
 *
 * Bounded: the cache holds at most `maxAtomsPerWorkspace` bitmaps per workspace and
 * `maxAtoms` / `cacheBytes` in all, least recently used first out (the dashboard's live preview
 * caches every condition typed, so without a bound a workspace's cache only grows). An evicted
 * condition is simply loaded again when next asked for. Every profile scan reads at most
 * `SCAN_BATCH` conditions per statement, so neither loading nor patching ever nears PostgreSQL's
 * 1,664-column limit, however many conditions are cached or a filter names.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../storage/index.js';
import { OrdinalBitmap, PERSISTABLE } from './bitmap.js';
import type { FilterNode } from './filter.js';
import { EVERYONE, atomKey, atomsOf, evaluatePlan, isLiveAtom, isProfileAtom, planOf, type Atom, type ProfileAtom } from './plan.js';
import { cohortMembersQuery, liveQuery, profileScan, unpackOrdinals, type Query } from './sql.js';

export interface EvaluatorOptions {
  /** Memory for cached bitmaps across workspaces; least recently used ones go first. */
  cacheBytes?: number;
  /** Cached bitmaps (conditions and cohorts) per workspace; least recently used ones go first. */
  maxAtomsPerWorkspace?: number;
  /** Cached bitmaps across workspaces. */
  maxAtoms?: number;
  /** Beyond this many changed users since the last check, reload instead of patching. */
  reloadAboveChanges?: number;
  /** Read and save bitmaps in the database (segment_bitmaps) so that a start is quick; default true. */
  persist?: boolean;
  /** How many of a workspace's most recently used bitmaps each save keeps current; default 64. */
  persistAtoms?: number;
}

/** A saved bitmap as `restore` reads it, with the users changed since it was saved. */
interface SavedRow {
  atom_key: string;
  as_of: string | null;
  members_version: number | null;
  token: string;
  bitmap: Uint8Array;
  stale: boolean | null;
  changed: Uint8Array | null;
}

interface SavePlan {
  asOf: string;
  writes: Array<{ entry: Entry; bitmap: OrdinalBitmap; generation: number }>;
  bumps: Entry[];
}

/** A saved row not refreshed for this long is deleted: nothing uses it (a profile one cannot be patched any more). */
const SAVED_TTL = "interval '1 hour'";

/** Conditions per profile scan statement: far below PostgreSQL's 1,664-entry target list. */
export const SCAN_BATCH = 200;

/** What an entry costs besides its bitmap: the key string, the entry object, the Map slot. */
const ENTRY_OVERHEAD = 160;

interface Entry {
  key: string;
  atom: { kind: 'cohort'; cohortId: string } | ProfileAtom;
  bitmap: OrdinalBitmap;
  /** Cohorts: the members_version the bitmap reflects. */
  version?: number | null;
  usedAt: number;
  bytes: number;
  /** The token of the saved row this bitmap was written as or read from; unset if never saved. */
  savedToken?: string;
  /** Changed since it was saved (or never saved). */
  dirty: boolean;
  /** Counts the changes to `bitmap`, so that a save that ran meanwhile does not mark a newer bitmap clean. */
  generation: number;
}

interface FreshnessRow {
  snapshot: string;
  stale: boolean | null;
  changed: Uint8Array | null;
  cohorts: Array<[string, number]> | null;
}

export interface CacheStats {
  workspaces: number;
  atoms: number;
  bytes: number;
}

const isProfileEntry = (e: Entry): e is Entry & { atom: ProfileAtom } => e.atom.kind !== 'cohort';

class WorkspaceCache {
  /** The snapshot the profile bitmaps are current as of (pg_snapshot text). */
  snapshot: string | undefined;
  /** Cohort and profile bitmaps by atom key, least recently used first (a use moves an entry last). */
  readonly entries = new Map<string, Entry>();
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

  profiles(): Array<Entry & { atom: ProfileAtom }> {
    return [...this.entries.values()].filter(isProfileEntry);
  }
}

export class SegmentEvaluator {
  private readonly workspaces = new Map<string, WorkspaceCache>();
  private readonly cacheBytes: number;
  private readonly maxAtomsPerWorkspace: number;
  private readonly maxAtoms: number;
  private readonly reloadAboveChanges: number;
  private clock = 0;
  private totalBytes = 0;
  private totalAtoms = 0;
  private readonly persist: boolean;
  private readonly persistAtoms: number;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    opts: EvaluatorOptions = {},
  ) {
    this.cacheBytes = opts.cacheBytes ?? 512 * 1024 * 1024;
    this.maxAtomsPerWorkspace = Math.max(1, opts.maxAtomsPerWorkspace ?? 1_000);
    this.maxAtoms = Math.max(1, opts.maxAtoms ?? 20_000);
    this.reloadAboveChanges = opts.reloadAboveChanges ?? 100_000;
    this.persist = (opts.persist ?? true) && PERSISTABLE;
    this.persistAtoms = opts.persistAtoms ?? 64;
  }

  /** Saves the cached bitmaps every `everyMs` (see `saveOnce`) until `close`. */
  startPersisting(onError: (err: unknown) => void, everyMs = 60_000): void {
    if (!this.persist || this.timer) return;
    this.timer = setInterval(() => {
      this.saving ??= this.saveOnce()
        .catch(onError)
        .finally(() => (this.saving = undefined));
    }, everyMs);
    this.timer.unref();
  }

  /** Stops saving; waits for a save under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.saving;
  }

  /**
   * Brings each workspace's bitmaps up to date and saves its `persistAtoms` most recently used:
   * a changed (or never saved) bitmap is written whole; an unchanged one that this process wrote
   * only gets the newer snapshot it is now current as of (its bytes are not rewritten). Saved rows
   * not refreshed for an hour are deleted.
   */
  async saveOnce(workspaceId?: string): Promise<void> {
    if (!this.persist) return;
    for (const ws of [...this.workspaces.values()]) {
      if (!ws.entries.size || (workspaceId !== undefined && ws.workspaceId !== workspaceId)) continue;
      // Brought up to date and chosen under the workspace's lock; written after it, so that counts
      // do not wait for the writes (bitmaps are immutable: the chosen ones stay as they were).
      const plan = await ws.exclusive(() => this.toSave(ws));
      await this.write(ws.workspaceId, plan);
    }
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
      const missing = profileAtoms.filter((a) => !ws.entries.has(atomKey(a)));
      const live = new Map<string, OrdinalBitmap>();
      // Independent reads, each on its own connection where the store has several.
      await Promise.all([
        this.loadMissing(ws, staleCohorts, missing),
        ...atoms.filter(isLiveAtom).map(async (atom) => live.set(atomKey(atom), await this.load(liveQuery(workspaceId, atom, nowMs)))),
      ]);

      const tick = ++this.clock;
      const bitmapOf = (atom: Atom): OrdinalBitmap => {
        const key = atomKey(atom);
        const entry = isLiveAtom(atom) ? undefined : ws.entries.get(key);
        if (!entry) return live.get(key)!;
        entry.usedAt = tick;
        ws.entries.delete(key);
        ws.entries.set(key, entry);
        return entry.bitmap;
      };
      const result = evaluatePlan(plan, bitmapOf(EVERYONE), bitmapOf);
      this.evict(ws, tick);
      return result;
    });
  }

  async count(workspaceId: string, filter: FilterNode, nowMs = Date.now()): Promise<number> {
    return (await this.members(workspaceId, filter, nowMs)).size;
  }

  /** What the cache holds now: workspaces, bitmaps and their approximate heap bytes. */
  stats(workspaceId?: string): CacheStats {
    if (workspaceId === undefined) return { workspaces: this.workspaces.size, atoms: this.totalAtoms, bytes: this.totalBytes };
    const entries = [...(this.workspaces.get(workspaceId)?.entries.values() ?? [])];
    return { workspaces: entries.length ? 1 : 0, atoms: entries.length, bytes: entries.reduce((n, e) => n + e.bytes, 0) };
  }

  private workspace(id: string): WorkspaceCache {
    let ws = this.workspaces.get(id);
    if (!ws) this.workspaces.set(id, (ws = new WorkspaceCache(id)));
    return ws;
  }

  private put(ws: WorkspaceCache, entry: Omit<Entry, 'bytes' | 'usedAt' | 'dirty' | 'generation'> & { dirty?: boolean }): void {
    this.remove(ws, entry.key);
    const bytes = entry.bitmap.bytes + 2 * entry.key.length + ENTRY_OVERHEAD;
    ws.entries.set(entry.key, { dirty: true, ...entry, usedAt: this.clock, bytes, generation: 0 });
    this.totalBytes += bytes;
    this.totalAtoms++;
  }

  private remove(ws: WorkspaceCache, key: string): void {
    const old = ws.entries.get(key);
    if (!old) return;
    ws.entries.delete(key);
    this.totalBytes -= old.bytes;
    this.totalAtoms--;
  }

  private replaceBitmap(entry: Entry, bitmap: OrdinalBitmap): void {
    const bytes = bitmap.bytes + 2 * entry.key.length + ENTRY_OVERHEAD;
    this.totalBytes += bytes - entry.bytes;
    entry.bitmap = bitmap;
    entry.bytes = bytes;
    entry.dirty = true;
    entry.generation++;
  }

  private async load(q: Query): Promise<OrdinalBitmap> {
    const { rows } = await this.db.query<{ packed: Uint8Array | null }>(q.sql, q.params);
    return OrdinalBitmap.of(unpackOrdinals(rows[0]?.packed));
  }

  /** The members of each profile atom (among `among` if given), `SCAN_BATCH` atoms per statement, batches in parallel. */
  private async scan(workspaceId: string, atoms: ProfileAtom[], among?: Uint32Array): Promise<OrdinalBitmap[]> {
    const batches: ProfileAtom[][] = [];
    for (let i = 0; i < atoms.length; i += SCAN_BATCH) batches.push(atoms.slice(i, i + SCAN_BATCH));
    const results = await Promise.all(
      batches.map(async (batch) => {
        const q = profileScan(workspaceId, batch, among);
        const row = (await this.db.query<Record<string, Uint8Array | null>>(q.sql, q.params)).rows[0] ?? {};
        return batch.map((_, i) => OrdinalBitmap.of(unpackOrdinals(row[`a${i}`])));
      }),
    );
    return results.flat();
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
    const profiles = ws.profiles();
    if (ws.snapshot === undefined || row.stale || changed.length > this.reloadAboveChanges) {
      for (const e of profiles) this.remove(ws, e.key);
    } else if (changed.length && profiles.length) {
      const found = await this.scan(
        ws.workspaceId,
        profiles.map((e) => e.atom),
        changed,
      );
      const retested = OrdinalBitmap.of(changed);
      profiles.forEach((e, i) => this.replaceBitmap(e, e.bitmap.andNot(retested).or(found[i]!)));
    }
    ws.snapshot = row.snapshot;

    const versions = new Map(row.cohorts ?? []);
    const stale = new Map<string, number | null>();
    for (const id of cohortIds) {
      const version = versions.get(id) ?? null;
      if (ws.entries.get(atomKey({ kind: 'cohort', cohortId: id }))?.version !== version) stale.set(id, version);
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
      const atom = { kind: 'cohort' as const, cohortId: id };
      this.put(ws, { key: atomKey(atom), atom, version, bitmap: OrdinalBitmap.of(unpackOrdinals(packed.get(id))) });
    }
  }

  /** Loads what the cache lacks: from saved bitmaps where they can be used, else from the tables. */
  private async loadMissing(ws: WorkspaceCache, cohorts: Map<string, number | null>, profiles: ProfileAtom[]): Promise<void> {
    if (!cohorts.size && !profiles.length) return;
    const restored = this.persist ? await this.restore(ws, cohorts, profiles) : new Set<string>();
    await Promise.all([
      this.loadCohorts(ws, new Map([...cohorts].filter(([id]) => !restored.has(atomKey({ kind: 'cohort', cohortId: id }))))),
      this.loadProfiles(
        ws,
        profiles.filter((a) => !restored.has(atomKey(a))),
      ),
    ]);
  }

  /**
   * Reads the saved bitmaps of these cohorts and profile atoms (one statement) and caches those
   * that can be used: a cohort's if saved at its current members_version; a profile atom's if the
   * change log still holds every change since the snapshot it was saved as of (it is not older
   * than the pruned horizon) and they are not too many — those users are tested again, as in
   * `refresh`, which leaves the bitmap current as of (at least) the workspace's snapshot. Returns
   * the keys it cached.
   */
  private async restore(ws: WorkspaceCache, cohorts: Map<string, number | null>, profiles: ProfileAtom[]): Promise<Set<string>> {
    const wanted = new Map<string, Entry['atom']>();
    for (const id of cohorts.keys()) wanted.set(atomKey({ kind: 'cohort', cohortId: id }), { kind: 'cohort', cohortId: id });
    for (const atom of profiles) wanted.set(atomKey(atom), atom);
    const { rows } = await this.db.query<SavedRow>(
      `SELECT b.atom_key, b.as_of, b.members_version::float8 AS members_version, b.token::text AS token, b.bitmap,
              b.as_of IS NOT NULL AND (SELECT pruned_below FROM segment_change_horizon) > pg_snapshot_xmin(b.as_of::pg_snapshot) AS stale,
              CASE WHEN b.as_of IS NOT NULL THEN
                (SELECT string_agg(int4send((c.ordinal - 2147483648)::int4), ''::bytea)
                   FROM (SELECT DISTINCT ordinal FROM segment_user_changes
                          WHERE workspace_id = $1 AND txid >= pg_snapshot_xmin(b.as_of::pg_snapshot)
                            AND NOT pg_visible_in_snapshot(txid, b.as_of::pg_snapshot) LIMIT $3) c)
              END AS changed
         FROM segment_bitmaps b WHERE b.workspace_id = $1 AND b.atom_key = ANY($2::text[])`,
      [ws.workspaceId, [...wanted.keys()], this.reloadAboveChanges + 1],
    );
    const restored = new Set<string>();
    const patches = new Map<string, { changed: Uint32Array; saved: Array<{ key: string; atom: ProfileAtom; bitmap: OrdinalBitmap; token: string }> }>();
    for (const row of rows) {
      const atom = wanted.get(row.atom_key);
      let bitmap: OrdinalBitmap;
      try {
        bitmap = OrdinalBitmap.deserialize(row.bitmap);
      } catch {
        continue; // unreadable: loaded from the tables instead, and saved again
      }
      if (!atom) continue;
      if (atom.kind === 'cohort') {
        const version = cohorts.get(atom.cohortId) ?? null;
        if (row.members_version !== version) continue;
        this.put(ws, { key: row.atom_key, atom, version, bitmap, savedToken: row.token, dirty: false });
        restored.add(row.atom_key);
        continue;
      }
      const changed = unpackOrdinals(row.changed);
      if (row.as_of === null || row.stale || changed.length > this.reloadAboveChanges) continue;
      let group = patches.get(row.as_of);
      if (!group) patches.set(row.as_of, (group = { changed, saved: [] }));
      group.saved.push({ key: row.atom_key, atom, bitmap, token: row.token });
    }
    await Promise.all(
      [...patches.values()].map(async ({ changed, saved }) => {
        const found = changed.length ? await this.scan(ws.workspaceId, saved.map((s) => s.atom), changed) : [];
        const retested = OrdinalBitmap.of(changed);
        saved.forEach((s, i) => {
          const bitmap = changed.length ? s.bitmap.andNot(retested).or(found[i]!) : s.bitmap;
          this.put(ws, { key: s.key, atom: s.atom, bitmap, savedToken: s.token, dirty: changed.length > 0 });
          restored.add(s.key);
        });
      }),
    );
    return restored;
  }

  /** Brings the workspace's bitmaps up to date and picks what to save of its most recently used ones (see `saveOnce`). */
  private async toSave(ws: WorkspaceCache): Promise<SavePlan> {
    await this.refresh(ws, []);
    const all = [...ws.entries.values()];
    const recent = all.slice(Math.max(0, all.length - this.persistAtoms));
    return {
      asOf: ws.snapshot!,
      writes: recent.filter((e) => e.dirty || e.savedToken === undefined).map((entry) => ({ entry, bitmap: entry.bitmap, generation: entry.generation })),
      bumps: recent.filter((e) => !e.dirty && e.savedToken !== undefined),
    };
  }

  /**
   * Writes a save plan. A bump claims that the row this process wrote (its token) holds the bitmap
   * as of `asOf` — true since the bitmap had not changed by then, whatever happened since.
   */
  private async write(workspaceId: string, { asOf, writes, bumps }: SavePlan): Promise<void> {
    if (bumps.length) {
      const { rows } = await this.db.query<{ atom_key: string }>(
        `UPDATE segment_bitmaps b SET as_of = CASE WHEN b.as_of IS NULL THEN NULL ELSE $2 END, saved_at = now()
           FROM unnest($3::text[], $4::uuid[]) AS s(atom_key, token)
          WHERE b.workspace_id = $1 AND b.atom_key = s.atom_key AND b.token = s.token
          RETURNING b.atom_key`,
        [workspaceId, asOf, bumps.map((e) => e.key), bumps.map((e) => e.savedToken)],
      );
      // Rewritten by another process (its copy is as good) or deleted: written whole next time.
      const bumped = new Set(rows.map((r) => r.atom_key));
      for (const e of bumps) if (!bumped.has(e.key)) e.savedToken = undefined;
    }
    for (const { entry: e, bitmap, generation } of writes) {
      const token = randomUUID();
      await this.db.query(
        `INSERT INTO segment_bitmaps (workspace_id, atom_key, as_of, members_version, token, bitmap) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, atom_key) DO UPDATE
           SET as_of = EXCLUDED.as_of, members_version = EXCLUDED.members_version, token = EXCLUDED.token, bitmap = EXCLUDED.bitmap, saved_at = now()`,
        [workspaceId, e.key, e.atom.kind === 'cohort' ? null : asOf, e.atom.kind === 'cohort' ? (e.version ?? null) : null, token, bitmap.serialize()],
      );
      // Patched while this was written: the row is consistent, but older than the bitmap now.
      if (e.generation === generation) {
        e.savedToken = token;
        e.dirty = false;
      }
    }
    await this.db.query(`DELETE FROM segment_bitmaps WHERE workspace_id = $1 AND saved_at < now() - ${SAVED_TTL}`, [workspaceId]);
  }

  /** Loads these profile atoms from the tables, in scans of the workspace's users. */
  private async loadProfiles(ws: WorkspaceCache, missing: ProfileAtom[]): Promise<void> {
    if (!missing.length) return;
    const bitmaps = await this.scan(ws.workspaceId, missing);
    missing.forEach((atom, i) => this.put(ws, { key: atomKey(atom), atom, bitmap: bitmaps[i]! }));
  }

  /**
   * Drops least recently used bitmaps beyond the bounds: first the current workspace's beyond its
   * own bound, then any beyond the totals. Never one used by the current evaluation, nor any of
   * another workspace whose evaluation is in flight (it may have just loaded them).
   */
  private evict(current: WorkspaceCache, tick: number): void {
    for (const entry of current.entries.values()) {
      if (current.entries.size <= this.maxAtomsPerWorkspace || entry.usedAt >= tick) break;
      this.remove(current, entry.key);
    }
    if (this.totalBytes <= this.cacheBytes && this.totalAtoms <= this.maxAtoms) return;
    const droppable: Array<{ ws: WorkspaceCache; entry: Entry }> = [];
    for (const ws of this.workspaces.values()) {
      if (ws.busy && ws !== current) continue;
      for (const entry of ws.entries.values()) if (entry.usedAt < tick) droppable.push({ ws, entry });
    }
    droppable.sort((a, b) => a.entry.usedAt - b.entry.usedAt);
    for (const { ws, entry } of droppable) {
      if (this.totalBytes <= this.cacheBytes && this.totalAtoms <= this.maxAtoms) break;
      this.remove(ws, entry.key);
    }
  }
}
