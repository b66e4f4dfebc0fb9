/**
 * Web push in the browser SDK (docs/reference/push.md §2). `requestPushPermission()` asks the
 * browser for permission (call it from a click: browsers refuse prompts without a user gesture)
 * and subscribes; `subscribeToPush()` subscribes when permission is already granted. Subscribing:
 * register the site's service worker (which imports /sdk/v1/rivulet-sw.js), fetch the workspace's
 * VAPID public key, `pushManager.subscribe` with it, upload the queue (the server ties the
 * subscription to this device, so the device must be known first), then register the subscription.
 */

export interface PushOptions {
  /** The site's own worker file, same origin as the page (default `/service-worker.js`). */
  serviceWorkerUrl?: string;
}

export interface PushContext {
  baseUrl: string;
  apiKey: string;
  deviceId: string;
  /** Uploads the SDK's queue (sessions, change of user) so the device exists on the server. */
  flush(): Promise<void>;
}

export type PushResult = { ok: true; subscriptionId: string } | { ok: false; reason: string };

export function isPushSupported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof window !== 'undefined' && 'PushManager' in window && 'Notification' in window;
}

const api = (ctx: PushContext, path: string) => `${ctx.baseUrl.replace(/\/+$/, '')}${path}`;
const headers = (ctx: PushContext) => ({ 'content-type': 'application/json', 'x-rivulet-sdk-key': ctx.apiKey });

function keyBytes(base64url: string): Uint8Array {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function register(ctx: PushContext, subscription: PushSubscriptionJSON): Promise<PushResult> {
  // The device is created by the SDK's first upload; a fresh page may not have uploaded yet.
  for (let i = 0; i < 5; i++) {
    await ctx.flush();
    const res = await fetch(api(ctx, '/sdk/v1/push/subscriptions'), { method: 'POST', headers: headers(ctx), body: JSON.stringify({ device_id: ctx.deviceId, subscription }) });
    const body = (await res.json().catch(() => undefined)) as { subscription_id?: string; message?: string } | undefined;
    if (res.ok && body?.subscription_id) return { ok: true, subscriptionId: body.subscription_id };
    if (res.status !== 404 && res.status < 500) return { ok: false, reason: body?.message ?? `HTTP ${res.status}` };
    await new Promise((r) => setTimeout(r, 500 * 2 ** i));
  }
  return { ok: false, reason: 'the subscription could not be registered' };
}

export async function subscribeToPush(ctx: PushContext, options: PushOptions = {}): Promise<PushResult> {
  if (!isPushSupported()) return { ok: false, reason: 'this browser has no web push' };
  if (Notification.permission !== 'granted') return { ok: false, reason: `notification permission is ${Notification.permission}` };
  const registration = await navigator.serviceWorker.register(options.serviceWorkerUrl ?? '/service-worker.js');
  await navigator.serviceWorker.ready;
  const keyRes = await fetch(api(ctx, '/sdk/v1/push/vapid-key'), { headers: headers(ctx) });
  if (!keyRes.ok) return { ok: false, reason: `the VAPID key could not be read (HTTP ${keyRes.status})` };
  const { public_key } = (await keyRes.json()) as { public_key: string };
  const applicationServerKey = keyBytes(public_key);
  let subscription = await registration.pushManager.getSubscription();
  // A subscription made for another key (the workspace changed) is replaced.
  const current = subscription?.options.applicationServerKey;
  if (subscription && current && !sameBytes(new Uint8Array(current), applicationServerKey)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: applicationServerKey as BufferSource });
  return register(ctx, subscription.toJSON());
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export async function requestPushPermission(ctx: PushContext, options: PushOptions = {}): Promise<PushResult> {
  if (!isPushSupported()) return { ok: false, reason: 'this browser has no web push' };
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return { ok: false, reason: `notification permission is ${permission}` };
  return subscribeToPush(ctx, options);
}

export async function unsubscribeFromPush(ctx: PushContext, options: PushOptions = {}): Promise<boolean> {
  if (!isPushSupported()) return false;
  const registration = await navigator.serviceWorker.getRegistration(options.serviceWorkerUrl ?? '/service-worker.js');
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return false;
  await fetch(api(ctx, '/sdk/v1/push/unsubscribe'), { method: 'POST', headers: headers(ctx), body: JSON.stringify({ endpoint: subscription.endpoint }) }).catch(() => undefined);
  return subscription.unsubscribe();
}
