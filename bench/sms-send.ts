/**
 * SMS sends per second to the Twilio emulator (docs/reference/sms.md §6): Rivulet's provider client
 * (`sendSms`: form, Basic auth, POST, response parsing into an outcome) with `--concurrency`
 * messages in flight, beside a baseline in the same run: raw undici POSTs of the very same requests
 * (pre-built bodies and headers, response bodies read and discarded) at the same concurrency. Both
 * go to one emulator whose status callbacks land on a local 204 endpoint, so both carry the same
 * callback load. Rounds alternate (baseline, client, ...) and the median of each is reported.
 *
 *   npx tsx bench/sms-send.ts [--messages=5000] [--concurrency=32] [--rounds=3]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { basicAuth, messageForm, messagesUrl, sendSms, type SmsProvider } from '../src/channels/index.js';
import { startTwilioEmulator } from '../src/emulator/index.js';
import { printConditions } from './conditions.js';

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(arg.indexOf('=') + 1) : fallback;
}
const messages = Number(option('messages', '5000'));
const concurrency = Number(option('concurrency', '32'));
const rounds = Number(option('rounds', '3'));

const SID = 'AC' + 'd4'.repeat(16);
const TOKEN = 'bench-auth-token-000000001';

async function run(label: string, one: (i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages) if (!(await one(next++))) failed++;
    }),
  );
  const perSecond = messages / ((performance.now() - t0) / 1000);
  if (failed) throw new Error(`${label}: ${failed} sends were not accepted`);
  return perSecond;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const conditions = await printConditions({ title: 'the SMS send bench (Twilio emulator)', settings: { messages, concurrency, rounds } });
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const callback = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/status`;
  const tw = await startTwilioEmulator({ accounts: { [SID]: TOKEN }, latencyMs: 0 });
  const provider: SmsProvider = { accountSid: SID, authToken: TOKEN, fromNumber: '+15550009999', messagingServiceSid: null, baseUrl: tw.url };
  const to = (i: number) => `+1555${String(1_000_000 + (i % 9_000_000)).padStart(7, '0')}`;
  const msg = (i: number) => ({ to: to(i), body: `Hello user ${i}, your code is ${100000 + i}`, statusCallback: callback });
  const url = messagesUrl(tw.url, SID);
  const headers = { authorization: basicAuth(SID, TOKEN), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const bodies = Array.from({ length: messages }, (_, i) => messageForm(provider, msg(i)));
  const dispatcher = new Agent({ connections: concurrency });

  const baseline = () =>
    run('baseline', async (i) => {
      const res = await request(url, { method: 'POST', headers, body: bodies[i], dispatcher });
      await res.body.dump();
      return res.statusCode === 201;
    });
  const client = () => run('client', async (i) => (await sendSms(provider, msg(i), dispatcher)).kind === 'accepted');

  await run('warm-up', async (i) => (i < 500 ? (await sendSms(provider, msg(i), dispatcher)).kind === 'accepted' : true));
  const b: number[] = [];
  const c: number[] = [];
  for (let r = 0; r < rounds; r++) {
    b.push(await baseline());
    c.push(await client());
    tw.store.messages.clear();
  }
  const rb = median(b);
  const rc = median(c);
  console.log(`messages per round: ${messages}, concurrency: ${concurrency}, rounds: ${rounds}`);
  console.log(`baseline (raw undici POSTs of the same requests): ${rb.toFixed(0)} sends/s  [${b.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`Rivulet SMS client (sendSms):                     ${rc.toFixed(0)} sends/s  [${c.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`client / baseline: ${(rc / rb).toFixed(2)}`);
  await dispatcher.close();
  await tw.close();
  await new Promise((r) => sink.close(r));
  conditions.end();
}

await main();
