/**
 * Rivulet's service worker logic for web push (docs/reference/push.md §4). A site serves its own
 * worker file at its origin (a service worker must be same-origin with the page) and imports this
 * one into it:
 *
 *   // https://shop.example.com/service-worker.js
 *   importScripts('https://rivulet.example.com/sdk/v1/rivulet-sw.js');
 *
 * `push`: the decrypted payload `{title, body, url?, icon?, rivulet: {open_url, token}}` becomes a
 * notification. `notificationclick`: the notification closes, the click is reported as an Open
 * (its token posted to `open_url`, retried a few times) and `url` is opened or focused.
 *
 * The handlers take what they use as arguments so they are unit-tested outside a browser; the
 * types are the few members of the Service Worker and Notifications APIs they touch.
 */

export interface PushMessage {
  title: string;
  body: string;
  url?: string;
  icon?: string;
  rivulet?: { open_url: string; token: string };
}

export interface NotificationData {
  url?: string;
  open_url?: string;
  token?: string;
}

export interface ShownNotification {
  title: string;
  options: { body: string; icon?: string; data: NotificationData; tag?: string };
}

interface ExtendableEventLike {
  waitUntil(p: Promise<unknown>): void;
}
export interface PushEventLike extends ExtendableEventLike {
  data: { json(): unknown; text(): string } | null;
}
export interface NotificationClickEventLike extends ExtendableEventLike {
  action?: string;
  notification: { data: unknown; close(): void };
}
export interface WindowClientLike {
  url: string;
  focus(): Promise<unknown>;
  navigate?(url: string): Promise<unknown>;
}
export interface WorkerScopeLike {
  registration: { showNotification(title: string, options: ShownNotification['options']): Promise<void> };
  clients: { matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<readonly WindowClientLike[]>; openWindow(url: string): Promise<unknown> };
  addEventListener(type: string, listener: (event: never) => void): void;
}
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; keepalive?: boolean; mode?: string; credentials?: string }) => Promise<{ ok: boolean; status: number }>;

const isText = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;
const isHttpUrl = (v: unknown): v is string => isText(v) && /^https?:\/\//i.test(v);

/** The notification a push payload asks for; undefined when it is not a Rivulet message. */
export function notificationOf(data: PushEventLike['data']): ShownNotification | undefined {
  if (!data) return undefined;
  let raw: unknown;
  try {
    raw = data.json();
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Partial<PushMessage>;
  if (!isText(m.title) || !isText(m.body) || (!m.title && !m.body)) return undefined;
  const d: NotificationData = {};
  if (isHttpUrl(m.url)) d.url = m.url;
  if (m.rivulet && isHttpUrl(m.rivulet.open_url) && isText(m.rivulet.token, 512)) {
    d.open_url = m.rivulet.open_url;
    d.token = m.rivulet.token;
  }
  return { title: m.title, options: { body: m.body, ...(isHttpUrl(m.icon) ? { icon: m.icon } : {}), data: d } };
}

export function handlePush(event: PushEventLike, scope: Pick<WorkerScopeLike, 'registration'>): boolean {
  const shown = notificationOf(event.data);
  if (!shown) return false;
  event.waitUntil(scope.registration.showNotification(shown.title, shown.options));
  return true;
}

/** Posts the Open: a few tries, as the worker may be offline for a moment; gives up quietly. */
export async function reportOpen(fetchFn: FetchLike, data: NotificationData, action: string | undefined, tries = 3, pauseMs = 1000): Promise<boolean> {
  if (!data.open_url || !data.token) return false;
  const body = JSON.stringify({ token: data.token, ...(action ? { action } : {}) });
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetchFn(data.open_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, keepalive: true, mode: 'cors', credentials: 'omit' });
      // 2xx: recorded; 4xx: never will be (a bad token); 5xx and network errors: try again.
      if (res.ok) return true;
      if (res.status < 500) return false;
    } catch {
      /* offline: try again */
    }
    if (i < tries - 1) await new Promise((r) => setTimeout(r, pauseMs * 2 ** i));
  }
  return false;
}

/** Focuses a window already on `url`, else opens one. */
export async function openTarget(clients: WorkerScopeLike['clients'], url: string | undefined): Promise<void> {
  if (!url) return;
  const open = await clients.matchAll({ type: 'window', includeUncontrolled: true });
  const same = open.find((c) => c.url === url);
  if (same) {
    await same.focus();
    return;
  }
  await clients.openWindow(url);
}

export function handleNotificationClick(event: NotificationClickEventLike, scope: Pick<WorkerScopeLike, 'clients'>, fetchFn: FetchLike): boolean {
  const data = (event.notification.data ?? {}) as NotificationData;
  event.notification.close();
  if (!data.token && !data.url) return false;
  event.waitUntil(Promise.all([reportOpen(fetchFn, data, event.action || undefined), openTarget(scope.clients, data.url)]));
  return true;
}

/** Wires the handlers into a service worker's global scope. */
export function install(scope: WorkerScopeLike, fetchFn: FetchLike): void {
  scope.addEventListener('push', (event: PushEventLike) => void handlePush(event, scope));
  scope.addEventListener('notificationclick', (event: NotificationClickEventLike) => void handleNotificationClick(event, scope, fetchFn));
}

// Inside a service worker (it has `registration` and `clients`), install at once.
const g = globalThis as unknown as Partial<WorkerScopeLike> & { fetch?: FetchLike };
if (typeof g.addEventListener === 'function' && g.registration && g.clients && g.fetch) install(g as WorkerScopeLike, g.fetch.bind(globalThis) as FetchLike);
