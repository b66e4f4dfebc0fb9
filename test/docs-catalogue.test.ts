/**
 * The event catalogue of docs/reference/currents.md §1 and the one the code enforces
 * (src/events/catalogue-rows.ts, with Mixpanel's names from src/currents/mixpanel/event-names.ts) are
 * the same table: every type, its Mixpanel name, its field groups
 * and its other fields, in the same order, and the same field groups.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { documentedMixpanelName } from '../src/currents/mixpanel/event-names.js';
import { CATALOGUE_TABLES, FIELD_GROUPS } from '../src/events/catalogue-rows.js';

const doc = readFileSync(fileURLToPath(new URL('../docs/reference/currents.md', import.meta.url)), 'utf8');

/** The cells of the Markdown table rows under each heading that names a type prefix (`users.behaviors.*`). */
function documentedTables(): Map<string, string[][]> {
  const tables = new Map<string, string[][]>();
  let current: string[][] | null = null;
  for (const line of doc.split('\n')) {
    const heading = /^#### .*`(users\.[\w.]+\.)\*`\s*$/.exec(line);
    if (heading) {
      current = [];
      tables.set(heading[1]!, current);
    } else if (/^#{1,3} /.test(line)) {
      current = null;
    } else if (current && line.startsWith('| ') && !line.startsWith('| type ')) {
      current.push(line.slice(2, -2).split(' | ').map((cell) => cell.trim()));
    }
  }
  return tables;
}

const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');

describe('docs/reference/currents.md §1 matches the code', () => {
  it('lists every event type with its Mixpanel name, groups and fields', () => {
    const documented = documentedTables();
    expect([...documented.keys()]).toEqual(CATALOGUE_TABLES.map((t) => t.prefix));
    for (const table of CATALOGUE_TABLES) {
      const rows = documented.get(table.prefix)!.map(([type, name, groups, fields]) => [
        type,
        name === 'not exported' ? null : unquote(name!),
        groups,
        fields === '—' ? '' : unquote(fields!),
      ]);
      // The Mixpanel name column comes from the Mixpanel destination, the rest from the catalogue.
      expect(rows, table.prefix).toEqual(table.rows.map(([suffix, groups, fields]) => [suffix, documentedMixpanelName(table.prefix + suffix), groups, fields]));
    }
  });

  it('defines the field groups as the code does', () => {
    const groups = Object.fromEntries(
      doc
        .split('\n')
        .map((line) => /^\| ([A-Z]+) \| `(.+)` \|$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    expect(groups).toEqual(FIELD_GROUPS);
  });
});
