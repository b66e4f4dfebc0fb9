/**
 * The routes a recipient's mail client reaches (docs/reference/email.md §3): the open pixel
 * `GET /t/o/:token`, tracked links `GET|HEAD /t/c/:token` (302 to the original), and unsubscribe
 * `/u/:token` — a one-click `POST` (RFC 8058: 200, empty, no redirect, no cookie) or a page whose
 * button posts (a link scanner fetching the page unsubscribes nobody). A token whose signature does
 * not verify gets 404 and never a redirect. What each moment records is the caller's (`hooks`).
 * Tokens are wildcard segments: they are longer than the router's limit for a named parameter.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { ClickRedirect, OpenPixel, UnsubscribeDone, UnsubscribePage } from './contract.js';
import { tokenWorkspace, verifyToken, type TrackingPayload } from './tokens.js';

export interface TrackingHooks {
  /** The workspace's tracking secret, or undefined if the workspace is unknown. */
  secretFor(workspaceId: string): Promise<Buffer | undefined>;
  onOpen(p: TrackingPayload, seen: { userAgent: string | null; at: Date }): Promise<void>;
  onClick(p: TrackingPayload, seen: { userAgent: string | null; at: Date; head: boolean }): Promise<void>;
  onUnsubscribe(p: TrackingPayload, seen: { source: 'List-Unsubscribe' | 'Unsubscribe Link'; at: Date }): Promise<void>;
}

/** A transparent 1×1 GIF. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const PAGE = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">${body}</body></html>`;

export function trackingRoutes(hooks: TrackingHooks): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const verified = async (token: string, kind: TrackingPayload['k']) => {
      const ws = tokenWorkspace(token);
      const secret = ws ? await hooks.secretFor(ws) : undefined;
      return secret ? verifyToken(token, secret, kind) : undefined;
    };
    const notFound = { message: 'This link is not valid.' };

    app.get<{ Params: { '*': string } }>('/t/o/*', { schema: { summary: 'Open pixel', response: { 200: OpenPixel } } }, async (req, reply) => {
      const p = await verified(req.params['*'], 'open');
      if (!p) return reply.code(404).send(notFound);
      await hooks.onOpen(p, { userAgent: req.headers['user-agent'] ?? null, at: new Date() });
      return reply.header('cache-control', 'no-store').type('image/gif').send(PIXEL_GIF);
    });

    // Fastify answers HEAD for GET routes by default (exposeHeadRoutes); the handler sees the method.
    app.get<{ Params: { '*': string } }>('/t/c/*', { schema: { summary: 'Tracked link', response: { 302: ClickRedirect } } }, async (req, reply) => {
      const p = await verified(req.params['*'], 'click');
      if (!p?.url || !/^https?:\/\//i.test(p.url)) return reply.code(404).send(notFound);
      await hooks.onClick(p, { userAgent: req.headers['user-agent'] ?? null, at: new Date(), head: req.method === 'HEAD' });
      return reply.header('cache-control', 'no-store').redirect(p.url, 302);
    });

    app.get<{ Params: { '*': string } }>('/u/*', { schema: { summary: 'Unsubscribe page', response: { 200: UnsubscribePage } } }, async (req, reply) => {
      const p = await verified(req.params['*'], 'unsubscribe');
      if (!p) return reply.code(404).type('text/html').send(PAGE('Link not valid', '<p>This unsubscribe link is not valid.</p>'));
      return reply
        .header('cache-control', 'no-store')
        .type('text/html')
        .send(PAGE('Unsubscribe', `<h1>Unsubscribe</h1><p>Stop receiving these emails?</p><form method="post"><input type="hidden" name="confirm" value="1"><button type="submit">Unsubscribe</button></form>`));
    });

    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.post<{ Params: { '*': string }; Body: Record<string, string> | undefined }>('/u/*', { schema: { summary: 'Unsubscribe (one-click or from the page)', response: { 200: UnsubscribeDone } } }, async (req, reply) => {
      const p = await verified(req.params['*'], 'unsubscribe');
      if (!p) return reply.code(404).send(notFound);
      const oneClick = req.body?.['List-Unsubscribe'] === 'One-Click';
      await hooks.onUnsubscribe(p, { source: oneClick ? 'List-Unsubscribe' : 'Unsubscribe Link', at: new Date() });
      if (oneClick) return reply.code(200).send('');
      return reply.type('text/html').send(PAGE('Unsubscribed', '<h1>You are unsubscribed</h1><p>You will not receive these emails any more.</p>'));
    });
  };
}
