/**
 * Test databases. Each test file gets its own: an in-memory PGlite, or a fresh PostgreSQL
 * database created on the local server and dropped afterwards, so files run in parallel and leave
 * nothing behind. `RIVULET_TEST_BACKEND` (set by the vitest project) chooses.
 *
 * An in-memory PGlite starts from a template: the data directory of an empty cluster, or of one
 * with every migration applied, dumped once and loaded by every test file. Creating a PGlite runs
 * initdb inside WebAssembly (2–12 s on a busy 2-core machine, the larger part of a PGlite file's
 * set-up); loading the dump skips it and the migrations. The template is cached under
 * node_modules/.cache/rivulet-test/, keyed by the PGlite version, the migrations' text and the UTC
 * day (the log's first partition reaches two days past its creation), so a stale one is never used.
 * RIVULET_TEST_PGLITE_TEMPLATE=0 creates each database from scratch.
 *
 * A migrated PostgreSQL test database is likewise copied from a template database on the server
 * (`CREATE DATABASE … TEMPLATE`, ≈0.7 s on a busy machine against ≈3 s for creating one and
 * applying every migration), named after the same key (`rivulet_tpl_<day>_<hash>`) and made once by
 * the postgres project's global set-up. RIVULET_TEST_PG_TEMPLATE=0 migrates each database instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dumpPglite } from '../storage/pglite.js';
import { loadMigrations, migrate, openPglite, openPostgres, type BackendKind, type Db } from '../storage/index.js';

export const TEST_BACKEND: BackendKind = process.env.RIVULET_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';
export const TEST_PG_ADMIN_URL = process.env.RIVULET_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  db: Db;
  /** Connection string of the test database (PostgreSQL only), for a second process or client. */
  url?: string;
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A new, empty database on the test server (`template`: a copy of that database instead). */
export async function createTestDatabaseUrl(template?: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rivulet_t_${randomBytes(6).toString('hex')}`;
  // WAL_LOG (PostgreSQL 15's default) copies block by block without the checkpoint FILE_COPY needs.
  await adminQuery(template ? `CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY WAL_LOG` : `CREATE DATABASE ${name}`);
  return {
    url: databaseUrl(name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/rivulet-test/', import.meta.url));
const templates = new Map<string, Promise<Blob | undefined>>();

/** The cache key of a template: what its contents depend on. */
async function templateKey(migrated: boolean): Promise<string> {
  const hash = createHash('sha256');
  const version = (JSON.parse(await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  hash.update(`pglite ${version}\n`);
  if (migrated) {
    hash.update(new Date().toISOString().slice(0, 10));
    for (const m of await loadMigrations()) hash.update(`\n${m.name}\n${m.sql}`);
  }
  return `pglite-${migrated ? 'migrated' : 'empty'}-${hash.digest('hex').slice(0, 16)}.tar`;
}

async function makeTemplate(migrated: boolean): Promise<Blob> {
  const db = await openPglite();
  try {
    if (migrated) await migrate(db);
    await db.exec('CHECKPOINT');
    return await dumpPglite(db);
  } finally {
    await db.close();
  }
}

/** Makes the template file unless the cache has it; returns its path and, when made here, its contents. */
async function ensureTemplate(migrated: boolean): Promise<{ path: string; made?: Blob }> {
  const name = await templateKey(migrated);
  const path = join(CACHE_DIR, name);
  try {
    await access(path);
    return { path };
  } catch {
    /* not made yet */
  }
  const made = await makeTemplate(migrated);
  await mkdir(CACHE_DIR, { recursive: true });
  // Several test processes may make it at once: each writes its own file, the last rename wins, each is whole.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, Buffer.from(await made.arrayBuffer()));
  await rename(tmp, path);
  // Older templates of this kind (other migrations, an earlier day) are never read again.
  const kind = migrated ? 'migrated' : 'empty';
  for (const f of await readdir(CACHE_DIR)) {
    if (f.startsWith(`pglite-${kind}-`) && f !== name && !f.includes('.tar.')) await rm(join(CACHE_DIR, f), { force: true });
  }
  return { path, made };
}

let pgTemplate: Promise<string | undefined> | undefined;

/**
 * The name of the migrated PostgreSQL template database, made unless the server has it (or
 * undefined when switched off). Several processes may make it at once: each migrates a database
 * of its own name and renames it; the first rename wins and the others drop theirs. Nothing ever
 * connects to the template after the rename (a copy needs it unused).
 */
export function postgresTemplate(): Promise<string | undefined> {
  if (process.env.RIVULET_TEST_PG_TEMPLATE === '0') return Promise.resolve(undefined);
  pgTemplate ??= (async () => {
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    const hash = createHash('sha256');
    for (const m of await loadMigrations()) hash.update(`\n${m.name}\n${m.sql}`);
    const name = `rivulet_tpl_${day}_${hash.digest('hex').slice(0, 16)}`;
    const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount) return name;
      const making = `${name}_${randomBytes(4).toString('hex')}`;
      await client.query(`CREATE DATABASE ${making}`);
      const db = openPostgres({ connectionString: databaseUrl(making), maxConnections: 2 });
      try {
        await migrate(db);
      } finally {
        await db.close();
      }
      try {
        await client.query(`ALTER DATABASE ${making} RENAME TO ${name}`);
      } catch (err) {
        await client.query(`DROP DATABASE IF EXISTS ${making} WITH (FORCE)`);
        if ((err as { code?: string }).code !== '42P04') throw err; // 42P04: another process made it first
      }
      // Templates from before yesterday are never used again (the event log's first partition has
      // run out; a run that began yesterday may still be copying yesterday's).
      const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'rivulet\\_tpl\\_%'`);
      for (const { datname } of rows) {
        const madeOn = /^rivulet_tpl_(\d{8})_/.exec(datname)?.[1];
        if (madeOn && madeOn < yesterday) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
      }
      return name;
    } finally {
      await client.end();
    }
  })();
  return pgTemplate;
}

/** Both templates, made before the test processes start (the pglite project's global set-up). */
export async function ensurePgliteTemplates(): Promise<void> {
  if (process.env.RIVULET_TEST_PGLITE_TEMPLATE === '0') return;
  await ensureTemplate(true);
  await ensureTemplate(false);
}

/** The template's tarball (read once per process), or undefined when templates are switched off. */
export function pgliteTemplate(migrated: boolean): Promise<Blob | undefined> {
  if (process.env.RIVULET_TEST_PGLITE_TEMPLATE === '0') return Promise.resolve(undefined);
  const kind = migrated ? 'migrated' : 'empty';
  let found = templates.get(kind);
  if (!found) {
    found = ensureTemplate(migrated).then(async ({ path, made }) => made ?? new Blob([await readFile(path)]));
    templates.set(kind, found);
  }
  return found;
}

export async function openTestDb(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  if (TEST_BACKEND === 'pglite') {
    const migrated = opts.migrate !== false;
    const template = await pgliteTemplate(migrated);
    const db = template ? await openPglite(undefined, { loadDataDir: template }) : await openPglite();
    if (migrated && !template) await migrate(db);
    return { db, drop: () => db.close() };
  }
  const template = opts.migrate !== false ? await postgresTemplate() : undefined;
  const created = await createTestDatabaseUrl(template);
  const db = openPostgres({ connectionString: created.url, maxConnections: 10 });
  if (opts.migrate !== false && !template) await migrate(db);
  return {
    db,
    url: created.url,
    async drop() {
      await db.close();
      await created.drop();
    },
  };
}
