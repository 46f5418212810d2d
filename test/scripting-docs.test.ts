// docs/scripting.md ("Scripting your cloud") as a reader would use it, against a real listening
// portal: its TypeScript program (examples/list-vms.ts, the same text) is type-checked with the
// project's compiler settings and run through tsx, and its command-line walk-through is run
// command by command, in order, with the ids it prints put in for VM_ID and VOLUME_ID.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isClientCommand, runClientCommand } from '../src/cli/client-commands.js';
import { insertProject, upsertMembership } from '../src/server/modules/projects/projects.repository.js';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { lines, tempDir } from './process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = path.join(ROOT, 'examples', 'list-vms.ts');
const DOC = readFileSync(path.join(ROOT, 'docs', 'scripting.md'), 'utf8');
const tmp = tempDir('simplevm-docs-');

let t: TestPortal;
let url: string;
let alice: TestUser;
let key: string;

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  alice = await t.factory.user();
  key = (await t.factory.key(alice)).key;
}, 60_000);

afterAll(async () => {
  await t?.close();
  tmp.remove();
});

/** The fenced code blocks of a language in the doc. */
function blocks(lang: string): string[] {
  return [...DOC.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** Splits a shell line into words: spaces separate, quotes group, `#` after a space starts a comment. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '#' && word === null) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: tmp.dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('docs/scripting.md', { timeout: 60_000 }, () => {
  it('shows examples/list-vms.ts word for word', () => {
    expect(blocks('ts')).toContain(readFileSync(EXAMPLE, 'utf8'));
  });

  it('the TypeScript example type-checks against the generated client, which catches a wrong field', () => {
    const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    // Beside it, in memory, the same program with a misspelt field: one compilation checks both.
    const broken = path.join(ROOT, 'examples', 'list-vms-broken.ts');
    const brokenText = readFileSync(EXAMPLE, 'utf8').replace('vm.status', 'vm.state');
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (file, lang, ...rest) => (file === broken ? ts.createSourceFile(file, brokenText, lang) : getSourceFile(file, lang, ...rest));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (file) => file === broken || fileExists(file);
    const program = ts.createProgram({ rootNames: [EXAMPLE, broken], options, host });
    const problems = (file: string) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));

    expect(problems(EXAMPLE)).toEqual([]);
    // `simplevm/client` resolved to the generated types, not to `any`.
    expect(program.getSourceFiles().map((f) => path.relative(ROOT, f.fileName))).toEqual(expect.arrayContaining(['src/client/index.ts', 'src/client/schema.d.ts']));
    expect(problems(broken).join('\n')).toMatch(/Property 'state' does not exist/);
  });

  it('the TypeScript example runs with tsx against a real portal, and fails with the API\'s detail', async () => {
    const project = await t.factory.project({ members: [alice] });
    const [a, b] = await Promise.all([t.factory.vm(alice, project.id), t.factory.vm(alice, project.id, { active: false })]);
    const tsx = ['--import', 'tsx', EXAMPLE];
    const [listed, refused] = await Promise.all([
      run(process.execPath, tsx, { SIMPLEVM_URL: url, SIMPLEVM_API_KEY: key }),
      run(process.execPath, tsx, { SIMPLEVM_URL: url, SIMPLEVM_API_KEY: key.slice(0, -1) + (key.endsWith('x') ? 'y' : 'x') }),
    ]);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const out = lines(listed.stdout);
    expect(out.at(-1)).toBe('2 VMs');
    expect(out.slice(0, -1).map((l) => l.split('\t')[3]).sort()).toEqual([a.openstack_id, b.openstack_id].sort());
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`^${a.name}\\tACTIVE\\t\\d+\\.\\d+\\.\\d+\\.\\d+\\t${a.openstack_id}$`)));

    expect(refused, JSON.stringify(refused)).toMatchObject({ code: 1 });
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^simplevm: .+ \(HTTP 401\)\n$/);
  });

  it('the command-line walk-through works as written, in order', async () => {
    // The doc's project is "demo", as on a portal's first start.
    const db = t.ctx.db.kysely;
    const demo = await insertProject(db, { name: 'demo', quota: { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500 }, createdAt: new Date().toISOString() });
    await upsertMembership(db, demo.id, alice.id, 'admin');

    const [walkThrough, loop] = blocks('sh').filter((b) => b.includes('simplevm '));
    const commands = walkThrough.split('\n').map(shellWords).filter((w) => w[0] === 'simplevm');
    expect(commands.length).toBeGreaterThan(15);
    // The loop's commands exist too.
    expect(loop.match(/simplevm [a-z]+ [a-z]+/g)?.map((c) => isClientCommand(c.split(' ').slice(1)))).toEqual([true, true]);

    // `export SIMPLEVM_URL=…` as the doc says; the key only through `simplevm login`.
    const env = { SIMPLEVM_URL: url, SIMPLEVM_CONFIG: path.join(tmp.dir, 'config.json'), NO_COLOR: '1' };
    const ids: Record<string, string> = {};
    for (const words of commands) {
      const args = words.slice(1).map((w) => ids[w] ?? w);
      expect(isClientCommand(args), args.join(' ')).toBe(true);
      let stdout = '';
      let stderr = '';
      const code = await runClientCommand(args, {
        env,
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        stdin: Readable.from(args[0] === 'login' ? [`${key}\n`] : []),
      });
      expect({ command: args.join(' '), code, stderr: code === 0 ? '' : stderr }).toEqual({ command: args.join(' '), code: 0, stderr: '' });
      if (args[0] === 'vm' && args[1] === 'create') ids.VM_ID = /^ID\s+(\S+)$/m.exec(stdout)![1];
      if (args[0] === 'volume' && args[1] === 'create') ids.VOLUME_ID = /^ID\s+(\S+)$/m.exec(stdout)![1];
    }
    const vm = await t.http.get(`/api/vms/${ids.VM_ID}/`, { as: alice.session });
    expect(vm.data).toMatchObject({ name: 'web-1', status: 'DELETED', project_id: demo.id });
    expect((await t.http.get(`/api/volumes/${ids.VOLUME_ID}/`, { as: alice.session })).statusCode).toBe(404);
    expect((await t.http.get(`/api/projects/${demo.id}/snapshots/`, { as: alice.session })).data).toContainEqual(expect.objectContaining({ name: 'web-1-before-upgrade', status: 'active' }));
  });
});
