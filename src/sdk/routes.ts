/**
 * The SDK capability's routes (docs/reference/sdk.md):
 * - `POST /sdk/v1/batch`: the browser SDK's uploads, authenticated by a public SDK key
 *   (`X-Rivulet-SDK-Key`) that can call nothing else, from the key's allowed origins only (CORS);
 *   counted against the `sdk` rate limit per SDK app.
 * - `OPTIONS /sdk/v1/batch`: the CORS preflight.
 * - `GET /sdk/v1/content_cards`, `GET /sdk/v1/in_app_messages` (and their preflights): the device's
 *   user's messages (message-routes.ts).
 * - `GET /sdk/v1/rivulet.js`: the built browser SDK (packages/web-sdk).
 * - `POST|GET /sdk/apps`: create and list SDK apps (admin).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError, Errors, requireKey, type AppServices, type ErrorEntry } from '../http/index.js';
import { createTracker, trackGroupOptions, type TrackingHooks } from '../tracking/index.js';
import { mapBatch } from './batch.js';
import { BatchBody, BatchResponse, CreateSdkAppBody, CreatedSdkApp, ErrorBody, SdkAppList, SDK_KEY_HEADER } from './contract.js';
import { ingestBatch } from './ingest.js';
import { registerMessageRoutes } from './message-routes.js';
import { originAllowed, parseOrigin } from './origins.js';
import { createSdkApp, findSdkAppByKey, listSdkApps, type SdkApp } from './store.js';

/** The built SDK, reached the same way from `src/sdk` and `dist/sdk`. */
export const SDK_BUNDLE = fileURLToPath(new URL('../../dist/sdk-client/rivulet.js', import.meta.url));

const KEY_CACHE_MS = 2_000;
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 413: ErrorBody, 415: ErrorBody, 429: ErrorBody };

declare module 'fastify' {
  interface FastifyRequest {
    sdkApp: SdkApp | undefined;
  }
}

function corsHeaders(reply: FastifyReply, origin: string): void {
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
}

function view(app: SdkApp) {
  return { id: app.id, name: app.name, key_prefix: app.key_prefix, allowed_origins: app.allowed_origins, created_at: new Date(app.created_at).toISOString() };
}

export function sdkRoutes(hooks: TrackingHooks) {
  return async function routes(app: FastifyInstance, { db, config, limits }: AppServices): Promise<void> {
    const tracker = createTracker(db, {
      maxArrayAttributeValues: config.limits.arrayAttributeValues,
      group: trackGroupOptions(db.kind, config.limits),
    });
    const keyCache = new Map<string, { app: SdkApp | undefined; until: number }>();
    const lookup = async (key: string) => {
      const hit = keyCache.get(key);
      if (hit && hit.until > Date.now()) return hit.app;
      const found = await findSdkAppByKey(db, key);
      if (keyCache.size > 10_000) keyCache.clear();
      keyCache.set(key, { app: found, until: Date.now() + KEY_CACHE_MS });
      return found;
    };

    /** SDK key, then origin, then rate limit: before the body is read. */
    const authenticateSdk = async (request: FastifyRequest, reply: FastifyReply) => {
      const origin = request.headers.origin;
      // The answer is readable by the page even when refused, so the SDK can report why.
      if (origin) corsHeaders(reply, origin);
      const raw = request.headers[SDK_KEY_HEADER];
      const key = typeof raw === 'string' && /^[\x21-\x7e]{1,256}$/.test(raw) ? raw : undefined;
      const sdkApp = key ? await lookup(key) : undefined;
      if (!sdkApp) throw new ApiError(401, 'Unknown or missing SDK key', [{ type: 'unknown or missing SDK key', path: `headers.${SDK_KEY_HEADER}` }]);
      if (!originAllowed(origin, sdkApp.allowed_origins)) {
        const message = origin ? `Origin ${origin} is not allowed for this SDK key` : 'Requests with an SDK key must come from an allowed origin';
        throw new ApiError(403, message, [{ type: 'origin not allowed', path: 'headers.origin' }]);
      }
      const decision = await limits.take(request, 'sdk', config.rateLimits.sdk, `sdk:${sdkApp.id}`);
      reply.headers(decision.headers);
      if (!decision.allowed) throw Errors.rateLimited(decision.headers);
      request.sdkApp = sdkApp;
    };
    app.decorateRequest('sdkApp', undefined);

    app.options(
      '/sdk/v1/batch',
      { schema: { tags: ['sdk'], summary: 'CORS preflight of the SDK upload', response: { 204: Type.Null() } } },
      async (request, reply) => {
        const origin = request.headers.origin;
        if (origin) corsHeaders(reply, origin);
        reply.header('access-control-allow-methods', 'POST');
        reply.header('access-control-allow-headers', `content-type, ${SDK_KEY_HEADER}`);
        reply.header('access-control-max-age', '600');
        return reply.status(204).send();
      },
    );

    app.post(
      '/sdk/v1/batch',
      {
        onRequest: authenticateSdk,
        schema: {
          tags: ['sdk'],
          summary: 'Upload a batch of browser SDK events (sessions, change of user, custom events, purchases, attributes)',
          body: BatchBody,
          response: { 200: BatchResponse, ...errors },
        },
      },
      async (request) => {
        const sdkApp = request.sdkApp!;
        const body = request.body as BatchBody;
        return ingestBatch({ db, tracker, mergeParticipants: hooks.mergeParticipants }, sdkApp, body, mapBatch(body));
      },
    );

    registerMessageRoutes(app, { db, authenticate: authenticateSdk, now: Date.now });

    app.get(
      '/sdk/v1/rivulet.js',
      { schema: { tags: ['sdk'], summary: 'The browser SDK (an IIFE defining window.rivulet)', response: { 200: Type.String(), 404: ErrorBody } } },
      async (_request, reply) => {
        let code: Buffer;
        try {
          code = await readFile(SDK_BUNDLE);
        } catch {
          throw new ApiError(404, 'The browser SDK is not built: run `npm run build`');
        }
        reply.header('content-type', 'text/javascript; charset=utf-8');
        reply.header('cache-control', 'public, max-age=300');
        // Pages of other origins load it with <script src>.
        reply.header('cross-origin-resource-policy', 'cross-origin');
        return reply.send(code);
      },
    );

    app.post(
      '/sdk/apps',
      {
        config: { permission: 'admin' },
        schema: { tags: ['sdk'], summary: 'Create an SDK app: a public SDK key and its allowed origins', body: CreateSdkAppBody, response: { 201: CreatedSdkApp, ...errors } },
      },
      async (request, reply) => {
        const key = requireKey(request);
        const body = request.body as CreateSdkAppBody;
        const problems: ErrorEntry[] = [];
        const origins = body.allowed_origins.map((raw, i) => {
          const parsed = parseOrigin(raw);
          if (!parsed.ok) problems.push({ type: parsed.error, path: `allowed_origins[${i}]` });
          return parsed.ok ? parsed.origin : '';
        });
        if (problems.length) throw new ApiError(400, 'Invalid allowed_origins', problems);
        const created = await createSdkApp(db, key.workspace_id, body.name, [...new Set(origins)]);
        return reply.status(201).send({ ...view(created.app), api_key: created.key });
      },
    );

    app.get(
      '/sdk/apps',
      { config: { permission: 'admin' }, schema: { tags: ['sdk'], summary: 'List the SDK apps of the workspace', response: { 200: SdkAppList, ...errors } } },
      async (request) => ({ sdk_apps: (await listSdkApps(db, requireKey(request).workspace_id)).map(view) }),
    );
  };
}
