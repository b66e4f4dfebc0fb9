/**
 * The repository's documentation stands alone: every relative link in README.md, SECURITY.md and
 * docs/ reaches a file of the repository (and a heading of it, for an anchor); every `docs/…`
 * citation in the code (`docs/reference/rest-api.md §2.4`, `docs/architecture.md#the-event-log`)
 * names a file and a section that exist; and nothing points at files outside the repository.
 * Pure file reads, no database.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const md = new MarkdownIt({ html: true });

function walk(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

const rel = (path: string) => relative(ROOT, path).split(sep).join('/');

interface Heading {
  slug: string;
  /** The section number a heading opens with (`2.4` of `### 2.4 Creating users`), if any. */
  number: string | null;
}

interface Parsed {
  headings: Heading[];
  links: Array<{ href: string; line: number }>;
}

const parsedCache = new Map<string, Parsed>();

/** Headings (with GitHub's anchor slugs) and link targets of a Markdown file, code excluded. */
function parseMarkdown(path: string): Parsed {
  const cached = parsedCache.get(path);
  if (cached) return cached;
  const tokens = md.parse(readFileSync(path, 'utf8'), {});
  const slugger = new GithubSlugger();
  const parsed: Parsed = { headings: [], links: [] };
  tokens.forEach((token, i) => {
    if (token.type === 'heading_open') {
      const inline = tokens[i + 1]!;
      const text = (inline.children ?? []).map((c) => (c.type === 'text' || c.type === 'code_inline' ? c.content : '')).join('');
      const number = /^(\d+(?:\.\d+)*)\.?\s/.exec(text)?.[1] ?? null;
      parsed.headings.push({ slug: slugger.slug(text), number });
    }
    if (token.type !== 'inline') return;
    for (const child of token.children ?? []) {
      const href = child.type === 'link_open' ? child.attrGet('href') : child.type === 'image' ? child.attrGet('src') : null;
      if (href !== null) parsed.links.push({ href: String(href), line: (token.map?.[0] ?? 0) + 1 });
    }
  });
  parsedCache.set(path, parsed);
  return parsed;
}

const isExternal = (href: string) => /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//');

/** Why `href` (found in `from`) does not resolve inside the repository, or null when it does. */
function brokenLink(from: string, href: string): string | null {
  const hash = href.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? href : href.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(href.slice(hash + 1));
  const target = pathPart === '' ? from : resolve(dirname(from), pathPart);
  if (target !== ROOT && !target.startsWith(ROOT + sep)) return 'points outside the repository';
  if (!existsSync(target)) return `no file ${rel(target)}`;
  if (anchor === null || anchor === '') return null;
  if (statSync(target).isDirectory() || !target.endsWith('.md')) return `an anchor on ${rel(target)}, which is not a Markdown file`;
  return parseMarkdown(target).headings.some((h) => h.slug === anchor) ? null : `no heading #${anchor} in ${rel(target)}`;
}

const MARKDOWN_FILES = [join(ROOT, 'README.md'), join(ROOT, 'SECURITY.md'), ...walk(join(ROOT, 'docs'), (p) => p.endsWith('.md'))].filter((p) =>
  existsSync(p),
);
const CODE_DIRS = ['src', 'test', 'bench', 'scripts', '.ci'];
const CODE_FILES = CODE_DIRS.flatMap((d) => walk(join(ROOT, d), (p) => /\.(ts|tsx|js|mjs|sh|json|css|html)$/.test(p) || d === '.ci'));

/** `docs/reference/rest-api.md §2.4` or `docs/architecture.md#the-event-log`, in a comment or a string. */
const CITATION = /\bdocs\/[\w./-]+?\.md(?:#[\w-]+|\s*§\s?\d+(?:\.\d+)*)?/g;
/** What a repository that stands alone never mentions: the workspace's shared folder. */
const OUTSIDE = /(?:\.\.\/|\/work\/|\b)shared\/(?:spec|design)|\.\.\/shared\b|\/work\/shared\b/;

describe('the documentation stands alone', () => {
  it('finds the files it checks', () => {
    const names = MARKDOWN_FILES.map(rel);
    expect(names).toContain('README.md');
    expect(names).toContain('docs/README.md');
    expect(names).toContain('docs/architecture.md');
    expect(CODE_FILES.length).toBeGreaterThan(100);
  });

  it('resolves every relative link and anchor in README.md, SECURITY.md and docs/', () => {
    const broken: string[] = [];
    for (const file of MARKDOWN_FILES) {
      for (const { href, line } of parseMarkdown(file).links) {
        if (isExternal(href)) continue;
        const why = brokenLink(file, href);
        if (why) broken.push(`${rel(file)}:${line}: (${href}) ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('lists every document in docs/README.md', () => {
    const index = join(ROOT, 'docs', 'README.md');
    const linked = new Set(parseMarkdown(index).links.filter((l) => !isExternal(l.href)).map((l) => resolve(dirname(index), l.href.split('#')[0]!)));
    const missing = MARKDOWN_FILES.filter((f) => rel(f).startsWith('docs/') && f !== index && !linked.has(f)).map(rel);
    expect(missing).toEqual([]);
  });

  it('resolves every docs/… citation in the code to a file and a section', () => {
    const broken: string[] = [];
    let citations = 0;
    for (const file of CODE_FILES) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(CITATION)) {
        citations++;
        const line = text.slice(0, m.index).split('\n').length;
        const [, path, anchor, section] = /^(docs\/[\w./-]+?\.md)(?:#([\w-]+)|\s*§\s?(\S+))?$/.exec(m[0])!;
        const target = join(ROOT, path!);
        if (!existsSync(target)) {
          broken.push(`${rel(file)}:${line}: ${m[0]}: no file ${path}`);
          continue;
        }
        const headings = parseMarkdown(target).headings;
        if (anchor !== undefined && !headings.some((h) => h.slug === anchor)) broken.push(`${rel(file)}:${line}: ${m[0]}: no heading #${anchor}`);
        if (section !== undefined && !headings.some((h) => h.number === section)) broken.push(`${rel(file)}:${line}: ${m[0]}: no section ${section}`);
      }
    }
    expect(broken).toEqual([]);
    expect(citations).toBeGreaterThan(50);
  });

  it('points nowhere outside the repository', () => {
    const outside = [...MARKDOWN_FILES, ...CODE_FILES]
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((text, i) => ({ text, at: `${rel(file)}:${i + 1}` })),
      )
      .filter(({ text }) => OUTSIDE.test(text))
      .map(({ at, text }) => `${at}: ${text.trim()}`);
    expect(outside).toEqual([]);
  });
});
