/**
 * The Twilio emulator over real HTTP: Basic auth (20003), Twilio's validation codes, the message
 * resource, signed status callbacks along queued → sent → delivered/undelivered/failed with
 * injected faults, inbound messages, and unknown routes that never echo what was sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTwilio, startTwilioEmulator, type RunningTwilioEmulator } from './index.js';

const SID = 'AC' + 'b2'.repeat(16);
const TOKEN = 'emulator-test-token-0001';
let tw: RunningTwilioEmulator;
let hooks: Server;
let hookUrl: string;
const received: Array<{ url: string; signature: string; params: Record<string, string> }> = [];

const auth = (sid = SID, token = TOKEN) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
async function send(form: Record<string, string>, authorization = auth(), sid = SID) {
  const res = await request(`${tw.url}/2010-04-01/Accounts/${sid}/Messages.json`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}
async function until<T>(probe: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  tw = await startTwilioEmulator({ accounts: { [SID]: TOKEN }, latencyMs: 5 });
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ url: req.url!, signature: String(req.headers['x-twilio-signature']), params: Object.fromEntries(new URLSearchParams(body)) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await tw?.close();
  await new Promise((r) => hooks?.close(r));
});

describe('twilio emulator', () => {
  it("refuses bad credentials with Twilio's 20003", async () => {
    for (const a of [auth(SID, 'wrong-token-0000000000000'), auth('AC' + '0'.repeat(32)), 'Bearer x', '']) {
      const r = await send({ To: '+15550100000', From: '+15550009999', Body: 'x' }, a);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ code: 20003, status: 401, more_info: expect.stringContaining('20003') });
    }
    // Right credentials, another account's path.
    expect((await send({ To: '+15550100000', From: '+15550009999', Body: 'x' }, auth(), 'AC' + 'c3'.repeat(16))).body.code).toBe(20003);
  });

  it("validates like Twilio: 21604, 21211, 21603, 21212, 21602, 21617, 21609", async () => {
    const base = { To: '+15550100000', From: '+15550009999', Body: 'hello' };
    const cases: Array<[Record<string, string>, number]> = [
      [{ From: base.From, Body: 'x' }, 21604],
      [{ ...base, To: '555-0100' }, 21211],
      [{ To: base.To, Body: 'x' }, 21603],
      [{ ...base, From: 'nope' }, 21212],
      [{ To: base.To, From: base.From }, 21602],
      [{ ...base, Body: 'x'.repeat(1601) }, 21617],
      [{ ...base, StatusCallback: 'ftp://x' }, 21609],
    ];
    for (const [form, code] of cases) {
      const r = await send(form);
      expect(r.status, String(code)).toBe(400);
      expect(r.body, String(code)).toMatchObject({ code, status: 400, message: expect.any(String) });
    }
    expect((await request(`${tw.url}/emulator/messages`).then((r) => r.body.json())) as any).toEqual({ messages: [] });
  });

  it('accepts a send and drives signed callbacks: delivered, undelivered and failed paths', async () => {
    await request(`${tw.url}/emulator/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: [{ to: '+15550100001', outcome: 'undelivered', error_code: 30005 }, { to: '+15550100002', outcome: 'failed' }] }) });
    const sids: string[] = [];
    for (const to of ['+15550100000', '+15550100001', '+15550100002']) {
      const r = await send({ To: to, From: '+15550009999', Body: 'hello', StatusCallback: `${hookUrl}/status?x=1` });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ sid: expect.stringMatching(/^SM[0-9a-f]{32}$/), status: 'queued', to, num_segments: '1', account_sid: SID });
      sids.push(r.body.sid);
    }
    await until(() => (received.length >= 5 ? true : undefined), 'five callbacks');
    const seq = (sid: string) => received.filter((c) => c.params.MessageSid === sid).map((c) => c.params.MessageStatus + (c.params.ErrorCode ? `:${c.params.ErrorCode}` : ''));
    expect(seq(sids[0]!)).toEqual(['sent', 'delivered']);
    expect(seq(sids[1]!)).toEqual(['sent', 'undelivered:30005']);
    expect(seq(sids[2]!)).toEqual(['failed:30008']);
    for (const c of received) expect(c.signature).toBe(signTwilio(TOKEN, `${hookUrl}${c.url}`, c.params));
    const fetched = await request(`${tw.url}/2010-04-01/Accounts/${SID}/Messages/${sids[0]}.json`, { headers: { authorization: auth() } });
    expect(((await fetched.body.json()) as any).status).toBe('delivered');
  });

  it('sends an inbound message, signed, to the given webhook', async () => {
    received.length = 0;
    const r = (await (await request(`${tw.url}/emulator/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account_sid: SID, from: '+15550100000', to: '+15550009999', body: 'STOP', url: `${hookUrl}/inbound` }) })).body.json()) as any;
    expect(r).toMatchObject({ http_status: 204, message_sid: expect.stringMatching(/^SM/) });
    expect(received[0]!.params).toMatchObject({ From: '+15550100000', To: '+15550009999', Body: 'STOP', AccountSid: SID });
    expect(received[0]!.signature).toBe(signTwilio(TOKEN, `${hookUrl}/inbound`, received[0]!.params));
  });

  it('answers unknown routes with a Twilio 404 that echoes neither path nor credentials', async () => {
    const res = await request(`${tw.url}/2010-04-01/Accounts/${SID}/Calls/${TOKEN}.json?secret=${TOKEN}`, { method: 'POST', headers: { authorization: auth() } });
    const text = await res.body.text();
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(text)).toMatchObject({ code: 20404 });
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SID);
    expect(text).not.toContain(Buffer.from(`${SID}:${TOKEN}`).toString('base64'));
  });
});
