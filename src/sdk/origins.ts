/**
 * Allowed origins of an SDK app: pure parsing and matching. An origin is `scheme://host[:port]`
 * exactly as a browser sends it in the `Origin` header (no path, no trailing slash).
 */
export const MAX_ALLOWED_ORIGINS = 50;

/** The canonical origin of `raw`, or an error message naming what is wrong with it. */
export function parseOrigin(raw: string): { ok: true; origin: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: 'not a URL origin like https://shop.example.com' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, error: 'origin scheme must be http or https' };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, error: 'an origin has no path, query, fragment or credentials' };
  }
  return { ok: true, origin: url.origin };
}

/** Whether a request's `Origin` header is one of `allowed` (canonical origins). */
export function originAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (!header || header === 'null') return false;
  const parsed = parseOrigin(header);
  return parsed.ok && allowed.includes(parsed.origin);
}
