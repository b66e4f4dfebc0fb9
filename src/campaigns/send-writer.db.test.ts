/**
 * The send path's group commit (send-writer.ts): writes asked for together commit in one flush (one
 * event append for all of them), each only where the worker still holds the send's lease; a write
 * whose lease another worker took changes nothing and appends nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../events/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import type { CampaignInput } from './definition.js';
import { SendWriter } from './send-writer.js';
import { claimSends, createCampaign, insertDispatch, insertSends, setCampaignState } from './store.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb({ migrate: true });
}, 120_000);
afterAll(async () => t?.drop());

const event = (type: string, userId: string): LogEvent => ({ event_type: type, id: randomUUID(), time: Math.floor(Date.now() / 1000), user: { user_id: userId }, properties: {} });

describe(`group-committed send writes on ${TEST_BACKEND}`, () => {
  it('commits concurrent writes in one flush, fenced per send by the lease', async () => {
    const { db } = t;
    const ws = await ensureWorkspace(db, `writer-${randomUUID()}`);
    const input = { name: 'Writer', channel: 'email', definition: { delivery: 'launch', audience: { segment_id: '' }, variants: [{ id: 'a', name: 'A', percent: 100 }], control_percent: 0, send_to: 'subscribed_or_opted_in' } } as unknown as CampaignInput;
    const campaign = await createCampaign(db, ws.id, input);
    await setCampaignState(db, ws.id, campaign.id, 'active');
    const dispatch = await insertDispatch(db, campaign);
    const users = Array.from({ length: 4 }, () => randomUUID());
    const keys = users.map(() => randomUUID());
    await insertSends(db, dispatch, users.map((u, i) => ({ send_key: keys[i]!, user_id: u, variant_id: 'a', state: 'queued' as const, reason: null })));
    const owner = randomUUID();
    expect((await claimSends(db, owner, 100, 60_000)).map((r) => r.send_key).sort()).toEqual([...keys].sort());
    // Another worker took the last send over (as after this one's lease ended).
    await db.query(`UPDATE campaign_sends SET lease_owner = 'someone-else' WHERE send_key = $1`, [keys[3]]);

    const writer = new SendWriter(db, owner);
    const started = await Promise.all(keys.map((k, i) => writer.write({ kind: 'start', sendKey: k, workspaceId: ws.id, events: [event('users.messages.email.Send', users[i]!)] })));
    expect(started).toEqual([true, true, true, false]);
    const ended = await Promise.all([
      writer.write({ kind: 'finish', sendKey: keys[0]!, workspaceId: ws.id, state: 'delivered', reason: null, delivered: true, attempt: { at: new Date().toISOString(), status: 250, duration_ms: 3 } as never, events: [event('users.messages.email.Delivery', users[0]!)] }),
      writer.write({ kind: 'finish', sendKey: keys[1]!, workspaceId: ws.id, state: 'bounced', reason: '550 no such user', delivered: false, events: [event('users.messages.email.Bounce', users[1]!)] }),
      writer.write({ kind: 'retry', sendKey: keys[2]!, workspaceId: ws.id, at: Date.now() + 60_000, events: [event('users.messages.email.Deferral', users[2]!)] }),
      writer.write({ kind: 'finish', sendKey: keys[3]!, workspaceId: ws.id, state: 'delivered', reason: null, delivered: true, events: [event('users.messages.email.Delivery', users[3]!)] }),
    ]);
    expect(ended).toEqual([true, true, true, false]);
    await writer.idle();

    const { rows } = await db.query<{ send_key: string; state: string; reason: string | null; attempts: number; lease_owner: string | null; delivered: boolean; logged: number; later: boolean }>(
      `SELECT send_key, state, reason, attempts, lease_owner, delivered_at IS NOT NULL AS delivered, jsonb_array_length(attempt_log) AS logged, next_attempt_at > now() + interval '30 seconds' AS later
         FROM campaign_sends WHERE dispatch_id = $1`,
      [dispatch.id],
    );
    const by = new Map(rows.map((r) => [r.send_key, r]));
    expect(by.get(keys[0]!)).toMatchObject({ state: 'delivered', attempts: 1, lease_owner: null, delivered: true, logged: 1 });
    expect(by.get(keys[1]!)).toMatchObject({ state: 'bounced', reason: '550 no such user', attempts: 1, lease_owner: null, delivered: false, logged: 0 });
    expect(by.get(keys[2]!)).toMatchObject({ state: 'queued', attempts: 1, lease_owner: null, later: true });
    // The send this worker no longer held: untouched.
    expect(by.get(keys[3]!)).toMatchObject({ state: 'queued', attempts: 0, lease_owner: 'someone-else', delivered: false });

    // Each flush appended its events in one batch row: 3 Send events, then 3 outcome events; none for the lost send.
    const { rows: batches } = await db.query<{ count: number }>(`SELECT count FROM event_batches WHERE workspace_id = $1 ORDER BY txid, seq`, [ws.id]);
    expect(batches.map((b) => Number(b.count))).toEqual([3, 3]);
    const { rows: logged } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM event_batches b, json_array_elements(b.events) e WHERE b.workspace_id = $1 AND e->'user'->>'user_id' = $2`,
      [ws.id, users[3]],
    );
    expect(logged[0]!.n).toBe('0');
  });
});
