/**
 * The acceptance run of issue #5 at full size: 200,000 events through `/users/track` and
 * `/currents/events` reach the Mixpanel emulator while it answers 10% 429s, 2% 503s and a 30-second
 * 401 outage; the emulator's deduplicated view must hold exactly the expected events (none lost,
 * none doubled), the skip counters must match, and the outage must cost one failure notice and one
 * recovery notice. Real delays by default: backoff 2 s doubling to 60 s plus 1–5 s of jitter, and a
 * failed connector retries every 2 minutes (the shortest interval docs/reference/currents.md §3 allows).
 *
 *   npx tsx bench/currents-e2e.ts [--events=200000] [--outage-ms=30000] [--delay-scale=1]
 *                                 [--backend=postgres|pglite] [--batch-byte-cap=9437184]
 *
 * The scenario is test/currents-scenario.ts, the same one test/currents-e2e.db.test.ts runs small.
 */
function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

const events = Number(arg('events', '200000'));
const outageMs = Number(arg('outage-ms', '30000'));
const delayScale = arg('delay-scale', '1');
const backend = arg('backend', 'postgres');
const batchByteCap = Number(arg('batch-byte-cap', String(9 * 1024 * 1024)));

// Read when the modules below load: the backend of the test server and the export's delays.
process.env.RIVULET_TEST_BACKEND = backend;
process.env.RIVULET_CURRENTS_DELAY_SCALE = delayScale;
process.env.RIVULET_CURRENTS_AUTH_RETRY_MS = '120000';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '1000';

const { startTestServer } = await import('../src/test-support/server.js');
const { projectCreds, startEmulator } = await import('../test/currents-support.js');
const { runExportScenario } = await import('../test/currents-scenario.js');
const { printConditions } = await import('./conditions.js');

const project = projectCreds('9101');
const sameCounts = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const emulator = await startEmulator([project], { seed: 2026 });
const server = await startTestServer({ RIVULET_RATE_LIMIT_TRACK: '1000000', RIVULET_RATE_LIMIT_CURRENTS: '1000000', LOG_LEVEL: 'silent' });
const conditions = await printConditions({
  title: `the Currents acceptance run on ${backend}`,
  db: server.testDb.db,
  tables: ['users', 'event_batches'],
  settings: { events, outage_ms: outageMs, delay_scale: delayScale, batch_byte_cap: batchByteCap },
});
const t0 = Date.now();
let lastSay = 0;
try {
  console.error(`acceptance: ${events.toLocaleString('en-US')} events, ${outageMs / 1000} s 401 outage, delay scale ${delayScale}, ${backend}, batch cap ${batchByteCap} bytes`);
  const r = await runExportScenario({
    server,
    emulator,
    project,
    events,
    outageMs,
    batchByteCap,
    timeoutMs: 1_800_000,
    progress: (line) => {
      if (Date.now() - lastSay < 5000 && !line.startsWith('401') && !line.startsWith('ingestion')) return;
      lastSay = Date.now();
      console.error(`  t+${((Date.now() - t0) / 1000).toFixed(0)} s  ${line}`);
    },
  });
  const checks: Array<[string, boolean]> = [
    ['dedup view equals the mapping of the log (none lost, none doubled)', r.matches && r.delivered === r.expectedSent],
    ['injected 429s, 503s and 401s were answered', (r.statuses['429'] ?? 0) > 0 && (r.statuses['503'] ?? 0) > 0 && (r.statuses['401'] ?? 0) > 0],
    ['skip counters equal the log’s', sameCounts(r.skipped, r.expectedSkipped)],
    ['skip counters equal the generator’s', r.skipped['before_2010'] === r.generatedSkips.before_2010 && r.skipped['invalid_distinct_id'] === r.generatedSkips.invalid_distinct_id && r.skipped['no_external_user_id'] === r.generatedSkips.no_external_user_id],
    ['sent = expected, nothing dead-lettered, read = sent + skipped + dead-lettered', r.status.sent === r.expectedSent && r.status.dead_lettered_total === 0 && r.status.read === r.logEvents],
    ['one failure notice, one recovery notice', JSON.stringify(r.notices) === JSON.stringify(['connector_failed', 'connector_recovered'])],
  ];
  console.log(`\nacceptance run: ${r.logEvents.toLocaleString('en-US')} events logged (${r.produced.track.toLocaleString('en-US')} by /users/track, ${r.produced.publish.toLocaleString('en-US')} by /currents/events, ${r.produced.duplicates.toLocaleString('en-US')} duplicate publishes acknowledged)`);
  console.log(`  ${r.expectedSent.toLocaleString('en-US')} to send; the emulator holds ${r.delivered.toLocaleString('en-US')} deduplicated (${r.raw.toLocaleString('en-US')} raw)`);
  console.log(`  answers: ${JSON.stringify(r.statuses)}; retries ${r.status.retries}; skipped ${JSON.stringify(r.skipped)}`);
  console.log(`  ingestion ${(r.timings.ingestMs / 1000).toFixed(1)} s; outage from t+${((r.timings.outageStartedAtMs ?? 0) / 1000).toFixed(1)} s; caught up at t+${(r.timings.totalMs / 1000).toFixed(1)} s`);
  for (const [label, ok] of checks) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${label}`);
  conditions.end();
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  await server.close();
  await emulator.close();
}
