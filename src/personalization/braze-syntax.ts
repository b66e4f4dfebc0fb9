/**
 * Braze writes attribute references as `${name}` inside Liquid output and tags
 * (`{{${first_name}}}`, `{{custom_attribute.${plan tier}}}`); liquidjs does not parse `${`. This
 * module rewrites each reference into a plain Liquid path of the same length, so that every line
 * and column liquidjs reports is the author's own, and finds the Braze features Rivulet cannot
 * render. Pure functions; docs/reference/personalization.md.
 */

export interface SourceProblem {
  line: number;
  column: number;
  message: string;
}

const SIMPLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Features of Braze's Liquid that need services Rivulet does not have: refused when saved. */
const UNSUPPORTED_TAGS: Record<string, string> = {
  connected_content: 'Connected Content is not supported: Rivulet does not call out to other services while rendering',
  catalog_items: 'catalogs are not supported',
  catalog_selection_items: 'catalogs are not supported',
  promotion: 'promotion codes are not supported',
  rerender: 'rerender is not supported',
  message_extras: 'message_extras is not supported',
};

/** 1-based line and column of `index` in `source`. */
export function positionOf(source: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: index - lineStart + 1 };
}

/** The spans of `{{ … }}` and `{% … %}` markup, where `${…}` references are rewritten. */
function markupSpans(source: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const open = /\{\{|\{%/g;
  let m: RegExpExecArray | null;
  while ((m = open.exec(source))) {
    const close = m[0] === '{{' ? '}}' : '%}';
    // `{{${name}}}` closes with three braces: the reference's own `}` comes first.
    let end = source.indexOf(close, m.index + 2);
    while (end !== -1 && m[0] === '{{' && source[end + 2] === '}') end++;
    if (end === -1) break;
    spans.push([m.index, end + 2]);
    open.lastIndex = end + 2;
  }
  return spans;
}

/**
 * Rewrites `${name}` references into Liquid paths of exactly the same length:
 * `.${plan tier}` → `["plan tier"]`; `${first_name}` and `.${address.city}` (dots reach nested
 * keys) → the plain path padded with spaces after it. A name that fits neither is a problem.
 */
export function rewriteBrazeReferences(source: string): { text: string; problems: SourceProblem[] } {
  const problems: SourceProblem[] = [];
  const chars = source.split('');
  for (const [from, to] of markupSpans(source)) {
    const ref = /(\.?)\$\{([^}]*)\}/g;
    const inner = source.slice(from, to);
    let m: RegExpExecArray | null;
    while ((m = ref.exec(inner))) {
      const start = from + m.index;
      const [whole, dot, name] = m as unknown as [string, string, string];
      let replacement: string;
      // `.${name}` and `["name"]` have the same length, so a path may go on after the reference.
      if (dot && !/["\\]/.test(name) && !name.includes('.')) replacement = `["${name}"]`;
      else if (name.split('.').every((part) => SIMPLE_NAME.test(part))) replacement = dot + name; // padded at its end
      else {
        problems.push({ ...positionOf(source, start), message: `the attribute name "${name}" cannot be referenced here; use a name of letters, digits and underscores` });
        continue;
      }
      const padded = replacement.padEnd(whole.length, ' ');
      for (let i = 0; i < whole.length; i++) chars[start + i] = padded[i]!;
    }
  }
  return { text: chars.join(''), problems };
}

/** Braze features Rivulet refuses at save, each with where it is. */
export function findUnsupported(source: string): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const tag = /\{%-?\s*([A-Za-z_]+)/g;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(source))) {
    const why = UNSUPPORTED_TAGS[m[1]!];
    if (why) problems.push({ ...positionOf(source, m.index), message: why });
  }
  const blocks = /\{\{-?\s*content_blocks\b/g;
  while ((m = blocks.exec(source))) problems.push({ ...positionOf(source, m.index), message: 'Content Blocks are not supported' });
  return problems;
}
