/**
 * PostgreSQL cannot store U+0000 in text or jsonb, and a lone UTF-16 surrogate is not valid UTF-8
 * (jsonb refuses it; text would silently turn it into U+FFFD). JSON lets a client send both, so
 * every body is checked before it can reach the store. Iterative, so deep bodies cannot overflow.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableString(s: string): boolean {
  return !UNSTORABLE.test(s);
}

/** Whether every string (value or key) in `value` can be stored; allocates nothing (the hot path). */
function allStorable(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (value === null || typeof value !== 'object') return true;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        if (UNSTORABLE.test(k)) return false;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return true;
}

/** The JSON path of the first string (value or key) that cannot be stored, or undefined. */
export function findUnstorableString(value: unknown, root = ''): string | undefined {
  if (allStorable(value)) return undefined;
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return path || '(body)';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const at = path ? `${path}.${k}` : k;
        if (UNSTORABLE.test(k)) return at;
        stack.push([(v as Record<string, unknown>)[k], at]);
      }
    }
  }
  return undefined;
}

export const UNSTORABLE_MESSAGE = 'Request body contains a string that cannot be stored';

export function unstorableType(path: string): string {
  return `string at ${path} contains U+0000 or an unpaired UTF-16 surrogate`;
}
