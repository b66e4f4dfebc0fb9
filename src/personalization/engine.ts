/**
 * Liquid with Braze's syntax (docs/reference/personalization.md): templates are checked when
 * saved (every problem with its line and column), compiled once, and rendered per user with
 * bounded time and memory. `{% abort_message %}` and runtime errors end a render as an abort, which
 * the channel turns into its Abort event; they never throw out of `render`.
 */
import { Liquid, LiquidError, type Template } from 'liquidjs';
import { findUnsupported, rewriteBrazeReferences, type SourceProblem } from './braze-syntax.js';
import { BRAZE_FILTERS } from './filters.js';
import type { RenderScope } from './scope.js';

/** Largest template accepted (characters). */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/** Longest a single render may take, and the most output it may build. */
export const RENDER_LIMIT_MS = 1_000;
export const RENDER_MEMORY_LIMIT = 10 * 1024 * 1024;
/** `abort_log` holds at most this many characters (Braze's limit). */
export const MAX_ABORT_LOG = 128;
const DEFAULT_ABORT_LOG = '{% abort_message %} called';

export type RenderOutcome =
  | { ok: true; text: string }
  | { ok: false; abortType: 'liquid_abort_message' | 'template_parse_error'; abortLog: string };

class AbortMessage extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** `('why')`, `("why")` or nothing; anything else is refused when the template is checked. */
function abortReason(args: string): string | null {
  const trimmed = args.trim();
  if (trimmed === '' || trimmed === '()') return DEFAULT_ABORT_LOG;
  const m = /^\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/.exec(trimmed);
  return m ? (m[1] ?? m[2]!) : null;
}

function createEngine(): Liquid {
  const engine = new Liquid({
    strictFilters: true, // an unknown filter is a mistake worth naming at save time
    strictVariables: false, // Braze renders a missing value as empty
    ownPropertyOnly: true,
    parseLimit: MAX_TEMPLATE_CHARS,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: RENDER_MEMORY_LIMIT,
    cache: false,
  });
  for (const [name, fn] of Object.entries(BRAZE_FILTERS)) engine.registerFilter(name, fn);
  engine.registerTag('abort_message', {
    parse(token) {
      const reason = abortReason(token.args);
      if (reason === null) throw new Error(`abort_message takes one quoted reason, as in {% abort_message('no plan') %}`);
      this.reason = reason;
    },
    render() {
      throw new AbortMessage(this.reason as string);
    },
  });
  return engine;
}

const engine = createEngine();

/** A checked template, ready to render many times. */
export interface CompiledTemplate {
  readonly source: string;
  readonly templates: Template[];
}

function problemOf(err: unknown): SourceProblem {
  if (err instanceof LiquidError && err.token) {
    const [line, column] = err.token.getPosition();
    const message = (err.originalError?.message ?? err.message).replace(/, line:\d+, col:\d+$/, '');
    return { line: line ?? 1, column: column ?? 1, message };
  }
  return { line: 1, column: 1, message: err instanceof Error ? err.message : String(err) };
}

/** Checks and compiles a template: `{ problems }` (each with line and column) or the template. */
export function compileTemplate(source: string): { template: CompiledTemplate; problems?: undefined } | { problems: SourceProblem[]; template?: undefined } {
  if (source.length > MAX_TEMPLATE_CHARS) {
    return { problems: [{ line: 1, column: 1, message: `a template holds at most ${MAX_TEMPLATE_CHARS} characters (this one ${source.length})` }] };
  }
  const rewritten = rewriteBrazeReferences(source);
  const problems = [...rewritten.problems, ...findUnsupported(source)];
  if (problems.length) return { problems: sortProblems(problems) };
  try {
    return { template: { source, templates: engine.parse(rewritten.text) } };
  } catch (err) {
    return { problems: [problemOf(err)] };
  }
}

function sortProblems(problems: SourceProblem[]): SourceProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

function abortOf(err: unknown): AbortMessage | undefined {
  for (let e: unknown = err; e; e = (e as { originalError?: unknown }).originalError) {
    if (e instanceof AbortMessage) return e;
    if (!(e instanceof LiquidError)) break;
  }
  return undefined;
}

/** Renders for one user. Never throws: an abort or a runtime error is an outcome. */
export async function renderTemplate(template: CompiledTemplate, scope: RenderScope): Promise<RenderOutcome> {
  try {
    const text = (await engine.render(template.templates, scope)) as string;
    return { ok: true, text };
  } catch (err) {
    const abort = abortOf(err);
    if (abort) return { ok: false, abortType: 'liquid_abort_message', abortLog: abort.reason.slice(0, MAX_ABORT_LOG) };
    const p = problemOf(err);
    return { ok: false, abortType: 'template_parse_error', abortLog: `line ${p.line}, column ${p.column}: ${p.message}`.slice(0, MAX_ABORT_LOG) };
  }
}
