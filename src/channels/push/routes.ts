/**
 * Web push routes (docs/reference/push.md §2, §4). The browser SDK's, authenticated by the public
 * SDK key from an allowed origin like its uploads:
 * - `GET /sdk/v1/push/vapid-key`: the workspace's VAPID public key (made on first use);
 * - `POST /sdk/v1/push/subscriptions`: registers a browser's subscription for an SDK device
 *   (checked whole first: a malformed one is refused with 400 naming the field, nothing stored);
 * - `POST /sdk/v1/push/unsubscribe`: forgets an endpoint.
 * The service worker's, authenticated by the signed token of the message it shows:
 * - `POST /sdk/v1/push/open`: a notification was clicked → one Open event per message;
 * - `GET /sdk/v1/rivulet-sw.js`: the service worker script a site imports into its own worker.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { appendEvents, type LogEvent } from '../../events/index.js';
import { ApiError, type AppServices } from '../../http/index.js';
import { userByDeviceId } from '../../identity/index.js';
import type { SecretBox } from '../../secrets/index.js';
import { OpenBody, OpenedView, ScriptView, SubscribeBody, SubscribedView, UnsubscribeBody, UnsubscribedView, VapidKeyView } from './contract.js';
import { openTokenWorkspace, verifyOpenToken } from './open-token.js';
import { deleteSubscriptionByEndpoint, markOpened, saveSubscription, type PushMessageRow } from './store.js';
import { canonicalKeys, checkSubscription, type PushSubscriptionInput } from './subscription.js';
import { vapidKeys } from './vapid.js';

/** The built service worker, reached the same way from `src/channels/push` and `dist/channels/push`. */
export const SW_BUNDLE = fileURLToPath(new URL('../../../dist/sdk-sw/rivulet-sw.js', import.meta.url));

export const PUSH_OPEN_PATH = '/sdk/v1/push/open';

export interface PushRouteDeps {
  box: SecretBox;
  /** Hosts an http (not https) endpoint may name: the webhook allowlist. */
  allowHttpHosts: readonly string[];
  /** The key that signs a workspace's open tokens. */
  openSecret(workspaceId: string): Buffer;
  /** The Open event of a message sent by a campaign (its stored context). */
  openEvent(message: PushMessageRow, fields: Record<string, unknown>, timeMs: number): LogEvent;
  /**
   * The SDK's key check (src/sdk: key, allowed origin, rate limit) and the header its key comes in,
   * passed in by the wiring: the SDK capability reads the channels' feeds, so channels cannot import it.
   */
  sdk: { authenticator(services: AppServices): SdkAuthenticator; keyHeader: string };
}

/** What `sdkAuthenticator` (src/sdk) gives: an onRequest hook, and the SDK app a request was authenticated as. */
export interface SdkAuthenticator {
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  appOf(request: FastifyRequest): { id: string; workspace_id: string };
}

const tags = ['push'];

export function pushRoutes(deps: PushRouteDeps) {
  return async function routes(app: FastifyInstance, services: AppServices): Promise<void> {
    const { db } = services;
    const sdk = deps.sdk.authenticator(services);
    const SDK_KEY_HEADER = deps.sdk.keyHeader;

    app.options(
      '/sdk/v1/push/*',
      { schema: { tags, summary: 'CORS preflight of the web push routes', response: { 204: Type.Null() } } },
      async (request, reply) => {
        const origin = request.headers.origin;
        if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
        reply.header('access-control-allow-methods', 'GET, POST');
        reply.header('access-control-allow-headers', `content-type, ${SDK_KEY_HEADER}`);
        reply.header('access-control-max-age', '600');
        return reply.status(204).send();
      },
    );

    app.get(
      '/sdk/v1/push/vapid-key',
      { onRequest: sdk.onRequest, schema: { tags, summary: "The workspace's VAPID public key (the applicationServerKey to subscribe with)", response: { 200: VapidKeyView } } },
      async (request) => ({ public_key: (await vapidKeys(db, deps.box, sdk.appOf(request).workspace_id)).publicKey }),
    );

    app.post(
      '/sdk/v1/push/subscriptions',
      { onRequest: sdk.onRequest, schema: { tags, summary: "Register a browser's push subscription for an SDK device", body: SubscribeBody, response: { 200: SubscribedView, 201: SubscribedView } } },
      async (request, reply) => {
        const sdkApp = sdk.appOf(request);
        const body = request.body as SubscribeBody;
        const problems = checkSubscription(body.subscription, deps.allowHttpHosts);
        if (problems.length) throw new ApiError(400, `${problems[0]!.field}: ${problems[0]!.message}`, problems.map((p) => ({ type: p.message, path: p.field })));
        const sub = body.subscription as unknown as PushSubscriptionInput;
        if (!(await userByDeviceId(db, sdkApp.workspace_id, body.device_id))) {
          throw new ApiError(404, 'device_id not found: upload a session first', [{ type: 'unknown device', path: 'device_id' }]);
        }
        const { row, created } = await saveSubscription(db, { workspace_id: sdkApp.workspace_id, sdk_app_id: sdkApp.id, device_id: body.device_id, endpoint: sub.endpoint, ...canonicalKeys(sub.keys) });
        return reply.status(created ? 201 : 200).send({ message: 'success', subscription_id: row.id, created });
      },
    );

    app.post(
      '/sdk/v1/push/unsubscribe',
      { onRequest: sdk.onRequest, schema: { tags, summary: 'Forget a push subscription (the browser unsubscribed)', body: UnsubscribeBody, response: { 200: UnsubscribedView } } },
      async (request) => ({ message: 'success' as const, removed: await deleteSubscriptionByEndpoint(db, sdk.appOf(request).workspace_id, (request.body as UnsubscribeBody).endpoint) }),
    );

    app.post(
      PUSH_OPEN_PATH,
      { schema: { tags, summary: "A push notification was clicked (the service worker reports it with the message's signed token)", body: OpenBody, response: { 200: OpenedView } } },
      async (request, reply) => {
        const origin = request.headers.origin;
        if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
        const body = request.body as OpenBody;
        const ws = openTokenWorkspace(body.token);
        const claim = ws ? verifyOpenToken(body.token, deps.openSecret(ws)) : undefined;
        if (!claim) throw new ApiError(400, 'token: not a valid push open token', [{ type: 'invalid token', path: 'token' }]);
        const logged = await db.transaction(async (tx) => {
          const message = await markOpened(tx, claim.workspaceId, claim.sendKey, claim.subscriptionId);
          if (!message) return false;
          const fields: Record<string, unknown> = { app_id: message.sdk_app_id, platform: 'web' };
          if (body.action) Object.assign(fields, { button_action_type: 'action', button_string: body.action });
          await appendEvents(tx, claim.workspaceId, [deps.openEvent(message, fields, Date.now())]);
          return true;
        });
        return { message: 'success' as const, logged };
      },
    );

    app.get(
      '/sdk/v1/rivulet-sw.js',
      { schema: { tags, summary: "The SDK's service worker (import it into the site's own worker with importScripts)", response: { 200: ScriptView } } },
      async (_request, reply) => {
        let code: Buffer;
        try {
          code = await readFile(SW_BUNDLE);
        } catch {
          throw new ApiError(404, 'The service worker is not built: run `npm run build`');
        }
        reply.header('content-type', 'text/javascript; charset=utf-8');
        reply.header('cache-control', 'public, max-age=300');
        reply.header('cross-origin-resource-policy', 'cross-origin');
        return reply.send(code);
      },
    );
  };
}
