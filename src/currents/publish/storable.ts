/**
 * Strings PostgreSQL's jsonb cannot hold: a NUL character (`\u0000`) and an unpaired UTF-16
 * surrogate. JSON allows both, so the publish API must refuse them per item (naming the path)
 * rather than let the insert fail the whole request with a 5xx. Pure.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The dotted path of the first key or string value that jsonb cannot store, or `null`. */
export function unstorablePath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : null;
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorablePath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key)) return at;
    const found = unstorablePath(v, at);
    if (found) return found;
  }
  return null;
}
