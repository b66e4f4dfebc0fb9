/**
 * Size and depth of a JSON value, measured without recursion so that a hostile, deeply nested
 * body can never overflow the stack. Stops counting once `maxBytes` is passed.
 */
export interface JsonShape {
  /** Serialized size in bytes, approximate for strings with escapes; at most maxBytes + 1. */
  bytes: number;
  depth: number;
}

export function measureJson(value: unknown, maxBytes: number, maxDepth: number): JsonShape {
  let bytes = 0;
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (bytes > maxBytes || deepest > maxDepth) return { bytes, depth: deepest };
    if (v === null || typeof v === 'boolean' || typeof v === 'number') {
      bytes += String(v).length;
    } else if (typeof v === 'string') {
      bytes += Buffer.byteLength(v) + 2;
    } else if (Array.isArray(v)) {
      bytes += 2 + Math.max(0, v.length - 1);
      for (const item of v) stack.push([item, depth + 1]);
    } else if (typeof v === 'object') {
      const keys = Object.keys(v as object);
      bytes += 2 + Math.max(0, keys.length - 1);
      for (const k of keys) {
        bytes += Buffer.byteLength(k) + 3;
        stack.push([(v as Record<string, unknown>)[k], depth + 1]);
      }
    }
  }
  return { bytes, depth: deepest };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
