/**
 * Bytes on disk of the event log over several retention windows: events are appended under a
 * simulated clock, partitions are prepared and expired ones dropped as the server does
 * (src/events/retention.ts), and after each window the log's size on disk is printed with bytes per
 * million events kept. With a connector keeping up, the size levels off after the first window.
 *
 *   npx tsx bench/event-log-size.ts [--windows=5] [--events-per-window=200000] [--db=postgres://…]
 *
 * The database is created on the given server (default postgres://postgres@127.0.0.1:5432/test) and
 * dropped afterwards. Events are /users/track-shaped custom events in batches of 75, as one request
 * writes them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { enforceRetention, ensurePartitions } from '../src/events/retention.js';
import { migrate, openPostgres } from '../src/storage/index.js';
import { ensureWorkspace } from '../src/workspaces/index.js';
import { printConditions } from './conditions.js';

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : fallback;
}

const WINDOWS = Number(option('windows', '5'));
const PER_WINDOW = Number(option('events-per-window', '200000'));
const ADMIN = option('db', 'postgres://postgres@127.0.0.1:5432/test');
const HOUR = 3_600_000;
const window = { windowMs: 7 * 24 * HOUR, partitionMs: 24 * HOUR };
const BATCH = 75;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function batch(userIds: string[], n: number): string {
  const names = ['page_view', 'add_to_cart', 'search', 'video_play', 'share'];
  return JSON.stringify(
    Array.from({ length: BATCH }, (_, i) => ({
      event_type: 'users.behaviors.CustomEvent',
      id: randomUUID(),
      time: 1_700_000_000 + n,
      user: { user_id: userIds[(n * BATCH + i) % userIds.length], external_user_id: `bench-user-${(n * BATCH + i) % userIds.length}` },
      properties: { app_id: 'bench', name: names[i % names.length], custom_properties: { plan: 'pro', step: i % 10, price: (i * 37) % 10000 / 100 }, app_group_id: 'ws' },
    })),
  );
}

async function main(): Promise<void> {
  const name = `rivulet_size_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const db = openPostgres({ connectionString: url.toString(), maxConnections: 4 });
  try {
    await migrate(db);
    const ws = (await ensureWorkspace(db, 'default')).id;
    const users = Array.from({ length: 10_000 }, () => randomUUID());
    console.log(
      `event log size over ${WINDOWS} windows of 7 days (partitions of 1 day), ${PER_WINDOW.toLocaleString('en-US')} events per window in batches of ${BATCH}; ` +
        `no connector behind the window; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    );
    const conditions = await printConditions({ title: 'the event log size bench', db, tables: ['event_batches', 'published_event_ids'], settings: { windows: WINDOWS, per_window: PER_WINDOW, batch: BATCH } });
    console.log('window  events kept  partitions  bytes on disk  bytes per million events kept');
    const start = Math.ceil((Date.now() + 3 * 24 * HOUR) / (24 * HOUR)) * 24 * HOUR; // past the migration's first partition
    const perDay = Math.ceil(PER_WINDOW / 7 / BATCH);
    let n = 0;
    for (let w = 1; w <= WINDOWS; w++) {
      for (let day = 0; day < 7; day++) {
        const now = new Date(start + ((w - 1) * 7 + day) * 24 * HOUR);
        await ensurePartitions(db, window, now);
        for (let b = 0; b < perDay; b += 40) {
          const rows = Math.min(40, perDay - b);
          const bodies = Array.from({ length: rows }, () => batch(users, n++));
          await db.query(
            `INSERT INTO event_batches (workspace_id, count, min_time, max_time, events, recorded_at)
             SELECT $1, ${BATCH}, 1700000000, 1700000000, e::json, $3 FROM unnest($2::text[]) AS e`,
            [ws, bodies, new Date(now.getTime() + b)],
          );
        }
        await enforceRetention(db, window, now);
      }
      const { rows } = await db.query<{ events: number; partitions: number; bytes: number }>(
        `SELECT (SELECT coalesce(sum(count), 0) FROM event_batches)::int8 AS events,
                (SELECT count(*) FROM event_log_partitions WHERE parent = 'event_batches')::int8 AS partitions,
                (SELECT coalesce(sum(pg_total_relation_size(quote_ident(name)::regclass)), 0) FROM event_log_partitions WHERE parent = 'event_batches')::int8 AS bytes`,
      );
      const r = rows[0]!;
      const perMillion = r.events ? (r.bytes / r.events) * 1e6 : 0;
      console.log(
        `${String(w).padStart(6)}  ${r.events.toLocaleString('en-US').padStart(11)}  ${String(r.partitions).padStart(10)}  ${r.bytes.toLocaleString('en-US').padStart(13)}  ${Math.round(perMillion).toLocaleString('en-US').padStart(29)}`,
      );
    }
    conditions.end();
  } finally {
    await db.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
