/**
 * The raw nodemailer baseline of bench/campaign-send.ts, in a process of its own (so that it can run
 * before and after the campaign without its objects counting in the campaign process's RSS):
 *
 *   npx tsx bench/smtp-baseline.ts <smtp-url> <count> <concurrency> <connections>
 *
 * Sends `count` pre-rendered messages (subject and HTML personalised by string concatenation, no
 * Liquid, no database) through nodemailer's pooled transport and prints `{"rate": emails/s}`.
 */
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';

const [smtpUrl, countArg, concurrencyArg, connectionsArg] = process.argv.slice(2);
const count = Number(countArg);
const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: Number(connectionsArg), maxMessages: Infinity, logger: false } as Parameters<typeof nodemailer.createTransport>[0]);
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrencyArg) }, async () => {
    while (next < count) {
      const i = next++;
      const name = `N${i}`;
      await transport.sendMail({
        from: { name: 'Bench', address: 'bench@rivulet.test' },
        to: `u${i}@bench.test`,
        subject: `${name}, your weekend picks`,
        html: `<p>Hi ${name},</p><p>Tonight: <a href="https://films.example/weekend">Night Train</a>.</p>`,
        headers: { 'X-Rivulet-Send-Id': `baseline-${i}` },
      });
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
transport.close();
console.log(JSON.stringify({ rate: count / seconds }));
