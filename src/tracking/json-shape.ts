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
  // Two parallel stacks (values and their depths): no tuple allocated per node.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (depth > deepest) deepest = depth;
    if (bytes > maxBytes || deepest > maxDepth) return { bytes, depth: deepest };
    if (v === null || typeof v === 'boolean' || typeof v === 'number') {
      bytes += String(v).length;
    } else if (typeof v === 'string') {
      bytes += Buffer.byteLength(v) + 2;
    } else if (Array.isArray(v)) {
      bytes += 2 + Math.max(0, v.length - 1);
      for (const item of v) {
        values.push(item);
        depths.push(depth + 1);
      }
    } else if (typeof v === 'object') {
      let keys = 0;
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        keys++;
        bytes += Buffer.byteLength(k) + 3;
        values.push((v as Record<string, unknown>)[k]);
        depths.push(depth + 1);
      }
      bytes += 2 + Math.max(0, keys - 1);
    }
  }
  return { bytes, depth: deepest };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
