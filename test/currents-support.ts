/**
 * Shared pieces of the Currents end-to-end tests: an emulated Mixpanel on loopback with a project
 * and a service account, connector bodies pointing at it, polling helpers, and the expected
 * Mixpanel events computed from the event log with the exporter's own pure mapping.
 */
import type { LogEvent, StoredEvent } from '../src/events/log.js';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { mapCurrentsEvent, type MixpanelEvent } from '../src/currents/mixpanel/mapping.js';
import type { Queryable } from '../src/storage/index.js';

export interface MixpanelProjectCreds {
  projectId: string;
  username: string;
  secret: string;
  token: string;
  apiSecret: string;
}

export function projectCreds(projectId: string): MixpanelProjectCreds {
  return {
    projectId,
    username: `rivulet-export.${projectId}.mp-service-account`,
    secret: `SA-SECRET-${projectId}-Zq8vW3kP9xL2`,
    token: `TOKEN-${projectId}-f00dfeed4b1d`,
    apiSecret: `APISECRET-${projectId}-c0ffee77aa11`,
  };
}

export async function startEmulator(projects: MixpanelProjectCreds[], opts: { seed?: number; now?: () => number } = {}): Promise<RunningMixpanelEmulator> {
  return startMixpanelEmulator({
    seed: opts.seed ?? 7,
    ...(opts.now ? { now: opts.now } : {}),
    projects: projects.map((p) => ({
      id: p.projectId,
      token: p.token,
      apiSecret: p.apiSecret,
      serviceAccounts: [{ username: p.username, secret: p.secret, role: 'owner' as const }],
    })),
  });
}

export function connectorBody(baseUrl: string, p: MixpanelProjectCreds, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `Export to ${p.projectId}`,
    contact_email: 'ops@example.com',
    credentials: { kind: 'service_account', username: p.username, secret: p.secret, project_id: p.projectId },
    project_token: p.token,
    region: 'US',
    base_url: baseUrl,
    event_types: ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'],
    ...overrides,
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Every event of the workspace's log, read directly (tests only): not through `readEvents`, whose
 * horizon is cluster-wide on PostgreSQL and lags while any transaction anywhere on the server runs.
 */
export async function allLogEvents(db: Queryable, workspaceId: string): Promise<StoredEvent[]> {
  const { rows } = await db.query<{ seq: number; txid: string; workspace_id: string; body: LogEvent }>(
    'SELECT seq, txid::text AS txid, workspace_id, body FROM event_log WHERE workspace_id = $1 ORDER BY txid, seq',
    [workspaceId],
  );
  return rows.map((r) => ({ ...r.body, seq: r.seq, txid: r.txid, workspace_id: r.workspace_id }));
}

export interface Expectation {
  events: MixpanelEvent[];
  skipped: Record<string, number>;
  deadLettered: Record<string, number>;
  /** Changes made to fit Mixpanel's limits, by reason. */
  fitted: Record<string, number>;
}

/** What the connector must deliver for these log events, by the pure mapping (its golden tests pin it). */
export function expectedFor(events: readonly StoredEvent[], selected: readonly string[], token: string): Expectation {
  const out: Expectation = { events: [], skipped: {}, deadLettered: {}, fitted: {} };
  const settings = { selectedTypes: new Set(selected), token };
  for (const e of events) {
    const m = mapCurrentsEvent(e, settings);
    if (m.outcome === 'send') {
      out.events.push(m.event);
      for (const [reason, n] of Object.entries(m.changes ?? {})) out.fitted[reason] = (out.fitted[reason] ?? 0) + n;
    }
    else if (m.outcome === 'skip') out.skipped[m.reason] = (out.skipped[m.reason] ?? 0) + 1;
    else out.deadLettered[m.reason] = (out.deadLettered[m.reason] ?? 0) + 1;
  }
  return out;
}

export const byInsertId = (a: MixpanelEvent, b: MixpanelEvent) => String(a.properties['$insert_id']).localeCompare(String(b.properties['$insert_id']));

/** A JSON request with a Bearer key; the answer's status and parsed body. */
export async function jsonCall(baseUrl: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
