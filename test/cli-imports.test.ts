// The `simplevm` command loads the server's code only for the admin commands: main.ts, the
// program and the client commands import nothing under src/server, and the admin commands reach
// it only through the dynamic import of admin-actions.ts. That is what keeps `simplevm vm list`
// starting fast (bench C1), and it keeps the client commands a pure HTTP client. esbuild resolves
// the graph as Node will; only static imports count as loaded at start.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function graph(): Promise<Record<string, Array<{ path: string; kind: string }>>> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'src/cli/main.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
  });
  return Object.fromEntries(Object.entries(result.metafile.inputs).map(([file, input]) => [file, input.imports]));
}

/** The files reachable from `entry` by static imports alone: what Node loads before the command runs. */
function loadedAtStart(imports: Awaited<ReturnType<typeof graph>>, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of imports[file] ?? []) if (i.kind === 'import-statement' && i.path.startsWith('src/')) visit(i.path);
  };
  visit(entry);
  return seen;
}

describe('what simplevm loads', () => {
  it('loads no server code at start; the admin commands import it when they run', async () => {
    const imports = await graph();
    const atStart = [...loadedAtStart(imports, 'src/cli/main.ts')];
    expect(atStart).toEqual(expect.arrayContaining(['src/cli/program.ts', 'src/cli/client-commands.ts', 'src/cli/admin-commands.ts', 'src/client/index.ts']));
    expect(atStart.filter((f) => f.startsWith('src/server/'))).toEqual([]);
    // Not empty-handed: the whole graph does reach the server, through admin-actions.ts.
    expect(imports['src/cli/admin-commands.ts']).toContainEqual(expect.objectContaining({ path: 'src/cli/admin-actions.ts', kind: 'dynamic-import' }));
    expect(Object.keys(imports).filter((f) => f.startsWith('src/server/modules/'))).not.toHaveLength(0);
  });

  it('the client commands import nothing under src/server, not even lazily', async () => {
    const imports = await graph();
    const all = new Set<string>();
    const visit = (file: string) => {
      if (all.has(file)) return;
      all.add(file);
      for (const i of imports[file] ?? []) if (i.path.startsWith('src/')) visit(i.path);
    };
    visit('src/cli/client-commands.ts');
    expect([...all].filter((f) => !/^src\/(cli|client|shared)\//.test(f))).toEqual([]);
    expect(all).toContain('src/client/index.ts');
  });
});
