/**
 * The sink's HTTP side (docs/reference/mail-sink.md): list and read what arrived, count it, set
 * failure rules, and act as the recipient would: open a message (fetch its tracking pixels),
 * click a link, or unsubscribe with one click (RFC 8058).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { request } from 'undici';
import type { FailureRule, SinkMessage, SinkStore } from './store.js';

const OPEN_PIXEL_PATH = '/t/o/';

function summary(m: SinkMessage) {
  return { id: m.id, received_at: new Date(m.receivedAt).toISOString(), from: m.from, to: m.to, subject: m.subject, message_id: m.messageId, send_id: m.sendId, size: m.size };
}

/** Every `href` and `<img src>` of an HTML body, in order. */
export function linksOf(html: string): { hrefs: string[]; images: string[] } {
  const attr = (name: string) => [...html.matchAll(new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'gi'))].map((m) => m[1]!.replace(/&amp;/g, '&'));
  return { hrefs: attr('href'), images: attr('src') };
}

async function parsed(m: SinkMessage) {
  if (!m.raw) return null;
  const mail = await simpleParser(m.raw);
  const html = typeof mail.html === 'string' ? mail.html : '';
  return { mail, html, ...linksOf(html) };
}

async function fetchNoRedirect(url: string, method: 'GET' | 'POST' = 'GET', body?: string) {
  const res = await request(url, {
    method,
    headers: body === undefined ? { 'user-agent': 'Rivulet mail sink' } : { 'user-agent': 'Rivulet mail sink', 'content-type': 'application/x-www-form-urlencoded' },
    body,
    maxRedirections: 0,
  } as Parameters<typeof request>[1]);
  await res.body.dump();
  const location = res.headers.location;
  return { url, status: res.statusCode, location: typeof location === 'string' ? location : null };
}

export function buildMailSinkApp(store: SinkStore): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const withMessage = async (id: string) => store.get(id);

  app.get<{ Querystring: { to?: string; limit?: number; offset?: number } }>(
    '/messages',
    { schema: { querystring: { type: 'object', properties: { to: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } }, additionalProperties: false } } },
    async (req) => {
      const { total, messages } = store.list({ to: req.query.to, limit: req.query.limit ?? 100, offset: req.query.offset });
      return { total, messages: messages.map(summary) };
    },
  );

  app.delete('/messages', async () => {
    store.clear();
    return { cleared: true };
  });

  app.get<{ Params: { id: string } }>('/messages/:id', async (req, reply) => {
    const m = await withMessage(req.params.id);
    if (!m) return reply.code(404).send({ message: `no message ${req.params.id}` });
    const p = await parsed(m);
    if (!p) return { ...summary(m), body_dropped: true };
    const headers: Record<string, string> = {};
    for (const line of p.mail.headerLines) headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
    return { ...summary(m), headers, text: p.mail.text ?? '', html: p.html, links: p.hrefs, images: p.images };
  });

  app.get<{ Params: { id: string } }>('/messages/:id/raw', async (req, reply) => {
    const m = await withMessage(req.params.id);
    if (!m?.raw) return reply.code(404).send({ message: `no raw text for message ${req.params.id}` });
    return reply.type('message/rfc822').send(m.raw);
  });

  app.post<{ Params: { id: string } }>('/messages/:id/open', async (req, reply) => {
    const m = await withMessage(req.params.id);
    const p = m && (await parsed(m));
    if (!p) return reply.code(404).send({ message: `no message ${req.params.id}` });
    const pixels = p.images.filter((src) => src.includes(OPEN_PIXEL_PATH));
    if (!pixels.length) return reply.code(409).send({ message: 'the message has no open-tracking image' });
    return { fetched: await Promise.all(pixels.map((u) => fetchNoRedirect(u))) };
  });

  app.post<{ Params: { id: string }; Body: { index?: number; url?: string } }>(
    '/messages/:id/click',
    { schema: { body: { type: 'object', properties: { index: { type: 'integer', minimum: 0 }, url: { type: 'string' } }, additionalProperties: false } } },
    async (req, reply) => {
      const m = await withMessage(req.params.id);
      const p = m && (await parsed(m));
      if (!p) return reply.code(404).send({ message: `no message ${req.params.id}` });
      const link = req.body?.url ?? p.hrefs[req.body?.index ?? 0];
      if (!link || !p.hrefs.includes(link)) return reply.code(400).send({ message: 'index or url must name a link of the message', links: p.hrefs });
      return fetchNoRedirect(link);
    },
  );

  app.post<{ Params: { id: string } }>('/messages/:id/unsubscribe', async (req, reply) => {
    const m = await withMessage(req.params.id);
    const p = m && (await parsed(m));
    if (!p) return reply.code(404).send({ message: `no message ${req.params.id}` });
    const line = (key: string) => p.mail.headerLines.find((l) => l.key === key)?.line ?? '';
    const url = /<(https?:[^>]+)>/.exec(line('list-unsubscribe'))?.[1];
    if (!url || !/List-Unsubscribe=One-Click/i.test(line('list-unsubscribe-post'))) return reply.code(409).send({ message: 'the message offers no one-click unsubscribe (List-Unsubscribe with List-Unsubscribe-Post)' });
    return fetchNoRedirect(url, 'POST', 'List-Unsubscribe=One-Click');
  });

  app.get<{ Querystring: { window_ms?: number } }>(
    '/stats',
    { schema: { querystring: { type: 'object', properties: { window_ms: { type: 'integer', minimum: 1, default: 60_000 } }, additionalProperties: false } } },
    async (req) => store.stats(req.query.window_ms),
  );

  app.get('/rules', async () => ({ rules: store.getRules() }));
  app.put<{ Body: { rules: FailureRule[] } }>(
    '/rules',
    {
      schema: {
        body: {
          type: 'object',
          required: ['rules'],
          additionalProperties: false,
          properties: {
            rules: {
              type: 'array',
              maxItems: 1000,
              items: {
                type: 'object',
                required: ['address', 'code'],
                additionalProperties: false,
                properties: {
                  address: { type: 'string', minLength: 3, maxLength: 320 },
                  code: { type: 'integer', minimum: 400, maximum: 599 },
                  message: { type: 'string', maxLength: 500, default: 'Requested action not taken' },
                  times: { type: 'integer', minimum: 1 },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      store.setRules(req.body.rules);
      return { rules: store.getRules() };
    },
  );
  return app;
}
