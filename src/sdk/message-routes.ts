/**
 * The SDK's message routes (docs/reference/sdk.md#content-cards, #in-app-messages), authenticated
 * like the upload (public SDK key, allowed origin, the `sdk` rate limit):
 * - `GET /sdk/v1/content_cards?device_id=`: the feed of the device's user;
 * - `GET /sdk/v1/in_app_messages?device_id=`: the in-app messages waiting for a trigger event.
 * Impressions, clicks and dismissals come back through `POST /sdk/v1/batch` (queued and retried
 * with the other events, idempotent by their client ids).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../http/index.js';
import { contentCardFeed, pendingInAppMessages } from '../channels/index.js';
import { userByDeviceId } from '../identity/index.js';
import type { Db } from '../storage/index.js';
import { ContentCardFeed, DeviceQuery, ErrorBody, InAppMessageList, SDK_KEY_HEADER } from './contract.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody };
const iso = (d: Date | string) => new Date(d).toISOString();

export interface MessageRouteDeps {
  db: Db;
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  now: () => number;
}

export function registerMessageRoutes(app: FastifyInstance, { db, authenticate, now }: MessageRouteDeps): void {
  for (const path of ['/sdk/v1/content_cards', '/sdk/v1/in_app_messages']) {
    app.options(path, { schema: { tags: ['sdk'], summary: 'CORS preflight of an SDK message read', response: { 204: Type.Null() } } }, async (request, reply) => {
      const origin = request.headers.origin;
      if (origin) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
      }
      reply.header('access-control-allow-methods', 'GET');
      reply.header('access-control-allow-headers', SDK_KEY_HEADER);
      reply.header('access-control-max-age', '600');
      return reply.status(204).send();
    });
  }

  const userOf = async (request: FastifyRequest) => {
    const sdkApp = request.sdkApp!;
    const { device_id } = request.query as DeviceQuery;
    const user = await userByDeviceId(db, sdkApp.workspace_id, device_id);
    if (!user) throw new ApiError(404, 'device_id not found: start a session first', [{ type: 'unknown device', path: 'querystring.device_id' }]);
    return { sdkApp, user, deviceId: device_id };
  };

  app.get(
    '/sdk/v1/content_cards',
    { onRequest: authenticate, schema: { tags: ['sdk'], summary: "The content cards feed of the device's user: neither dismissed nor expired, pinned first", querystring: DeviceQuery, response: { 200: ContentCardFeed, ...errors } } },
    async (request) => {
      const { sdkApp, user } = await userOf(request);
      const cards = await contentCardFeed(db, sdkApp.workspace_id, user.id);
      return {
        cards: cards.map((c) => ({
          id: c.id,
          title: c.title,
          description: c.description,
          image_url: c.image_url,
          url: c.url,
          pinned: c.pinned,
          created_at: iso(c.created_at),
          expires_at: iso(c.expires_at),
          viewed: c.viewed_at !== null,
          clicked: c.clicked_at !== null,
        })),
      };
    },
  );

  app.get(
    '/sdk/v1/in_app_messages',
    { onRequest: authenticate, schema: { tags: ['sdk'], summary: "The in-app messages waiting for the device's user, with their trigger events", querystring: DeviceQuery, response: { 200: InAppMessageList, ...errors } } },
    async (request) => {
      const { sdkApp, user, deviceId } = await userOf(request);
      const pending = await pendingInAppMessages(db, sdkApp.workspace_id, { id: user.id, external_id: user.external_id, time_zone: user.time_zone }, { app_id: sdkApp.id, device_id: deviceId }, now());
      return {
        messages: pending.map((m) => ({
          id: m.id,
          layout: m.layout,
          header: m.header,
          body: m.body,
          image_url: m.image_url,
          buttons: m.buttons.map((b) => ({ id: b.id, text: b.text, url: b.url })),
          trigger_events: m.trigger_events,
          expires_at: iso(m.expires_at),
        })),
      };
    },
  );
}
