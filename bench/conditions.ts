/**
 * What a reader needs to compare two runs of a bench, printed by every bench before it measures
 * and after: the CPU model and core count, memory, Node, the database (PostgreSQL's version and the
 * settings that move these figures, or PGlite), the load average before and during the run, the
 * machine's busy share while it ran, and the row counts and sizes of the tables it starts from.
 *
 *   const conditions = await printConditions({ title: 'cohort import', db, tables: ['users'] });
 *   … measure …
 *   conditions.end();
 */
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import pg from 'pg';
import type { Queryable } from '../src/storage/index.js';

/** The PostgreSQL settings that change throughput and latency figures. */
export const PG_SETTINGS = [
  'shared_buffers',
  'synchronous_commit',
  'fsync',
  'full_page_writes',
  'wal_level',
  'wal_buffers',
  'max_wal_size',
  'checkpoint_timeout',
  'autovacuum',
  'max_connections',
  'work_mem',
  'effective_cache_size',
  'jit',
] as const;

export interface ConditionsOptions {
  /** What is being measured (printed in the header). */
  title: string;
  /** A connection to the bench's store (PostgreSQL or PGlite); or `pgUrl` to open one here. */
  db?: Queryable;
  pgUrl?: string;
  /** Tables whose row counts and sizes the run starts from. */
  tables?: string[];
  /** Anything else the bench's result depends on (its options), printed as given. */
  settings?: Record<string, unknown>;
  /** Where to print (console.log by default). */
  print?: (line: string) => void;
}

export interface LoadSummary {
  samples: number;
  min: number;
  max: number;
  mean: number;
  /** Share of all cores busy (user + system + …) between the start and the end, from os.cpus(). */
  busyPercent: number;
  seconds: number;
}

export interface Conditions {
  /** The lines printed at the start. */
  lines: string[];
  /** Stops sampling and returns the load during the run. */
  stop(): LoadSummary;
  /** Stops sampling and prints the load during the run. */
  end(): LoadSummary;
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

function cpuModel(): string {
  const model = cpus()[0]?.model?.trim();
  if (model && model !== 'unknown') return model;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => /^(model name|Hardware|Processor)\s*:/.test(l));
    return line ? line.split(':')[1]!.trim() : 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const mib = (bytes: number) => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(0)} kB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`);

/** The machine: CPU, cores, memory, kernel, Node. */
export function machineLine(): string {
  return `machine: ${cpuModel()}, ${cpus().length} cores, ${mib(totalmem())} RAM (${mib(freemem())} free), Linux ${release()}, Node ${process.version}`;
}

function settingValue(r: { name: string; setting: string; unit: string | null }): string {
  if (!r.unit) return r.setting;
  // pg_settings gives sizes in units of e.g. 8kB; print them in plain bytes-ish units.
  const m = /^(\d+)?(kB|MB|GB)$/.exec(r.unit);
  if (m) {
    const kb = Number(r.setting) * Number(m[1] ?? 1) * (m[2] === 'MB' ? 1024 : m[2] === 'GB' ? 1024 * 1024 : 1);
    return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(kb % (1024 * 1024) ? 1 : 0)}GB` : kb >= 1024 ? `${(kb / 1024).toFixed(kb % 1024 ? 1 : 0)}MB` : `${kb}kB`;
  }
  return `${r.setting}${r.unit}`;
}

/** The database's version and the settings that matter, as printable lines. */
export async function databaseLines(db: Queryable): Promise<string[]> {
  const { rows: v } = await db.query<{ v: string }>('SELECT version() AS v');
  const version = String(v[0]?.v ?? '');
  const { rows } = await db.query<{ name: string; setting: string; unit: string | null }>('SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])', [
    [...PG_SETTINGS],
  ]);
  const byName = new Map(rows.map((r) => [r.name, settingValue(r)]));
  const settings = PG_SETTINGS.filter((n) => byName.has(n)).map((n) => `${n}=${byName.get(n)}`);
  const isPglite = /emscripten|wasm/i.test(version);
  return [`database: ${isPglite ? 'PGlite (PostgreSQL in WebAssembly, in this process), ' : ''}${version.split(',')[0]}`, `  settings: ${settings.join(' ')}`];
}

/**
 * Row counts and on-disk sizes of `tables` (exact counts; an estimate from the statistics, marked
 * ≈, when counting takes over 5 s). A missing table is reported as such.
 */
export async function tableLines(db: Queryable, tables: string[]): Promise<string[]> {
  if (!tables.length) return [];
  const parts: string[] = [];
  for (const table of tables) {
    const { rows: exists } = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table]);
    if (!exists[0]?.ok) {
      parts.push(`${table} (none)`);
      continue;
    }
    const { rows: size } = await db.query<{ bytes: number; estimate: number }>(
      `SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                WHERE c.oid = $1::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass))::int8 AS bytes,
              (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c
                WHERE c.oid = $1::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass))::int8 AS estimate`,
      [table],
    );
    let count: string;
    try {
      const counted = (await Promise.race([
        db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${table.replace(/[^\w.]/g, '')}`),
        new Promise((_, reject) => setTimeout(() => reject(new Error('slow')), 5000).unref()),
      ])) as { rows: Array<{ n: number }> };
      count = Number(counted.rows[0]?.n ?? 0).toLocaleString('en-US');
    } catch {
      count = `≈${Number(size[0]?.estimate ?? 0).toLocaleString('en-US')}`;
    }
    parts.push(`${table} ${count} rows ${mib(Number(size[0]?.bytes ?? 0))}`);
  }
  return [`starting from: ${parts.join('; ')}`];
}

async function withDb<T>(opts: { db?: Queryable; pgUrl?: string }, work: (db: Queryable) => Promise<T>): Promise<T> {
  if (opts.db) return work(opts.db);
  if (!opts.pgUrl) throw new Error('no database given');
  const client = new pg.Client({ connectionString: opts.pgUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work({
      query: async (sql: string, params?: readonly unknown[]) => {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
      },
      exec: async (sql: string) => void (await client.query(sql)),
    } as Queryable);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Prints the row counts and sizes a measurement starts from (for a bench that fills its tables after printConditions). */
export async function printStartingRows(opts: { label: string; db?: Queryable; pgUrl?: string; tables: string[]; print?: (line: string) => void }): Promise<void> {
  const print = opts.print ?? ((l: string) => console.log(l));
  try {
    for (const l of await withDb(opts, (db) => tableLines(db, opts.tables))) print(`  ${opts.label}: ${l}`);
  } catch (err) {
    print(`  ${opts.label}: row counts unknown (${(err as Error).message})`);
  }
}

/** Samples the 1-minute load average every `everyMs` until stopped. */
export function watchLoad(everyMs = 2000): { stop(): LoadSummary } {
  const startedAt = Date.now();
  const startCpu = cpuTimes();
  const samples: number[] = [loadavg()[0]!];
  const timer = setInterval(() => samples.push(loadavg()[0]!), everyMs);
  timer.unref();
  let summary: LoadSummary | undefined;
  return {
    stop() {
      if (summary) return summary;
      clearInterval(timer);
      samples.push(loadavg()[0]!);
      const endCpu = cpuTimes();
      const total = endCpu.total - startCpu.total;
      summary = {
        samples: samples.length,
        min: Math.min(...samples),
        max: Math.max(...samples),
        mean: samples.reduce((a, b) => a + b, 0) / samples.length,
        busyPercent: total > 0 ? (100 * (endCpu.busy - startCpu.busy)) / total : 0,
        seconds: (Date.now() - startedAt) / 1000,
      };
      return summary;
    },
  };
}

export function loadLine(s: LoadSummary): string {
  return (
    `load during the run (${s.seconds.toFixed(0)} s): 1-min load average ${s.min.toFixed(2)}–${s.max.toFixed(2)} (mean ${s.mean.toFixed(2)}, ${s.samples} samples); ` +
    `machine busy ${s.busyPercent.toFixed(0)}% of ${cpus().length} cores`
  );
}

/**
 * Prints the conditions (see the module comment) and starts watching the load; call `end()` when
 * the measurement is over. Never fails the bench: what cannot be read is printed as unknown.
 */
export async function printConditions(opts: ConditionsOptions): Promise<Conditions> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const lines: string[] = [`conditions of ${opts.title}:`, `  ${machineLine()}`, `  load average before: ${fmtLoad(loadavg())} (1, 5, 15 min)`];
  if (opts.db || opts.pgUrl) {
    try {
      const found = await withDb(opts, async (db) => [...(await databaseLines(db)), ...(await tableLines(db, opts.tables ?? []))]);
      for (const l of found) lines.push(`  ${l}`);
    } catch (err) {
      lines.push(`  database: unknown (${(err as Error).message})`);
    }
  } else {
    lines.push('  database: not reachable from the bench process (PGlite inside the server)');
  }
  if (opts.settings) lines.push(`  bench options: ${Object.entries(opts.settings).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`);
  for (const l of lines) print(l);
  const watch = watchLoad();
  return {
    lines,
    stop: () => watch.stop(),
    end() {
      const s = watch.stop();
      print(`  ${loadLine(s)}`);
      return s;
    },
  };
}
