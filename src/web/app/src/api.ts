/**
 * The dashboard's one way to the server: JSON over fetch with the session cookie, the CSRF token
 * on every state-changing request, and errors turned into `ApiFailure` with the server's message.
 * A 404 for a route the server does not have is marked `unavailable`, so a page can say "this
 * needs a newer server" instead of showing a broken table.
 *
 * Responses are typed by the server's contract: `T` is `Static<typeof Schema>` of a response
 * schema in `src/<capability>/contract.ts` (re-exported by the dashboard's per-capability modules,
 * e.g. `currents/api.ts`). The server serializes every answer through that same schema, which is
 * why the one conversion from parsed JSON to `T` below is the single trust point of the client.
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: string[] = [],
    /** The server has no such route (a capability not installed or not built yet). */
    readonly unavailable = false,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when an admin request answers 401: the session ended (expired or signed out elsewhere). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * The message and details of an error answer: the shared error body (src/http/contract.ts
 * `ErrorBody`), or Mixpanel's `{error: {message}}` from the webhook; read with guards, since an
 * error may also come from a proxy in front of the server.
 */
function describe(body: unknown, status: number): { message: string; details: string[]; unavailable: boolean } {
  const b = isRecord(body) ? body : {};
  const entries = Array.isArray(b.errors) ? b.errors.filter(isRecord) : [];
  const unavailable = status === 404 && entries.some((e) => e.type === 'no such route');
  const nested = isText(b.error) ? b.error : isRecord(b.error) && isText(b.error.message) ? b.error.message : undefined;
  const message = isText(b.message) ? b.message : (nested ?? `The server answered ${status}`);
  const details = entries.map((e) => [e.path, e.type].filter(isText).join(': ')).filter((d) => d && d !== message);
  return { message, details, unavailable };
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiFailure(0, 'The server cannot be reached. Is Rivulet running?');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const { message, details, unavailable } = describe(parsed, res.status);
    if (res.status === 401 && path.startsWith('/admin/')) onSignedOut();
    throw new ApiFailure(res.status, unavailable ? `This server has no ${method} ${path.split('?')[0]} route yet` : message, details, unavailable);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);
