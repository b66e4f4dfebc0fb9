/**
 * The data dir (`RIVULET_DATA_DIR`): private modes, atomic secret files, and one writer per
 * embedded store (docs/administration.md#the-data-dir).
 *
 * - Modes: the process umask is set to 0o077 before anything is written, so every file created
 *   here (PGlite's too) is 0600 and every directory 0700. An existing dir with wider modes is
 *   tightened at start, with one line on stderr.
 * - Atomic files: a secret file is written to a temp file in the same dir, fsynced, then renamed
 *   (or hard-linked, when it must not replace one) into place, and the dir is fsynced: a crash or a
 *   full disk leaves either the old file or the new one, never an empty or half-written one.
 * - The lock: `rivulet.lock` holds the owner's pid, the kernel's start time of that pid, when it
 *   started, what it is (`server` or `cli`) and, for a server, the URL it serves. A lock whose pid is
 *   dead, or alive with another start time (the pid was reused after a `kill -9`), is stale and
 *   taken over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config.js';

export const LOCK_FILE = 'rivulet.lock';

/** A problem with the data dir that stops the start; the message names the file and the fix. */
export class DataDirError extends ConfigError {
  override name = 'DataDirError';
}

// ---------------------------------------------------------------------------------------------
// Modes

/** Files created by this process from now on are private (0600 files, 0700 directories). */
export function usePrivateUmask(): void {
  // process.umask is not available in worker threads; the servers and the CLI run on the main one.
  try {
    process.umask(0o077);
  } catch {
    /* a worker thread: files are still created with explicit modes where they hold secrets */
  }
}

/**
 * Creates the data dir (0700) if missing and tightens what is already there: directories to 0700,
 * files to 0600 (symbolic links are left alone). Returns how many entries were tightened; one line
 * on stderr says so when any were.
 */
export async function preparePrivateDir(dir: string, log: (line: string) => void = stderrLine): Promise<number> {
  usePrivateUmask();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let tightened = 0;
  const walk = async (path: string, isDir: boolean): Promise<void> => {
    const st = await lstat(path).catch(() => undefined);
    if (!st || st.isSymbolicLink()) return;
    const want = isDir ? 0o700 : 0o600;
    if ((st.mode & 0o077) !== 0) {
      // A file PGlite removed meanwhile is no longer anyone's concern.
      if (await chmod(path, (st.mode & 0o700) | want).then(() => true, () => false)) tightened++;
    }
    if (!isDir) return;
    for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
      if (entry.isSymbolicLink()) continue;
      await walk(join(path, entry.name), entry.isDirectory());
    }
  };
  await walk(dir, true);
  if (tightened) log(`rivulet: tightened the modes of ${tightened} entries under ${dir} to 0700 (directories) / 0600 (files): other users could read them`);
  return tightened;
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Atomic files

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    /* some filesystems refuse fsync on a directory; the rename is still atomic */
  } finally {
    await handle.close();
  }
}

async function writeTemp(path: string, data: string): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  return temp;
}

/** Writes `data` to `path` atomically (temp file, fsync, rename, fsync dir), mode 0600. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const temp = await writeTemp(path, data);
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(path));
}

/**
 * Like writeFileAtomic, but only if `path` does not exist yet (a hard link never replaces a file).
 * Returns false, writing nothing, when another writer got there first.
 */
export async function createFileAtomic(path: string, data: string): Promise<boolean> {
  const temp = await writeTemp(path, data);
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => {});
  }
  await fsyncDir(dirname(path));
  return true;
}

// ---------------------------------------------------------------------------------------------
// The lock

export interface LockOwner {
  pid: number;
  /** The kernel's start time of `pid` (clock ticks after boot; /proc/<pid>/stat field 22), when known. */
  start: string | null;
  /** When the owner started, ISO-8601. */
  since: string;
  kind: 'server' | 'cli';
  /** What runs (`rivulet serve`, `rivulet keys create`). */
  command: string;
  /** Where a server answers (set once it listens); the CLI talks to it there. */
  url?: string;
}

/** The kernel's start time of a process, or null where /proc is not there (not Linux). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the lock's owner still runs: its pid is alive and, where known, started when it says. */
export function ownerAlive(owner: LockOwner): boolean {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.start === null) return true;
  const now = processStartTime(owner.pid);
  return now === null || now === owner.start;
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || typeof v.since !== 'string' || (v.kind !== 'server' && v.kind !== 'cli')) return undefined;
    return { pid: v.pid, start: typeof v.start === 'string' ? v.start : null, since: v.since, kind: v.kind, command: String(v.command ?? ''), ...(typeof v.url === 'string' ? { url: v.url } : {}) };
  } catch {
    return undefined;
  }
}

/** The lock's owner as recorded, or undefined when there is no lock (or it cannot be read). */
export async function readLock(dataDir: string): Promise<LockOwner | undefined> {
  const raw = await readFile(join(dataDir, LOCK_FILE), 'utf8').catch(() => undefined);
  return raw === undefined ? undefined : parseOwner(raw);
}

/** Another live process holds the data dir. */
export class DataDirLockedError extends DataDirError {
  override name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `the data dir ${dataDir} is in use by another Rivulet process: pid ${owner.pid} (${owner.command || owner.kind}), running since ${owner.since}` +
        `${owner.url ? `, serving ${owner.url}` : ''}. One process at a time may open the embedded store: stop that one first, or give this one another RIVULET_DATA_DIR` +
        ` (or run several servers on one PostgreSQL with DATABASE_URL). The rivulet CLI works beside a running server: it goes through its admin API.`,
    );
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  readonly owner: LockOwner;
  /** Set when a stale lock (its owner was killed) was taken over: who held it. */
  readonly tookOver: LockOwner | undefined;
  /** Records more about the owner (the URL once the server listens). */
  update(more: Partial<Pick<LockOwner, 'url'>>): Promise<void>;
  release(): Promise<void>;
}

const held = new Map<string, DataDirLock>();

/** The lock this process holds on a data dir, if any. */
export function heldLock(dataDir: string): DataDirLock | undefined {
  return held.get(resolve(dataDir));
}

function selfOwner(kind: LockOwner['kind'], command: string): LockOwner {
  return { pid: process.pid, start: processStartTime(process.pid), since: new Date(Date.now() - process.uptime() * 1000).toISOString(), kind, command };
}

export interface AcquireOptions {
  kind: LockOwner['kind'];
  command?: string;
  /** How long to wait for a holder that is not a server (a CLI command ends soon); 0 fails at once. */
  waitForCliMs?: number;
}

/**
 * Takes the data dir's lock or throws DataDirLockedError naming the live holder. A stale lock is
 * taken over (returned in `tookOver`), under a second lock file so that two processes finding the
 * same stale lock cannot both take it.
 */
export async function acquireDataDirLock(dataDir: string, opts: AcquireOptions): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  const owner = selfOwner(opts.kind, opts.command ?? `rivulet ${process.argv.slice(2, 4).join(' ')}`.trim());
  const content = `${JSON.stringify(owner)}\n`;
  const deadline = Date.now() + (opts.waitForCliMs ?? 0);
  let tookOver: LockOwner | undefined;
  for (;;) {
    if (await createFileAtomic(file, content)) break;
    const raw = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
    if (raw === null) continue;
    const holder = parseOwner(raw);
    if (holder && ownerAlive(holder)) {
      if (holder.kind === 'cli' && Date.now() < deadline) {
        await sleep(100);
        continue;
      }
      throw new DataDirLockedError(dataDir, holder);
    }
    // Stale (its owner is gone) or unreadable (a lock is only ever published whole, so a torn one
    // was never a live lock): remove it if it is still the one we read.
    if (await removeIfUnchanged(file, raw)) tookOver = holder ?? tookOver;
  }
  let current = owner;
  let released = false;
  const onExit = () => {
    // The process ends without close() (process.exit): give the lock back if it is still ours.
    try {
      if (readFileSync(file, 'utf8') === `${JSON.stringify(current)}\n`) unlinkSync(file);
    } catch {
      /* gone already */
    }
  };
  process.on('exit', onExit);
  const lock: DataDirLock = {
    dataDir: dir,
    get owner() {
      return current;
    },
    tookOver,
    async update(more) {
      if (released) return;
      current = { ...current, ...more };
      await writeFileAtomic(file, `${JSON.stringify(current)}\n`);
      // Released while this was written (the process is stopping): do not leave it behind.
      if (released) await removeIfUnchanged(file, `${JSON.stringify(current)}\n`);
    },
    async release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      held.delete(dir);
      await removeIfUnchanged(file, `${JSON.stringify(current)}\n`);
    },
  };
  held.set(dir, lock);
  return lock;
}

/** Deletes `file` if it still holds `raw`, under `<file>.takeover` so that only one process decides. */
async function removeIfUnchanged(file: string, raw: string): Promise<boolean> {
  const guard = `${file}.takeover`;
  const me = `${JSON.stringify(selfOwner('cli', 'lock takeover'))}\n`;
  for (let i = 0; ; i++) {
    if (await createFileAtomic(guard, me)) break;
    const other = parseOwner(await readFile(guard, 'utf8').catch(() => ''));
    if (!other || !ownerAlive(other) || i > 100) await unlink(guard).catch(() => {});
    else await sleep(20);
  }
  try {
    const now = await readFile(file, 'utf8').catch(() => null);
    if (now !== raw) return false;
    await unlink(file);
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
