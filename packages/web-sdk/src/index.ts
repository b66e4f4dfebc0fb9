/**
 * Rivulet's browser SDK (docs/reference/sdk.md).
 *
 *   rivulet.init({ apiKey: 'rsk_…', baseUrl: 'https://rivulet.example.com' });
 *   rivulet.changeUser('user-42');
 *   rivulet.logCustomEvent('viewed_item', { sku: 'A1' });
 *   rivulet.logPurchase('A1', 9.5, 'EUR');
 *   rivulet.getUser().setFirstName('Ada');
 *
 * Sessions are automatic: the first activity starts one, and one with no activity for
 * `sessionTimeoutSeconds` ends (its end is dated at its last activity). Everything logged goes to
 * a localStorage queue uploaded in batches of up to 100 to `POST /sdk/v1/batch`, retried with
 * exponential backoff; each event has a client id, so a retried upload is never counted twice.
 */
import { StoredQueue, type QueuedEvent } from './queue.js';
import * as push from './push.js';
import { createCards } from './cards.js';
import { SdkRequestError, type SdkCore } from './core.js';
import { createInApp } from './in-app.js';

export type { ContentCard } from './cards.js';
export type { InAppMessage } from './in-app.js';

export const SDK_VERSION = '1.0.0';
const BATCH = 100;
const MAX_BACKOFF_MS = 60_000;

export interface InitOptions {
  /** The workspace's public SDK key. */
  apiKey: string;
  /** Where Rivulet answers, e.g. https://rivulet.example.com. */
  baseUrl: string;
  /** Inactivity that ends a session (default 1800 s). */
  sessionTimeoutSeconds?: number;
  /** Delay between logging an event and uploading it (default 2000 ms). */
  flushIntervalMs?: number;
  /** Log upload problems to the console (default true). */
  logging?: boolean;
}

interface SessionState {
  id: string;
  startedAt: number;
  lastActivity: number;
}

interface State {
  opts: Required<InitOptions>;
  queue: StoredQueue;
  deviceId: string;
  uploading: boolean;
  failures: number;
  stopped: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  watch: ReturnType<typeof setInterval> | undefined;
}

let state: State | undefined;
const PREFIX = 'rivulet.';

const uuid = (): string =>
  typeof crypto !== 'undefined' && 'randomUUID' in crypto
    ? crypto.randomUUID()
    : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
        const r = (Math.random() * 16) | 0;
        return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
      });

function required(): State {
  if (!state) throw new Error('rivulet: call rivulet.init({ apiKey, baseUrl }) first');
  return state;
}

function warn(message: string, detail?: unknown): void {
  if (state?.opts.logging) console.warn(`rivulet: ${message}`, detail ?? '');
}

function readSession(): SessionState | undefined {
  try {
    const raw = localStorage.getItem(PREFIX + 'session');
    return raw ? (JSON.parse(raw) as SessionState) : undefined;
  } catch {
    return undefined;
  }
}

function writeSession(s: SessionState | undefined): void {
  if (s) localStorage.setItem(PREFIX + 'session', JSON.stringify(s));
  else localStorage.removeItem(PREFIX + 'session');
}

function enqueue(s: State, type: QueuedEvent['type'], fields: Record<string, unknown>, timeMs = Date.now()): void {
  s.queue.push({ id: uuid(), type, time: new Date(timeMs).toISOString(), ...fields });
  scheduleFlush(s, s.opts.flushIntervalMs);
}

/** Ends the current session when it has been idle too long. */
function endIdleSession(s: State, now = Date.now()): void {
  const current = readSession();
  if (!current || now - current.lastActivity < s.opts.sessionTimeoutSeconds * 1000) return;
  const duration = Math.max(0, (current.lastActivity - current.startedAt) / 1000);
  enqueue(s, 'session_end', { session_id: current.id, duration }, current.lastActivity);
  writeSession(undefined);
}

/** Marks activity: starts a session when none is open (ending an idle one first). */
function touch(s: State): void {
  const now = Date.now();
  endIdleSession(s, now);
  const current = readSession();
  if (current) {
    writeSession({ ...current, lastActivity: now });
    return;
  }
  const session = { id: uuid(), startedAt: now, lastActivity: now };
  writeSession(session);
  enqueue(s, 'session_start', { session_id: session.id }, now);
}

function scheduleFlush(s: State, delayMs: number): void {
  if (s.timer !== undefined || s.stopped) return;
  s.timer = setTimeout(() => {
    s.timer = undefined;
    void flush();
  }, delayMs);
}

/** Uploads the queue now (batches of 100). Resolves when this attempt is over. */
export async function flush(keepalive = false): Promise<void> {
  const s = required();
  if (s.uploading || s.stopped) return;
  const batch = s.queue.all().slice(0, BATCH);
  if (batch.length === 0) return;
  s.uploading = true;
  let retryIn: number | undefined;
  try {
    const res = await fetch(`${s.opts.baseUrl.replace(/\/+$/, '')}/sdk/v1/batch`, {
      method: 'POST',
      keepalive,
      headers: { 'content-type': 'application/json', 'x-rivulet-sdk-key': s.opts.apiKey },
      body: JSON.stringify({ device_id: s.deviceId, sdk_version: SDK_VERSION, events: batch }),
    });
    const body = (await res.json().catch(() => undefined)) as { errors?: Array<{ id: string; status: number; type: string }> } | undefined;
    if (res.ok) {
      // Events the server could not apply for a reason a retry may fix (a 5xx) stay queued.
      const keep = new Set((body?.errors ?? []).filter((e) => e.status >= 500).map((e) => e.id));
      for (const e of body?.errors ?? []) if (e.status < 500) warn(`event ${e.id} refused: ${e.type}`);
      s.queue.remove(new Set(batch.map((e) => e.id).filter((id) => !keep.has(id))));
      s.failures = 0;
      if (keep.size) retryIn = backoff(s);
      else if (s.queue.all().length) retryIn = 0;
    } else if (res.status === 400 || res.status === 413) {
      warn('upload refused; dropping it', body);
      s.queue.remove(new Set(batch.map((e) => e.id)));
    } else if (res.status === 401 || res.status === 403) {
      warn('SDK key or origin refused; uploads stop until the next page load', body);
      s.stopped = true;
    } else {
      retryIn = backoff(s);
    }
  } catch {
    retryIn = backoff(s);
  } finally {
    s.uploading = false;
  }
  if (retryIn !== undefined) scheduleFlush(s, retryIn);
}

function backoff(s: State): number {
  s.failures++;
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (s.failures - 1));
  return base / 2 + Math.random() * (base / 2);
}

export function init(options: InitOptions): void {
  if (!options?.apiKey || !options?.baseUrl) throw new Error('rivulet.init needs { apiKey, baseUrl }');
  if (state) return;
  let deviceId = localStorage.getItem(PREFIX + 'device_id');
  if (!deviceId) {
    deviceId = uuid();
    localStorage.setItem(PREFIX + 'device_id', deviceId);
  }
  const s: State = {
    opts: { sessionTimeoutSeconds: 1800, flushIntervalMs: 2000, logging: true, ...options },
    queue: new StoredQueue(localStorage, PREFIX + 'queue'),
    deviceId,
    uploading: false,
    failures: 0,
    stopped: false,
    timer: undefined,
    watch: undefined,
  };
  state = s;
  touch(s);
  const activity = () => touch(s);
  for (const type of ['click', 'keydown', 'scroll', 'touchstart']) addEventListener(type, activity, { passive: true });
  s.watch = setInterval(() => endIdleSession(s), Math.min(60_000, s.opts.sessionTimeoutSeconds * 250));
  addEventListener('pagehide', () => void flush(true));
  // Whatever an earlier page left in the queue goes now.
  scheduleFlush(s, 0);
  refreshInAppSoon();
}

/** The message modules' access to the queue and the SDK routes (core.ts). */
const core: SdkCore = {
  log(type, fields) {
    const s = required();
    touch(s);
    enqueue(s, type, fields);
  },
  flush: (keepalive) => flush(keepalive),
  async get(path) {
    const s = required();
    const res = await fetch(`${s.opts.baseUrl.replace(/\/+$/, '')}/sdk/v1/${path}?device_id=${encodeURIComponent(s.deviceId)}`, { headers: { 'x-rivulet-sdk-key': s.opts.apiKey } });
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) throw new SdkRequestError(res.status, body);
    return body;
  },
  warn,
  storage: () => localStorage,
};
const cards = createCards(core);
const inApp = createInApp(core);

/** Content cards: the current user's feed, and what the page reports about each card. */
export const getContentCards = cards.getContentCards;
export const logCardImpression = cards.logCardImpression;
export const logCardClick = cards.logCardClick;
export const dismissCard = cards.dismissCard;
/** In-app messages: fetched at init and after a change of user; shown when a trigger event is logged. */
export const refreshInAppMessages = inApp.refreshInAppMessages;
export const closeInAppMessage = inApp.closeInAppMessage;

/**
 * Fetches the in-app messages once the queued session starts and changes of user are uploaded (the
 * server knows the device's user only then); gives up after a minute of failing uploads.
 */
function refreshInAppSoon(): void {
  const s = required();
  const started = Date.now();
  const attempt = () => {
    if (s.stopped || Date.now() - started > 60_000) return;
    if (s.queue.all().some((e) => e.type === 'session_start' || e.type === 'change_user')) {
      void flush();
      setTimeout(attempt, Math.max(100, s.opts.flushIntervalMs));
      return;
    }
    inApp.refreshInAppMessages().catch((err: unknown) => warn('could not fetch in-app messages', err));
  };
  setTimeout(attempt, s.opts.flushIntervalMs);
}

/** The device's id (kept in localStorage). */
export function getDeviceId(): string {
  return required().deviceId;
}

/** The open session's id, if one is open. */
export function getSessionId(): string | undefined {
  return readSession()?.id;
}

export function changeUser(externalId: string): void {
  const s = required();
  touch(s);
  enqueue(s, 'change_user', { external_id: externalId });
  refreshInAppSoon();
}

export function logCustomEvent(name: string, properties?: Record<string, unknown>): void {
  const s = required();
  touch(s);
  enqueue(s, 'custom_event', { name, ...(properties ? { properties } : {}) });
  inApp.onEvent(name);
}

export function logPurchase(productId: string, price: number, currency = 'USD', quantity = 1, properties?: Record<string, unknown>): void {
  const s = required();
  touch(s);
  enqueue(s, 'purchase', { product_id: productId, price, currency, quantity, ...(properties ? { properties } : {}) });
}

/** Sets profile attributes: the fields of /users/track's attribute objects (first_name, email, …) or custom ones. */
export function setAttributes(attributes: Record<string, unknown>): void {
  const s = required();
  touch(s);
  enqueue(s, 'attributes', { attributes });
}

/** Braze-style setters of the current user's attributes. */
export function getUser() {
  const set = (field: string) => (value: unknown) => setAttributes({ [field]: value });
  return {
    setFirstName: set('first_name'),
    setLastName: set('last_name'),
    setEmail: set('email'),
    setCountry: set('country'),
    setLanguage: set('language'),
    setPhoneNumber: set('phone'),
    setCustomUserAttribute: (key: string, value: unknown) => setAttributes({ [key]: value }),
  };
}

// Web push (push.ts): the SDK's state is its context.
const pushContext = (): push.PushContext => {
  const s = required();
  return { baseUrl: s.opts.baseUrl, apiKey: s.opts.apiKey, deviceId: s.deviceId, flush: () => flush() };
};
export { isPushSupported, type PushOptions, type PushResult } from './push.js';
export const requestPushPermission = (options?: push.PushOptions) => push.requestPushPermission(pushContext(), options);
export const subscribeToPush = (options?: push.PushOptions) => push.subscribeToPush(pushContext(), options);
export const unsubscribeFromPush = (options?: push.PushOptions) => push.unsubscribeFromPush(pushContext(), options);
