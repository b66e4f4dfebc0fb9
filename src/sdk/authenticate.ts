/**
 * The SDK key check for routes outside this folder that the browser SDK calls (web push), in the
 * same order as the upload route (docs/reference/sdk.md, "SDK apps: the public SDK key"): SDK key,
 * then origin, then the `sdk` rate limit of the app, before the body is read. The answer carries the CORS header of the
 * request's origin, so the page can read why it was refused.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, Errors, type AppServices } from '../http/index.js';
import { SDK_KEY_HEADER } from './contract.js';
import { originAllowed } from './origins.js';
import { findSdkAppByKey, type SdkApp } from './store.js';

const KEY_CACHE_MS = 2_000;

export type { SdkApp };

/** An `onRequest` hook and a reader of the app it authenticated. */
export function sdkAuthenticator({ db, config, limits }: Pick<AppServices, 'db' | 'config' | 'limits'>) {
  const cache = new Map<string, { app: SdkApp | undefined; until: number }>();
  const authenticated = new WeakMap<FastifyRequest, SdkApp>();
  const lookup = async (key: string) => {
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.app;
    const found = await findSdkAppByKey(db, key);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { app: found, until: Date.now() + KEY_CACHE_MS });
    return found;
  };
  return {
    async onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      const origin = request.headers.origin;
      if (origin) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
      }
      const raw = request.headers[SDK_KEY_HEADER];
      const key = typeof raw === 'string' && /^[\x21-\x7e]{1,256}$/.test(raw) ? raw : undefined;
      const app = key ? await lookup(key) : undefined;
      if (!app) throw new ApiError(401, 'Unknown or missing SDK key', [{ type: 'unknown or missing SDK key', path: `headers.${SDK_KEY_HEADER}` }]);
      if (!originAllowed(origin, app.allowed_origins)) {
        const message = origin ? `Origin ${origin} is not allowed for this SDK key` : 'Requests with an SDK key must come from an allowed origin';
        throw new ApiError(403, message, [{ type: 'origin not allowed', path: 'headers.origin' }]);
      }
      const decision = await limits.take(request, 'sdk', config.rateLimits.sdk, `sdk:${app.id}`);
      reply.headers(decision.headers);
      if (!decision.allowed) throw Errors.rateLimited(decision.headers);
      authenticated.set(request, app);
    },
    /** The SDK app of a request that passed `onRequest`. */
    appOf(request: FastifyRequest): SdkApp {
      const app = authenticated.get(request);
      if (!app) throw new Error('sdkAuthenticator.appOf: the request was not authenticated');
      return app;
    },
  };
}
