/**
 * The dashboard's one way to the server: JSON over fetch with the session cookie, the CSRF token
 * on every state-changing request, and errors turned into `ApiFailure` with the server's message.
 * A 404 for a route the server does not have is marked `unavailable`, so a page can say "this
 * needs a newer server" instead of showing a broken table.
 *
 * Every call names the response schema of its route, from the server's contract
 * (`src/<capability>/contract.ts`, re-exported by the dashboard's per-capability modules, e.g.
 * `currents/api.ts`), and the answer is checked against it at run time (TypeBox's interpreted
 * `Check` of `typebox/schema`: no code generation, so no `unsafe-eval` in the page's CSP, and not
 * the whole `typebox/value` toolbox in the bundle). The answer's type is what the
 * check proves, not a cast; an answer that does not match (a proxy's page, a server of another
 * version) fails with an `ApiFailure` that names the route and the first fields at fault, which the
 * page shows like any other error.
 */
import type { Static, TSchema } from 'typebox';
import { Check, Errors } from 'typebox/schema';

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

/** Field problems shown under a mismatch message (the first few are enough to see what changed). */
const MAX_MISMATCHES = 5;

/** The failure for an answer that does not match its route's schema. */
export function mismatch(schema: TSchema, value: unknown, method: string, path: string): ApiFailure {
  const where = `${method} ${path.split('?')[0]}`;
  const [, errors] = Errors(schema, value);
  const problems = errors
    .slice(0, MAX_MISMATCHES)
    .map((e) => `${e.instancePath || '(the whole answer)'}: ${e.message}`);
  return new ApiFailure(0, `The server's answer to ${where} does not match what this dashboard expects (is the server of another version?)`, problems);
}

export async function api<S extends TSchema>(method: string, path: string, schema: S, body?: unknown): Promise<Static<S>> {
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
    // An empty answer (204) is null, as the contract's NoContent declares it.
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const { message, details, unavailable } = describe(parsed, res.status);
    if (res.status === 401 && path.startsWith('/admin/')) onSignedOut();
    throw new ApiFailure(res.status, unavailable ? `This server has no ${method} ${path.split('?')[0]} route yet` : message, details, unavailable);
  }
  if (Check(schema, parsed)) return parsed;
  throw mismatch(schema, parsed, method, path);
}

export const get = <S extends TSchema>(schema: S, path: string) => api('GET', path, schema);
export const post = <S extends TSchema>(schema: S, path: string, body?: unknown) => api('POST', path, schema, body ?? {});
export const put = <S extends TSchema>(schema: S, path: string, body: unknown) => api('PUT', path, schema, body);
export const patch = <S extends TSchema>(schema: S, path: string, body: unknown) => api('PATCH', path, schema, body);
export const del = <S extends TSchema>(schema: S, path: string) => api('DELETE', path, schema);
