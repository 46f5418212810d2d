// SimpleVM's API tutorial (SimpleVM/apiWorkshop), every command of it, run unchanged by
// examples/simplevm-api-workshop.sh against a real portal listening on 127.0.0.1: curl, jq (as the
// tutorial uses it), less, and wget for its data.sh, here served by a local stand-in.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedProvider } from '../src/server/cloud/simulated/simulated.provider.js';
import { ALL_SCOPES, type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { tempDir } from './process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'examples', 'simplevm-api-workshop.sh');
/** A stand-in for the tutorial's data.sh (which downloads reads from object storage). */
const DATA_SH = '#!/bin/bash\ncd ~\necho "DRR127583 reads" > DRR127583_1.fastq.gz\n';

const tmp = tempDir('simplevm-workshop-');
let t: TestPortal;
let host: string;
let user: TestUser;
let project: { id: number };
let dataServer: http.Server;
let dataUrl: string;

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  host = `127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  user = await t.factory.user();
  project = await t.factory.project({ members: [user] });
  dataServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/x-sh' }).end(DATA_SH));
  await new Promise<void>((resolve) => dataServer.listen(0, '127.0.0.1', resolve));
  dataUrl = `http://127.0.0.1:${(dataServer.address() as AddressInfo).port}/data.sh`;
}, 60_000);

afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => dataServer?.close(resolve));
  tmp.remove();
});

function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [SCRIPT], {
      cwd: tmp.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp.dir, NO_PROXY: '*', no_proxy: '*', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('SimpleVM\'s API tutorial', () => {
  it('runs to its end: a VS Code VM that runs data.sh at first boot, and the link to open it', async () => {
    // "You will need all the scopes except the 'snapshot:create' scope."
    const key = await t.factory.key(user, { scopes: ALL_SCOPES.filter((s) => s !== 'snapshot:create'), project_id: project.id });
    const { code, stdout, stderr } = await run({ SCHEME: 'http', HOST: host, KEY: key.key, DATA_SH_URL: dataUrl });
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const vms = (await t.http.get(`/api/vms/?project_id=${project.id}`, { as: user.session })).data.results;
    expect(vms).toHaveLength(1);
    const vm = vms[0];
    expect(vm).toMatchObject({ name: 'script-vmfile', image_name: 'VSCode-ubuntu24.04 de.NBI (2025-08-19)', research_environment: 'vscode', vm_state: 'active' });
    // The last line is the tutorial's jq answer: the environment's link, quoted.
    expect(stdout.trim().split('\n').at(-1)).toBe(JSON.stringify(`/resenv/${vm.uuid}/`));
    // The VM got data.sh as its first-boot script, and reports its setup done.
    const boot = await (t.ctx.cloud as SimulatedProvider).serverBoot(vm.uuid);
    expect(boot?.userData).toContain('echo "DRR127583 reads" > DRR127583_1.fastq.gz');
    await t.factory.waitFor(user, `/api/vms/${vm.uuid}/`, (d) => d.playbook_done === true && d.playbook_successful === true);
    // The key stayed out of everything the script printed but curl's own request dump (-v on stderr).
    expect(stdout).not.toContain(key.key);
  }, 90_000);
});
