/**
 * Serves the built dashboard (Vite's output in `dist/dashboard`) at `/dashboard/`: hashed assets
 * with a year of caching, and `index.html` for every client route so that a reload or a shared
 * link to `/dashboard/cohorts/…` works. Only page-like paths fall back: unknown assets and
 * `/dashboard/api/…` still answer the API's JSON 404, and nothing outside `/dashboard` is touched.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** `dist/dashboard/` at the repository root, reached the same way from `src/web/server` and `dist/web/server`. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/dashboard/', import.meta.url));
export const DASHBOARD_PREFIX = '/dashboard';

const hidden = { schema: { hide: true } } as const;

function notFound(reply: FastifyReply, path: string) {
  return reply.status(404).send({ message: 'Not found', errors: [{ type: 'no such route', path: `GET ${path}` }] });
}

/** True for client routes of the app, false for asset-like or API paths that must 404 honestly. */
export function isClientRoute(path: string): boolean {
  const rest = path.slice(DASHBOARD_PREFIX.length);
  if (rest.startsWith('/api/') || rest.startsWith('/assets/')) return false;
  return !/\.[A-Za-z0-9]{1,8}$/.test(rest);
}

export async function dashboardStatic(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? DASHBOARD_DIR;
  app.get('/', hidden, async (_request, reply) => reply.redirect(`${DASHBOARD_PREFIX}/`));
  app.get(DASHBOARD_PREFIX, hidden, async (_request, reply) => reply.redirect(`${DASHBOARD_PREFIX}/`));

  if (!existsSync(`${root}index.html`)) {
    app.get(`${DASHBOARD_PREFIX}/*`, hidden, async (request, reply) =>
      isClientRoute(request.url.split('?')[0]!)
        ? reply.status(503).type('text/plain; charset=utf-8').send('The dashboard is not built. Run `npm run build` (or `npm ci`), then restart.\n')
        : notFound(reply, request.url.split('?')[0]!),
    );
    return;
  }

  await app.register(fastifyStatic, {
    root,
    prefix: `${DASHBOARD_PREFIX}/`,
    wildcard: false,
    index: false,
    serveDotFiles: false,
    cacheControl: false,
    setHeaders(res, filePath) {
      res.setHeader('cache-control', filePath.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const sendIndex = (reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
  app.get(`${DASHBOARD_PREFIX}/`, hidden, async (_request, reply) => sendIndex(reply));
  app.get(`${DASHBOARD_PREFIX}/*`, hidden, async (request, reply) => {
    const path = request.url.split('?')[0]!;
    return isClientRoute(path) ? sendIndex(reply) : notFound(reply, path);
  });
}
