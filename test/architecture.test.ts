// The import graph (issue 21): the rules of .dependency-cruiser.cjs hold, and no two parts of the
// project import each other in a circle. A part is a folder of the server (auth, db, http, cloud,
// transitions, each module folder), each top-level file of src/server and of src/server/modules,
// and src/shared, src/client, src/cli and web/src. Type-only imports count.
import { createRequire } from 'node:module';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const config = require('../.dependency-cruiser.cjs') as { forbidden: unknown[]; options: Record<string, unknown> };

let result: ICruiseResult;
beforeAll(async () => {
  const { options } = config;
  const cruised = await cruise(['src', 'web/src'], { ...options, validate: true, ruleSet: { forbidden: config.forbidden } } as never);
  result = cruised.output as ICruiseResult;
}, 60_000);

/** The part a file belongs to, or null for files outside the project's source (packages, node:). */
export function partOf(file: string): string | null {
  let m = /^src\/server\/modules\/([^/]+)\//.exec(file);
  if (m) return `server/modules/${m[1]}`;
  m = /^src\/server\/modules\/([^/]+\.ts)$/.exec(file);
  if (m) return `server/modules/${m[1]}`;
  m = /^src\/server\/([^/]+)\//.exec(file);
  if (m) return `server/${m[1]}`;
  m = /^src\/server\/([^/]+)\.tsx?$/.exec(file);
  if (m) return `server/${m[1]}.ts`;
  m = /^src\/([^/]+)\//.exec(file);
  if (m) return m[1];
  if (file.startsWith('web/src/')) return 'web';
  return null;
}

/** Cycles of a directed graph (Tarjan's strongly connected components of more than one node). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('the import graph', () => {
  it('cruises the whole source, type imports included', () => {
    const files = result.modules.map((m) => m.source);
    expect(files.filter((f) => f.startsWith('src/server/'))).not.toHaveLength(0);
    expect(files.filter((f) => f.startsWith('web/src/'))).not.toHaveLength(0);
    // A type-only import is seen: the principal's type is imported as a type by the modules.
    const typeOnly = result.modules.flatMap((m) => m.dependencies).filter((d) => d.dependencyTypes.includes('type-only'));
    expect(typeOnly.length).toBeGreaterThan(0);
  });

  it('keeps every rule of .dependency-cruiser.cjs', () => {
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(violations).toEqual([]);
  });

  it('has no circle between the parts of the project', () => {
    const edges = new Map<string, Set<string>>();
    const via = new Map<string, string>();
    for (const m of result.modules) {
      const from = partOf(m.source);
      if (!from) continue;
      for (const d of m.dependencies) {
        const to = partOf(d.resolved);
        if (!to || to === from) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
        via.set(`${from}>${to}`, `${m.source} → ${d.resolved}`);
      }
    }
    const found = cycles(edges).map((c) => c.join(' ⇄ '));
    const examples = cycles(edges).flatMap((c) => c.flatMap((a) => c.map((b) => via.get(`${a}>${b}`)).filter(Boolean)));
    expect(found, examples.join('\n')).toEqual([]);
  });

  it('tells parts apart as the architecture document names them', () => {
    expect(partOf('src/server/modules/vms/vms.service.ts')).toBe('server/modules/vms');
    expect(partOf('src/server/http/guard.ts')).toBe('server/http');
    expect(partOf('src/server/errors.ts')).toBe('server/errors.ts');
    expect(partOf('src/server/modules/reach.hooks.ts')).toBe('server/modules/reach.hooks.ts');
    expect(partOf('src/shared/contract.ts')).toBe('shared');
    expect(partOf('web/src/App.tsx')).toBe('web');
    expect(partOf('node_modules/kysely/dist/esm/index.js')).toBeNull();
  });
});
