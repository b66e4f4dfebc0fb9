/**
 * The import boundaries of docs/architecture.md#boundaries, checked over the whole of `src/`
 * (rules and reasons in ./import-rules.ts). The first block proves each rule fails on a made-up
 * tree that breaks it, so the check over `src/` cannot pass vacuously.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkImports, type Violation } from './import-rules.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourcesUnder(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) {
      // The dashboard's browser code is its own TypeScript project (src/web/app/tsconfig.json).
      if (path !== 'src/web/app' && entry !== 'node_modules') sourcesUnder(path, out);
    } else if (/\.tsx?$/.test(entry) && !entry.endsWith('.d.ts')) {
      out.set(relative(ROOT, join(ROOT, path)), readFileSync(join(ROOT, path), 'utf8'));
    }
  }
  return out;
}

const show = (v: Violation) => `${v.rule} ${v.file} — ${v.detail}`;
const rulesOf = (files: Record<string, string>) => checkImports(new Map(Object.entries(files))).map((v) => v.rule);

describe('the import rules', () => {
  it('find a cycle, type-only imports included', () => {
    expect(rulesOf({
      'src/a/x.ts': "import type { Y } from './y.js';\nexport type X = Y;",
      'src/a/y.ts': "import type { X } from './x.js';\nexport type Y = X;",
    })).toEqual(['cycle']);
    expect(rulesOf({
      'src/a/x.ts': "export { y } from './y.js';",
      'src/a/y.ts': "export const y = 1; export const z = () => import('./x.js');",
    })).toEqual(['cycle']);
  });

  it('find a cycle between capabilities through their front doors', () => {
    expect(rulesOf({
      'src/a/index.ts': "export { x } from './x.js';",
      'src/a/x.ts': "import { y } from '../b/index.js';\nexport const x = y;",
      'src/b/index.ts': "export const y = 1;",
      'src/b/other.ts': "import { x } from '../a/index.js';\nexport const w = x;",
    })).toEqual(['cycle']);
  });

  it("find an import of another capability's internals, and allow its index.ts and contract.ts", () => {
    expect(rulesOf({
      'src/a/x.ts': "import { y } from '../b/y.js';\nexport const x = y;",
      'src/b/y.ts': 'export const y = 1;',
    })).toEqual(['internal-import']);
    expect(rulesOf({
      'src/a/x.ts': "import { y } from '../b/index.js';\nimport type { C } from '../b/contract.js';\nimport { z } from './deep/z.js';",
      'src/a/deep/z.ts': 'export const z = 1;',
      'src/b/index.ts': 'export const y = 1;',
      'src/b/contract.ts': 'export type C = 1;',
    })).toEqual([]);
  });

  it('find production code importing server.ts or the test harness; tests may', () => {
    expect(rulesOf({
      'src/a/x.ts': "import { createRivulet } from '../server.js';",
      'src/server.ts': 'export const createRivulet = 1;',
    })).toEqual(['composition-root']);
    expect(rulesOf({
      'src/a/x.ts': "import { openTestDb } from '../test-support/db.js';",
      'src/a/y.ts': "import { start } from './pull/testing.js';",
      'src/a/pull/testing.ts': 'export const start = 1;',
      'src/test-support/db.ts': 'export const openTestDb = 1;',
    })).toEqual(['test-harness', 'test-harness']);
    expect(rulesOf({
      'src/a/x.test.ts': "import { openTestDb } from '../test-support/db.js';\nimport { c } from '../server.js';\nimport { y } from '../b/y.js';",
      'src/b/y.ts': 'export const y = 1;',
      'src/server.ts': 'export const c = 1;',
      'src/test-support/db.ts': 'export const openTestDb = 1;',
      'src/cli/main.ts': "import { c } from '../server.js';",
    })).toEqual([]);
  });

  it('find process.env outside src/config.ts, in every spelling', () => {
    expect(rulesOf({
      'src/a/x.ts': "export const a = process.env.A;\nexport const b = process['env'];\nconst { env } = process;",
      'src/config.ts': 'export const c = process.env.C;',
      'src/a/x.test.ts': 'export const t = process.env.T;',
    })).toEqual(['process-env', 'process-env', 'process-env']);
  });
});

/**
 * Violations present when the check was introduced, removed as they are fixed. A new violation
 * fails the test; so does a fixed one still listed here.
 */
const KNOWN: string[] = [
  "internal-import src/cli/currents.ts — imports src/currents/backfill/progress.ts (another capability's internals; use src/currents/index.ts)",
  "internal-import src/cli/currents.ts — imports src/currents/delivery/dead-letters.ts (another capability's internals; use src/currents/index.ts)",
  "internal-import src/cli/currents.ts — imports src/currents/delivery/resend.ts (another capability's internals; use src/currents/index.ts)",
  "internal-import src/cli/currents.ts — imports src/currents/connectors/store.ts (another capability's internals; use src/currents/index.ts)",
  "internal-import src/cli/currents.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cli/currents.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "process-env src/cli/currents.ts — line 55 reads process.env (settings are read in src/config.ts)",
  "internal-import src/cli/mixpanel-emulator.ts — imports src/emulator/mixpanel/index.ts (another capability's internals; use src/emulator/index.ts)",
  "internal-import src/cohorts/admin-routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/admin-routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/admin-routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/admin-routes.ts — imports src/tracking/time.ts (another capability's internals; use src/tracking/index.ts)",
  "internal-import src/cohorts/context.ts — imports src/http/rate-limit.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/context.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/index.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-api.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-api.ts — imports src/http/auth-throttle.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-api.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-api.ts — imports src/storage/group-commit.ts (another capability's internals; use src/storage/index.ts)",
  "internal-import src/cohorts/partner-api.ts — imports src/http/rate-limit.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-payload.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/partner-payload.ts — imports src/tracking/json-shape.ts (another capability's internals; use src/tracking/index.ts)",
  "internal-import src/cohorts/partner-payload.ts — imports src/tracking/time.ts (another capability's internals; use src/tracking/index.ts)",
  "internal-import src/cohorts/pull/connection-input.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/connection-input.ts — imports src/tracking/json-shape.ts (another capability's internals; use src/tracking/index.ts)",
  "internal-import src/cohorts/pull/connections.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/index.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/pull/run.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/queue.ts — imports src/storage/group-commit.ts (another capability's internals; use src/storage/index.ts)",
  "internal-import src/cohorts/store.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/webhook-payload.ts — imports src/tracking/json-shape.ts (another capability's internals; use src/tracking/index.ts)",
  "internal-import src/cohorts/webhook.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/webhook.ts — imports src/http/auth-throttle.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/cohorts/webhook.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/backfill/backfill.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/backfill/backfill.ts — imports src/events/retention.ts (another capability's internals; use src/events/index.ts)",
  "process-env src/currents/config.ts — line 50 reads process.env (settings are read in src/config.ts)",
  "internal-import src/currents/connectors/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/connectors/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/connectors/routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/connectors/settings.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/connectors/settings.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/connectors/status.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/connectors/store.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/delivery/checkpoint.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/delivery/live-export.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/delivery/pipeline.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/index.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/mixpanel/mapping.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/publish/event-types.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/publish/publish.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/publish/publish.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/publish/publish.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/publish/publish.ts — imports src/http/storable-strings.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/publish/resolve-users.ts — imports src/events/catalogue.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/currents/publish/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/currents/publish/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/http/app.ts — imports src/workspaces/authenticator.ts (another capability's internals; use src/workspaces/index.ts)",
  "internal-import src/http/auth.ts — imports src/workspaces/authenticator.ts (another capability's internals; use src/workspaces/index.ts)",
  "internal-import src/http/auth.ts — imports src/workspaces/keys.ts (another capability's internals; use src/workspaces/index.ts)",
  "internal-import src/http/auth.ts — imports src/workspaces/store.ts (another capability's internals; use src/workspaces/index.ts)",
  "internal-import src/segments/errors.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/segments/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/segments/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/segments/validate.ts — imports src/http/storable-strings.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/server.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/server.ts — imports src/events/retention.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/server.ts — imports src/web/server/index.ts (another capability's internals; use src/web/index.ts)",
  "internal-import src/tracking/apply-attributes.ts — imports src/identity/types.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/core-events.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/tracking/core-events.ts — imports src/identity/types.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/export-ids.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/identify.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/identify.ts — imports src/http/storable-strings.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/metrics.ts — imports src/storage/group-commit.ts (another capability's internals; use src/storage/index.ts)",
  "internal-import src/tracking/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/sessions.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/sessions.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/tracking/track.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/track.ts — imports src/http/storable-strings.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/tracking/track.ts — imports src/events/log.ts (another capability's internals; use src/events/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/event-stats.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/locks.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/merge.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/resolve.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/store.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/identity/types.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/tracking/track.ts — imports src/storage/group-commit.ts (another capability's internals; use src/storage/index.ts)",
  "internal-import src/tracking/validate.ts — imports src/identity/types.ts (another capability's internals; use src/identity/index.ts)",
  "internal-import src/web/server/index.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/index.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "process-env src/web/server/index.ts — line 74 reads process.env (settings are read in src/config.ts)",
  "internal-import src/web/server/session-admin-routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/session-admin-routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/session-admin-routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/session-auth.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/session-routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/sign-in-throttle.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/sign-in-throttle.ts — imports src/http/shared-counters.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/user-routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/user-routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/web/server/user-routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/workspaces/routes.ts — imports src/http/app.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/workspaces/routes.ts — imports src/http/auth.ts (another capability's internals; use src/http/index.ts)",
  "internal-import src/workspaces/routes.ts — imports src/http/errors.ts (another capability's internals; use src/http/index.ts)",
  "cycle src/events/catalogue-rows.ts — import cycle: src/events/catalogue-rows.ts ↔ src/events/catalogue.ts",
  "cycle src/currents/mixpanel/limits.ts — import cycle: src/currents/mixpanel/limits.ts ↔ src/currents/mixpanel/mapping.ts",
  "cycle src/cohorts/apply.ts — import cycle: src/cohorts/apply.ts ↔ src/cohorts/sync-history.ts",
  "cycle src/http/ — capability cycle: http ↔ workspaces",
];

describe('src/', () => {
  it('keeps the import boundaries', () => {
    const found = checkImports(sourcesUnder('src')).map(show).sort();
    expect(found).toEqual([...KNOWN].sort());
  });
});
