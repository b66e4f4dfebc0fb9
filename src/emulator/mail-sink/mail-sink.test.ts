import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkStore, startMailSink, type RunningMailSink } from './index.js';

let sink: RunningMailSink;
let web: Server;
let webUrl: string;
const hits: Array<{ method: string; url: string; body: string }> = [];

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown) {
  const res = await request(sink.url + path, { method, headers: json === undefined ? {} : { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json) });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

beforeAll(async () => {
  sink = await startMailSink();
  web = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, body });
      if (req.url!.startsWith('/t/c/')) res.writeHead(302, { location: 'https://example.com/landing' }).end();
      else res.writeHead(200, { 'content-type': 'image/gif' }).end('GIF89a');
    });
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sink?.close();
  await new Promise((r) => web?.close(r));
});

function transport(auth?: { user: string; pass: string }, url = sink.smtpUrl) {
  return nodemailer.createTransport({ url, auth, tls: { rejectUnauthorized: false }, ignoreTLS: true } as any);
}

describe('the mail sink', () => {
  it('receives over real SMTP, lists and shows messages with their links and headers', async () => {
    await api('DELETE', '/messages');
    const html = `<p>Hi Ada <a href="${webUrl}/t/c/abc">shop</a></p><img src="${webUrl}/t/o/tok" width="1" height="1">`;
    const info = await transport().sendMail({
      from: 'News <news@rivulet.test>',
      to: 'ada@example.com',
      subject: 'Hello Ada',
      text: 'Hi Ada',
      html,
      messageId: '<send-1@rivulet.test>',
      headers: { 'X-Rivulet-Send-Id': 'send-1', 'List-Unsubscribe': `<${webUrl}/u/tok>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    });
    expect(info.response).toMatch(/^250 Ok: queued as /);
    const list = await api('GET', '/messages?to=ADA@example.com');
    expect(list.body.total).toBe(1);
    expect(list.body.messages[0]).toMatchObject({ from: 'news@rivulet.test', to: ['ada@example.com'], subject: 'Hello Ada', message_id: '<send-1@rivulet.test>', send_id: 'send-1' });
    const shown = await api('GET', `/messages/${list.body.messages[0].id}`);
    expect(shown.body).toMatchObject({ text: 'Hi Ada', links: [`${webUrl}/t/c/abc`], images: [`${webUrl}/t/o/tok`] });
    expect(shown.body.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    // As the recipient: open, click (the redirect is reported, not followed), unsubscribe in one click.
    const id = list.body.messages[0].id;
    expect((await api('POST', `/messages/${id}/open`)).body.fetched).toEqual([{ url: `${webUrl}/t/o/tok`, status: 200, location: null }]);
    expect((await api('POST', `/messages/${id}/click`, { index: 0 })).body).toEqual({ url: `${webUrl}/t/c/abc`, status: 302, location: 'https://example.com/landing' });
    expect((await api('POST', `/messages/${id}/click`, { url: 'https://elsewhere.example/' })).status).toBe(400);
    expect((await api('POST', `/messages/${id}/unsubscribe`)).body.status).toBe(200);
    expect(hits.map((h) => `${h.method} ${h.url} ${h.body}`)).toEqual(['GET /t/o/tok ', 'GET /t/c/abc ', 'POST /u/tok List-Unsubscribe=One-Click']);
  });

  it('answers chosen recipients with 5xx (always) or 4xx (a number of times, then accepts)', async () => {
    await api('DELETE', '/messages');
    expect((await api('PUT', '/rules', { rules: [{ address: 'gone@example.com', code: 550, message: 'No such user' }, { address: '*@busy.example', code: 451, message: 'Try later', times: 1 }] })).status).toBe(200);
    const t = transport();
    await expect(t.sendMail({ from: 'a@rivulet.test', to: 'gone@example.com', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 550 });
    await expect(t.sendMail({ from: 'a@rivulet.test', to: 'x@busy.example', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 451 });
    await t.sendMail({ from: 'a@rivulet.test', to: 'x@busy.example', subject: 's', text: 't' });
    const stats = await api('GET', '/stats');
    expect(stats.body).toMatchObject({ messages: 1, refused: { '550': 1, '451': 1 } });
    expect((await api('PUT', '/rules', { rules: [{ address: 'x', code: 200 }] })).status).toBe(400);
    await api('PUT', '/rules', { rules: [] });
  });

  it('requires the configured account when started with one', async () => {
    const guarded = await startMailSink({ auth: { user: 'u', pass: 'p' } });
    try {
      await expect(transport({ user: 'u', pass: 'wrong' }, guarded.smtpUrl).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 535 });
      await expect(transport(undefined, guarded.smtpUrl).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 530 });
      await transport({ user: 'u', pass: 'p' }, guarded.smtpUrl).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' });
      expect(guarded.store.stats().messages).toBe(1);
    } finally {
      await guarded.close();
    }
  });
});

describe('the sink store', () => {
  it('counts duplicates by send id and the busiest window, and keeps raw text of the newest only', () => {
    const store = new SinkStore(2);
    const raw = (id: string) => Buffer.from(`Subject: s\r\nX-Rivulet-Send-Id: ${id}\r\n\r\nbody`);
    store.add({ from: 'a', to: ['b'], raw: raw('1'), receivedAt: 0 });
    store.add({ from: 'a', to: ['b'], raw: raw('1'), receivedAt: 30_000 });
    store.add({ from: 'a', to: ['b'], raw: raw('2'), receivedAt: 59_999 });
    store.add({ from: 'a', to: ['b'], raw: raw('3'), receivedAt: 60_000 });
    expect(store.stats()).toMatchObject({ messages: 4, distinct_send_ids: 3, duplicate_send_ids: 1, max_in_window: 3 });
    const kept = store.list({ limit: 10 }).messages.map((m) => m.raw !== null);
    expect(kept).toEqual([true, true, false, false]);
  });
});
