// The environment is declared once, as the TypeBox schema `Environment` in src/server/config.ts;
// the README's configuration table and the variable tables of docs/ tell operators about it.
// This keeps the two in step: every variable the server reads is documented in a table, every
// variable a table documents is read, and a documented default is the schema's.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Environment } from '../src/server/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Row {
  file: string;
  names: string[];
  /** The row's default column, when its table has one. */
  fallback: string | null;
}

const cells = (line: string): string[] => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
const variablesIn = (cell: string): string[] => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);

/** The rows of the Markdown tables in `text` whose first header cell is one of `headers`. */
function tableRows(file: string, text: string, headers: string[]): Row[] {
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const header = cells(lines[i]);
    if (!lines[i].trim().startsWith('|') || !headers.includes(header[0]) || !/^\|[\s|:-]+\|$/.test(lines[i + 1].trim())) continue;
    const fallbackAt = header.indexOf('default');
    for (i += 2; i < lines.length && lines[i].trim().startsWith('|'); i++) {
      const row = cells(lines[i]);
      rows.push({ file, names: variablesIn(row[0]), fallback: fallbackAt === -1 ? null : row[fallbackAt] ?? '' });
    }
  }
  return rows;
}

function documentedRows(): Row[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  // Only the Configuration section: the README has other tables (scopes, benchmarks).
  const section = readme.slice(readme.indexOf('\n## Configuration'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 1));
  const rows = tableRows('README.md', section, ['variable']);
  const docs = path.join(ROOT, 'docs');
  for (const name of fs.readdirSync(docs).filter((f) => f.endsWith('.md')).sort()) {
    rows.push(...tableRows(`docs/${name}`, fs.readFileSync(path.join(docs, name), 'utf8'), ['variable', 'setting']));
  }
  return rows;
}

describe('the environment schema and the documentation', () => {
  const schema = Environment.properties as Record<string, { description?: string; default?: unknown }>;
  const rows = documentedRows();

  it('finds the tables', () => {
    expect(new Set(rows.map((r) => r.file))).toEqual(new Set(['README.md', 'docs/instances.md', 'docs/oidc.md', 'docs/openstack.md', 'docs/vm-access.md']));
  });

  it('documents every variable the server reads in a table of the README or docs/', () => {
    const documented = new Set(rows.flatMap((r) => r.names));
    expect(Object.keys(schema).filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents no variable the server does not read', () => {
    const unknown = rows.flatMap((r) => r.names.filter((name) => !(name in schema)).map((name) => `${r.file}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('gives the schema\'s default where a table states one', () => {
    const wrong: string[] = [];
    for (const row of rows) {
      if (row.fallback === null) continue;
      for (const name of row.names) {
        const fallback = schema[name]?.default;
        if (fallback !== undefined && !row.fallback.includes(`\`${String(fallback)}\``)) wrong.push(`${row.file}: ${name} default ${String(fallback)}, table says ${row.fallback}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('says what each variable is', () => {
    expect(Object.entries(schema).filter(([, s]) => !s.description || s.description.length < 10).map(([name]) => name)).toEqual([]);
  });
});
