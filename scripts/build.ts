// `npm run build` (part of `npm install`, through `prepare`): every file of src/ transpiled by
// esbuild into dist/, one JavaScript module per TypeScript module in the same folders, so that
// paths computed from import.meta.url (the web app's web/dist/ from dist/server/app.js) resolve as
// they do from src/. bin/simplevm.js, and so `npm start`, runs dist/. No bundling: a command
// loads only the modules it imports, and the client commands import no server code.
//
// buildIfStale() rebuilds when anything under src/ changed since the last build; the test run's
// global setup and the benchmark call it, so that what they spawn is never older than src/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build as esbuild } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
export const DIST = path.join(ROOT, 'dist');
/** Written last; its mtime is when the build started, so an edit made during a build is newer. */
const STAMP = path.join(DIST, '.built');

function walk(dir: string, visit: (file: string, stat: fs.Stats) => void): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const stat = fs.statSync(file);
    visit(file, stat);
    if (entry.isDirectory()) walk(file, visit);
  }
}

/** The modules to compile: tests and type declarations stay behind. */
function entryPoints(): string[] {
  const files: string[] = [];
  walk(SRC, (file, stat) => {
    if (stat.isFile() && file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts')) files.push(file);
  });
  return files;
}

/** Compiles src/ into a fresh dist/, swapped in whole: a process starting meanwhile sees the old one or the new one. */
export async function build(): Promise<void> {
  const started = new Date();
  const tmp = `${DIST}.tmp-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await esbuild({
    entryPoints: entryPoints(),
    outdir: tmp,
    outbase: SRC,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    // For stack traces with NODE_OPTIONS=--enable-source-maps; the sources themselves are in src/.
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
  fs.writeFileSync(path.join(tmp, '.built'), 'dist/ was built from src/ at the time this file was last modified (scripts/build.ts)\n');
  fs.utimesSync(path.join(tmp, '.built'), started, started);
  try {
    fs.renameSync(DIST, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    fs.renameSync(tmp, DIST);
  } catch (err) {
    // Another build (a second test run) swapped its dist/ in first; it is as new as ours.
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** Whether a file or folder under src/ changed (added, edited, removed, renamed) since the last build. */
export function isStale(): boolean {
  let built: number;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return true;
  }
  let stale = fs.statSync(SRC).mtimeMs > built;
  walk(SRC, (_, stat) => {
    stale ||= stat.mtimeMs > built;
  });
  return stale;
}

/** Builds when dist/ is missing or older than src/; answers whether it did. */
export async function buildIfStale(): Promise<boolean> {
  if (!isStale()) return false;
  await build();
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  await build();
  process.stderr.write(`built dist/ from src/ in ${Math.round(performance.now() - t0)} ms\n`);
}
