// The client commands of `simplevm` (issue 9): drive a portal over its HTTP API with an API key,
// through the typed client (`simplevm/client`). They are declared here as a section of the
// program (program.ts), each with its own options; the admin commands, which open the database,
// are another section (admin-commands.ts). Nothing here imports src/server, so that these
// commands never load the server's code.
//
// Where the portal and the key come from, first match wins: --url / --api-key, then
// SIMPLEVM_URL / SIMPLEVM_API_KEY, then the config file that `simplevm login` writes (mode 0600;
// SIMPLEVM_CONFIG, or $XDG_CONFIG_HOME/simplevm/config.json, or ~/.config/simplevm/config.json).
// The key is sent, never printed: not in tables, JSON, progress or error messages.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maskKeys } from '../shared/key-mask.js';
import { vmInTransition, volumeInTransition } from '../shared/contract.js';
import { type ApiError, type Me, type Page, type Project, type SimpleVmClient, type Snapshot, type Vm, type Volume, createClient, toApiError } from '../client/index.js';
import { type Column, type Env, type Paint, clean, colorWanted, details, firstLine, paint, progress, table } from './client-output.js';
import { nodeFetch } from './http.js';
import { type Call, type CommandSpec, CliError, type Io, type OptionTable, type Section, processIo, runProgram, usage } from './program.js';
import { trimTrailingSlashes } from '../shared/text.js';

export type { Io } from './program.js';

/** Exit statuses of the client commands; docs/scripting.md lists them. */
export const EXIT = {
  ok: 0,
  /** The request was fine but the outcome was not: a --wait that saw ERROR or ran out of time. */
  failed: 1,
  /** Wrong command, argument or option, or a request the API refused as invalid (400). */
  usage: 2,
  /** No key, or the key is unknown, expired or deleted (401), or may not do this (403). */
  auth: 3,
  /** No such object, or one out of the key's reach (404). */
  notFound: 4,
  /** The object's state does not allow it, or the quota would be exceeded (409). */
  conflict: 5,
  /** The portal cannot be reached, answers 5xx, rate-limits (429) or does not speak the API. */
  server: 6,
  /** The login prompt was cancelled with Ctrl-C. */
  cancelled: 130,
} as const;

/** Where the key and URL are kept between commands. */
function configPath(env: Env): string {
  if (env.SIMPLEVM_CONFIG) return env.SIMPLEVM_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'simplevm', 'config.json');
}

interface SavedConfig {
  url?: string;
  api_key?: string;
}

function readConfig(io: Io, file: string): SavedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // Like ssh with a private key: say so when others may read the file that holds the key.
  if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0) {
    io.stderr.write(`simplevm: warning: ${file} may be read by other users; run: chmod 600 ${file}\n`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    const c = parsed as Record<string, unknown>;
    return { url: typeof c.url === 'string' ? c.url : undefined, api_key: typeof c.api_key === 'string' ? c.api_key : undefined };
  } catch {
    throw usage(`${file} is not a simplevm config file (JSON with "url" and "api_key"); run simplevm login again`);
  }
}

/** Writes the config with mode 0600 from the first byte: a new file renamed over the old one. */
function writeConfig(file: string, config: SavedConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true }); // left by a run that died here
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, `${JSON.stringify(config, null, 2)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600); // a umask cannot widen it, but be explicit
  fs.renameSync(tmp, file);
}

const DEFAULT_URL = 'http://127.0.0.1:8000';

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage('the portal URL must look like https://portal.example.org');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage('the portal URL must start with http:// or https://');
  if (url.username || url.password) throw usage('the portal URL must not hold a user name or password: the API key is the credential');
  return trimTrailingSlashes(raw);
}

/** The URL as it may be shown: no user or password that someone put in it. */
const shownUrl = (raw: string) => {
  const u = new URL(raw);
  return `${u.origin}${trimTrailingSlashes(u.pathname)}`;
};

/** Last line of defence: the key, or anything shaped like one (whole or cut short), never leaves in our output. */
function redact(text: string, key: string | undefined): string {
  let out = maskKeys(text);
  if (key && key.length >= 8) out = out.split(key).join('(the API key)');
  return out;
}

/** The options of the client commands, as commander hands them over (see OPTIONS). */
interface Options {
  url?: string;
  apiKey?: string;
  json?: boolean;
  wait?: boolean;
  timeout?: string;
  project?: string;
  status?: string;
  text?: string;
  owner?: string;
  id?: string;
  page?: string;
  pageSize?: string;
  image?: string;
  flavor?: string;
  size?: string;
  hard?: boolean;
  description?: string;
  action?: string;
  identity?: string;
}

interface Ctx {
  io: Io;
  values: Options;
  /** The command's arguments (commander has checked how many). */
  args: string[];
  json: boolean;
  p: Paint;
  pErr: Paint;
  url: string;
  key: string | undefined;
  client: SimpleVmClient;
  timeoutMs: number;
  out(text: string): void;
}

const REQUEST_TIMEOUT_MS = 60_000;
const POLL_MS = 250;

function connect(ctx: Pick<Ctx, 'url' | 'key'>): SimpleVmClient {
  return createClient({
    baseUrl: ctx.url,
    apiKey: ctx.key,
    headers: { 'user-agent': 'simplevm-cli' },
    fetch: nodeFetch(REQUEST_TIMEOUT_MS),
  });
}

function exitFor(status: number): number {
  if (status === 400 || status === 415 || status === 422) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 429 || status >= 500) return EXIT.server;
  return EXIT.failed;
}

/** One API call: its data, or a CliError with the exit status that fits and a sentence to show. */
async function api<D>(ctx: Pick<Ctx, 'url'>, call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  let answer: { data?: D; error?: unknown; response: Response };
  try {
    answer = await call;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') throw new CliError(EXIT.server, `no answer from ${shownUrl(ctx.url)} within ${REQUEST_TIMEOUT_MS / 1000} s`);
    if (e instanceof SyntaxError) throw new CliError(EXIT.server, `${shownUrl(ctx.url)} did not answer with JSON: is it the portal's address?`);
    const reason = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new CliError(EXIT.server, `cannot reach ${shownUrl(ctx.url)}: ${reason}`);
  }
  if (answer.response.ok) return answer.data as D;
  const error = toApiError(answer.response.status, answer.error);
  throw new CliError(exitFor(error.status), describe(error));
}

function describe(e: ApiError): string {
  // Field messages the detail does not already say (it repeats the first one).
  const fields = Object.entries(e.errors).map(([field, msgs]) => `${field}: ${msgs.join(', ')}`).filter((f) => !e.detail.includes(f));
  let text = `${e.detail}${fields.length ? ` (${fields.join('; ')})` : ''} [${e.code}, HTTP ${e.status}]`;
  if (e.status === 401) text += '; check SIMPLEVM_API_KEY or run simplevm login';
  if (e.status === 429) text += '; try again in a minute';
  return text;
}

function count(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw usage(`${name} takes a whole number from 1, got "${clean(value)}"`);
  return Number(value);
}

/** A project id, or the id of the project with that name; with none given, the caller's only project. */
async function projectRef(ctx: Ctx, ref: string | undefined, what: string): Promise<number> {
  if (ref !== undefined && /^\d+$/.test(ref)) return count(ref, 'PROJECT') as number;
  const projects = await api(ctx, ctx.client.GET('/api/projects'));
  if (ref === undefined) {
    if (projects.length === 1) return projects[0].id;
    if (projects.length === 0) throw new CliError(EXIT.notFound, 'this key sees no project');
    throw usage(`${what} needs --project: one of ${projects.map((x) => clean(x.name)).join(', ')}`);
  }
  const found = projects.find((x) => x.name === ref);
  if (!found) throw new CliError(EXIT.notFound, `no project named "${clean(ref)}" that this key can see`);
  return found.id;
}

function print(ctx: Ctx, data: unknown, human: () => string): void {
  ctx.out(ctx.json ? `${JSON.stringify(data)}\n` : human());
}

function pageFooter(ctx: Ctx, page: Page<unknown>, noun: string): void {
  if (ctx.json || (page.next === null && page.previous === null)) return;
  const current = Number(ctx.values.page ?? 1);
  const size = Number(ctx.values.pageSize ?? 50);
  const pages = Math.max(1, Math.ceil(page.count / size));
  ctx.io.stderr.write(`page ${current} of ${pages} (${page.count} ${noun})${page.next ? `; next: --page ${current + 1}` : ''}\n`);
}

// ---- VMs ----

// What counts as busy is the contract's (spec §5), shared with the server and the web app.
const vmBusy = (vm: Vm) => vmInTransition(vm);
const vmState = (vm: Vm) => `${vm.status}${vm.task_state ? ` (${vm.task_state})` : ''}`;

function vmLine(ctx: Ctx, vm: Vm): string {
  return `VM ${clean(vm.name)} ${clean(vm.openstack_id)}: ${ctx.p.status(vm.status, vmBusy(vm))}${vm.task_state ? ` (${clean(vm.task_state)})` : ''}${vm.fixed_ip && !vmBusy(vm) && vm.status !== 'DELETED' ? `, ${clean(vm.fixed_ip)}` : ''}\n`;
}

function vmDetails(ctx: Ctx, vm: Vm): string {
  const fields: Array<[string, unknown, ((s: string) => string)?]> = [
    ['ID', vm.openstack_id],
    ['Name', vm.name],
    ['Status', vm.status, (s) => ctx.p.status(s, vmBusy(vm))],
    ['Task', vm.task_state],
    ['Project', vm.project_id],
    ['Owner', vm.owner],
    ['Image', vm.image_name],
    ['Flavor', vm.flavor_name],
    ['IP', vm.fixed_ip],
    ['Volumes', vm.volumes.length ? vm.volumes : null],
  ];
  if (vm.ssh_keys.length) fields.push(['SSH keys', vm.ssh_keys]);
  if (vm.research_environment) fields.push(['Environment', vm.research_environment]);
  // How to get in (spec §9): the line to copy, and where the research environment opens.
  if (vm.access?.ssh) fields.push(['Connect', vm.access.ssh.command, ctx.p.bold]);
  if (vm.access?.research_environment) fields.push(['Open', new URL(vm.access.research_environment.url, `${ctx.url}/`).href]);
  if (vm.fault) fields.push(['Fault', vm.fault, ctx.p.red]);
  fields.push(['Created', vm.created_at], ['Updated', vm.updated_at]);
  return details(fields, ctx.p);
}

/** A VM by its openstack_id, or else by its exact name among the VMs the key can see. */
async function findVmByIdOrName(ctx: Ctx, ref: string): Promise<Vm> {
  const byId = await ctx.client.GET('/api/vms/{openstack_id}', { params: { path: { openstack_id: ref } } });
  if (byId.data) return byId.data;
  if (byId.response.status !== 404) throw toApiError(byId.response.status, byId.error);
  const page = await api(ctx, ctx.client.GET('/api/vms', { params: { query: { text: ref, page_size: 500 } } }));
  const named = page.results.filter((v) => v.name === ref);
  if (named.length === 1) return named[0];
  if (named.length > 1) throw new CliError(EXIT.usage, `${named.length} VMs are named ${clean(ref)}: give the id (simplevm vm list --text ${clean(ref)})`);
  throw new CliError(EXIT.notFound, `no VM ${clean(ref)}`);
}

/** `vm ssh`: runs ssh to the VM as its access says (the gateway's port, the image's user); exits with ssh's status. */
async function vmSsh(ctx: Ctx): Promise<void> {
  const vm = await findVmByIdOrName(ctx, ctx.args[0]);
  const ssh = vm.access?.ssh;
  if (!ssh) throw new CliError(EXIT.conflict, `VM ${clean(vm.name)} cannot be reached yet (status ${clean(vm.status)}${vm.fixed_ip ? '' : ', no address'})`);
  const args = [...(ctx.values.identity ? ['-i', String(ctx.values.identity)] : []), '-p', String(ssh.port), `${ssh.user}@${ssh.host}`];
  const run = spawnSync(ctx.io.env.SIMPLEVM_SSH ?? 'ssh', args, { stdio: 'inherit', env: ctx.io.env as NodeJS.ProcessEnv });
  if (run.error) throw new CliError(EXIT.failed, `could not run ssh: ${run.error.message}`);
  if (run.status !== 0) throw new CliError(run.status ?? EXIT.failed, `ssh ended with status ${run.status ?? run.signal}`);
}

const VM_COLUMNS = (ctx: Ctx): Column<Vm>[] => [
  { header: 'id', value: (v) => v.openstack_id },
  { header: 'name', value: (v) => v.name },
  { header: 'status', value: (v) => vmState(v), color: (s, v) => ctx.p.status(s, vmBusy(v)) },
  { header: 'flavor', value: (v) => v.flavor_name },
  { header: 'image', value: (v) => v.image_name },
  { header: 'ip', value: (v) => v.fixed_ip },
  { header: 'project', value: (v) => v.project_id },
  { header: 'owner', value: (v) => v.owner },
];

async function getVm(ctx: Ctx, id: string): Promise<Vm> {
  return api(ctx, ctx.client.GET('/api/vms/{openstack_id}', { params: { path: { openstack_id: id } } }));
}

/** Polls until `done` holds, showing progress; ERROR fails the command, as does the timeout. */
async function follow<T>(ctx: Ctx, label: string, first: T, next: (last: T) => Promise<T>, done: (x: T) => boolean, state: (x: T) => string): Promise<T> {
  const shown = progress(ctx.io.stderr, label, { quiet: ctx.json, p: ctx.pErr });
  const until = Date.now() + ctx.timeoutMs;
  let current = first;
  try {
    for (;;) {
      shown.update(state(current));
      if (done(current)) return current;
      if (Date.now() >= until) throw new CliError(EXIT.failed, `gave up after ${ctx.timeoutMs / 1000} s: ${label} is still ${clean(state(current))}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      current = await next(current);
    }
  } finally {
    shown.stop();
  }
}

async function waitVm(ctx: Ctx, vm: Vm): Promise<Vm> {
  const last = await follow(ctx, `VM ${clean(vm.name)}`, vm, () => getVm(ctx, vm.openstack_id), (v) => !vmBusy(v), vmState);
  if (last.status === 'ERROR') throw new CliError(EXIT.failed, `VM ${clean(vm.name)} ended in ERROR${last.fault ? `: ${clean(last.fault)}` : ''}`);
  return last;
}

async function vmCommand(ctx: Ctx, sub: string): Promise<void> {
  const v = ctx.values;
  if (sub === 'list') {
    const query = {
      project_id: v.project === undefined ? undefined : await projectRef(ctx, v.project, 'vm list'),
      status: v.status,
      text: v.text,
      owner: v.owner,
      openstack_id: v.id,
      page: count(v.page, '--page'),
      page_size: count(v.pageSize, '--page-size'),
    };
    const page = await api(ctx, ctx.client.GET('/api/vms', { params: { query } }));
    print(ctx, page, () => (page.results.length ? table(page.results, VM_COLUMNS(ctx), ctx.p) : 'No VMs.\n'));
    return pageFooter(ctx, page, 'VMs');
  }
  if (sub === 'create') {
    const [name] = ctx.args;
    if (!v.image || !v.flavor) throw usage('vm create needs --image and --flavor (see simplevm project images|flavors PROJECT)');
    const projectId = await projectRef(ctx, v.project, 'vm create');
    let vm = await api(ctx, ctx.client.POST('/api/vms', { body: { project_id: projectId, image_name: v.image, flavor_name: v.flavor, vm_name: name } }));
    if (v.wait) vm = await waitVm(ctx, vm);
    return print(ctx, vm, () => vmDetails(ctx, vm));
  }
  const [id] = ctx.args;
  if (sub === 'show') {
    const vm = await getVm(ctx, id);
    return print(ctx, vm, () => vmDetails(ctx, vm));
  }
  let vm: Vm;
  if (sub === 'delete') {
    vm = await api(ctx, ctx.client.DELETE('/api/vms/{openstack_id}', { params: { path: { openstack_id: id } } }));
  } else {
    const os_action = sub as 'stop' | 'resume' | 'reboot';
    const body = os_action === 'reboot' ? { os_action, reboot_type: v.hard ? ('HARD' as const) : ('SOFT' as const) } : { os_action };
    vm = await api(ctx, ctx.client.POST('/api/vms/{openstack_id}/action', { params: { path: { openstack_id: id } }, body }));
  }
  if (v.wait) vm = await waitVm(ctx, vm);
  return print(ctx, vm, () => vmLine(ctx, vm));
}

// ---- volumes ----

const volumeBusy = (x: Volume) => volumeInTransition(x);

function volumeLine(ctx: Ctx, x: Volume): string {
  const where = x.attached_to ? ` on VM ${clean(x.attached_to)}${x.device ? ` as ${clean(x.device)}` : ''}` : '';
  return `Volume ${clean(x.name)} ${clean(x.openstack_id)}: ${ctx.p.status(x.status, volumeBusy(x))}, ${x.storage} GB${where}\n`;
}

function volumeDetails(ctx: Ctx, x: Volume): string {
  return details([
    ['ID', x.openstack_id],
    ['Name', x.name],
    ['Status', x.status, (s) => ctx.p.status(s, volumeBusy(x))],
    ['Size', `${x.storage} GB`],
    ['Attached to', x.attached_to],
    ['Device', x.device],
    ['Project', x.project_id],
    ['Owner', x.owner],
    ['Created', x.created_at],
    ['Updated', x.updated_at],
  ], ctx.p);
}

const VOLUME_COLUMNS = (ctx: Ctx): Column<Volume>[] => [
  { header: 'id', value: (x) => x.openstack_id },
  { header: 'name', value: (x) => x.name },
  { header: 'status', value: (x) => x.status, color: (s, x) => ctx.p.status(s, volumeBusy(x)) },
  { header: 'size', value: (x) => `${x.storage} GB` },
  { header: 'attached to', value: (x) => x.attached_to },
  { header: 'device', value: (x) => x.device },
  { header: 'project', value: (x) => x.project_id },
  { header: 'owner', value: (x) => x.owner },
];

async function getVolume(ctx: Ctx, id: string): Promise<Volume> {
  return api(ctx, ctx.client.GET('/api/volumes/{openstack_id}', { params: { path: { openstack_id: id } } }));
}

/** Waits for a volume to settle; for a delete, until it is gone (GET answers 404). */
async function waitVolume(ctx: Ctx, volume: Volume, deleting: boolean): Promise<Volume> {
  const next = async (last: Volume): Promise<Volume> => {
    try {
      return await getVolume(ctx, volume.openstack_id);
    } catch (err) {
      if (deleting && err instanceof CliError && err.exitCode === EXIT.notFound) return { ...last, status: 'deleted' };
      throw err;
    }
  };
  const last = await follow(ctx, `Volume ${clean(volume.name)}`, volume, next, (x) => !volumeBusy(x), (x) => x.status);
  if (last.status === 'error') throw new CliError(EXIT.failed, `volume ${clean(volume.name)} ended in error`);
  return last;
}

async function volumeCommand(ctx: Ctx, sub: string): Promise<void> {
  const v = ctx.values;
  if (sub === 'list') {
    const query = {
      project_id: v.project === undefined ? undefined : await projectRef(ctx, v.project, 'volume list'),
      status: v.status,
      page: count(v.page, '--page'),
      page_size: count(v.pageSize, '--page-size'),
    };
    const page = await api(ctx, ctx.client.GET('/api/volumes', { params: { query } }));
    print(ctx, page, () => (page.results.length ? table(page.results, VOLUME_COLUMNS(ctx), ctx.p) : 'No volumes.\n'));
    return pageFooter(ctx, page, 'volumes');
  }
  if (sub === 'create') {
    const [name] = ctx.args;
    const storage = count(v.size, '--size');
    if (storage === undefined) throw usage('volume create needs --size GB');
    const projectId = await projectRef(ctx, v.project, 'volume create');
    let volume = await api(ctx, ctx.client.POST('/api/volumes', { body: { project_id: projectId, name, storage } }));
    if (v.wait) volume = await waitVolume(ctx, volume, false);
    return print(ctx, volume, () => volumeDetails(ctx, volume));
  }
  let volume: Volume;
  if (sub === 'show') {
    const [id] = ctx.args;
    volume = await getVolume(ctx, id);
    return print(ctx, volume, () => volumeDetails(ctx, volume));
  }
  const action = (id: string, body: { os_action: 'attach' | 'detach' | 'extend'; vm_openstack_id?: string; size?: number }) =>
    api(ctx, ctx.client.POST('/api/volumes/{openstack_id}/action', { params: { path: { openstack_id: id } }, body }));
  if (sub === 'attach') {
    const [id, vmId] = ctx.args;
    volume = await action(id, { os_action: 'attach', vm_openstack_id: vmId });
  } else if (sub === 'extend') {
    const [id, size] = ctx.args;
    volume = await action(id, { os_action: 'extend', size: count(size, 'GB') });
  } else if (sub === 'detach') {
    const [id] = ctx.args;
    volume = await action(id, { os_action: 'detach' });
  } else {
    const [id] = ctx.args;
    volume = await api(ctx, ctx.client.DELETE('/api/volumes/{openstack_id}', { params: { path: { openstack_id: id } } }));
  }
  if (v.wait) volume = await waitVolume(ctx, volume, sub === 'delete');
  return print(ctx, volume, () => volumeLine(ctx, volume));
}

// ---- projects, snapshots, audit, whoami ----

async function projectCommand(ctx: Ctx, sub: string): Promise<void> {
  if (sub === 'list') {
    const projects = await api(ctx, ctx.client.GET('/api/projects'));
    return print(ctx, projects, () => (projects.length
      ? table(projects, [
        { header: 'id', value: (x) => x.id },
        { header: 'name', value: (x) => x.name },
        { header: 'role', value: (x) => x.role },
        { header: 'description', value: (x) => x.description },
      ], ctx.p)
      : 'No projects.\n'));
  }
  const [ref] = ctx.args;
  const id = await projectRef(ctx, ref, `project ${sub}`);
  const byId = { params: { path: { id } } };
  if (sub === 'show') {
    const project: Project = await api(ctx, ctx.client.GET('/api/projects/{id}', byId));
    return print(ctx, project, () => {
      const head = details([
        ['ID', project.id],
        ['Name', project.name],
        ['Description', project.description],
        ['Your role', project.role],
        ['Members', project.members.map((m) => `${m.username} (${m.role})`)],
      ], ctx.p);
      const resources = ['vms', 'cores', 'ram_gb', 'volumes', 'volume_gb'] as const;
      const labels = { vms: 'VMs', cores: 'cores', ram_gb: 'RAM (GB)', volumes: 'volumes', volume_gb: 'volume storage (GB)' };
      return `${head}\n${table([...resources], [
        { header: 'resource', value: (r) => labels[r] },
        { header: 'used', value: (r) => project.usage[r] },
        { header: 'quota', value: (r) => project.quota[r] },
      ], ctx.p)}`;
    });
  }
  if (sub === 'flavors') {
    const flavors = await api(ctx, ctx.client.GET('/api/projects/{id}/flavors', byId));
    return print(ctx, flavors, () => table(flavors, [
      { header: 'name', value: (f) => f.name },
      { header: 'vcpus', value: (f) => f.vcpus },
      { header: 'ram gb', value: (f) => f.ram_gb },
      { header: 'disk gb', value: (f) => f.disk_gb },
    ], ctx.p));
  }
  const images = await api(ctx, ctx.client.GET('/api/projects/{id}/images', byId));
  return print(ctx, images, () => table(images, [
    { header: 'name', value: (i) => i.name },
    { header: 'tags', value: (i) => i.tags },
  ], ctx.p));
}

async function snapshotCommand(ctx: Ctx): Promise<void> {
  const [vmId, name] = ctx.args;
  const body = { snapshot_instance: vmId, snapshot_name: name, ...(ctx.values.description !== undefined ? { description: ctx.values.description } : {}) };
  let snapshot: Snapshot = await api(ctx, ctx.client.POST('/api/snapshots', { body }));
  if (ctx.values.wait) {
    const id = snapshot.openstack_id;
    const next = async () => {
      const all = await api(ctx, ctx.client.GET('/api/projects/{id}/snapshots', { params: { path: { id: snapshot.project_id } } }));
      const found = all.find((s) => s.openstack_id === id);
      if (!found) throw new CliError(EXIT.notFound, `snapshot ${clean(name)} is gone`);
      return found;
    };
    snapshot = await follow(ctx, `Snapshot ${clean(name)}`, snapshot, next, (s) => s.status !== 'queued', (s) => s.status);
    if (snapshot.status === 'error') throw new CliError(EXIT.failed, `snapshot ${clean(name)} ended in error`);
  }
  const s = snapshot;
  return print(ctx, s, () => `Snapshot ${clean(s.name)} ${clean(s.openstack_id)} of VM ${clean(s.vm_openstack_id)}: ${ctx.p.status(s.status, s.status === 'queued')}\n`);
}

async function snapshotDeleteCommand(ctx: Ctx): Promise<void> {
  const [id] = ctx.args;
  // 204: nothing comes back, and nothing is left to wait for (the snapshot is gone from lists at once).
  await api(ctx, ctx.client.DELETE('/api/snapshots/{openstack_id}', { params: { path: { openstack_id: id } } }));
  return print(ctx, { openstack_id: id, deleted: true }, () => `Snapshot ${clean(id)} deleted\n`);
}

async function auditCommand(ctx: Ctx): Promise<void> {
  const query = { action: ctx.values.action, page: count(ctx.values.page, '--page'), page_size: count(ctx.values.pageSize, '--page-size') };
  const page = await api(ctx, ctx.client.GET('/api/audit', { params: { query } }));
  print(ctx, page, () => (page.results.length
    ? table(page.results, [
      { header: 'at', value: (e) => e.at },
      { header: 'actor', value: (e) => e.actor },
      { header: 'key', value: (e) => e.key_prefix },
      { header: 'action', value: (e) => e.action },
      { header: 'object', value: (e) => (e.object_type ? `${e.object_type} ${e.object_id ?? ''}`.trim() : null) },
      { header: 'outcome', value: (e) => e.outcome, color: (s) => ctx.p.status(s) },
      { header: 'ip', value: (e) => e.ip },
    ], ctx.p)
    : 'No audit events.\n'));
  pageFooter(ctx, page, 'events');
}

function meDetails(ctx: Ctx, me: Me): string {
  const key = me.api_key;
  return details([
    ['Portal', shownUrl(ctx.url)],
    ['User', me.username],
    ['Superuser', me.is_superuser ? 'yes' : 'no'],
    ['Key', key ? `svm_${key.prefix}_…` : '(web session)'],
    ['Scopes', key?.scopes ?? null],
    ['Own objects only', key ? (key.own_objects_only ? 'yes' : 'no') : null],
    ['Project', key?.project_id ?? 'any'],
  ], ctx.p);
}

// ---- login ----

/** Reads a line from the terminal without echoing it. */
function hiddenLine(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin;
  // Echo off before the prompt appears, so that nothing typed after it is shown.
  stdin.setRawMode?.(true);
  io.stderr.write(prompt);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003') {
          finish();
          return reject(new CliError(EXIT.cancelled, 'cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function login(ctx: Ctx, file: string): Promise<void> {
  let key = ctx.values.apiKey ?? ctx.io.env.SIMPLEVM_API_KEY;
  if (!key) key = ctx.io.stdin.isTTY ? await hiddenLine(ctx.io, `API key for ${shownUrl(ctx.url)} (input hidden): `) : await firstLine(ctx.io.stdin);
  key = key.trim();
  if (!key) throw new CliError(EXIT.auth, 'no API key given: type it at the prompt, or pipe it on stdin');
  const probe = { ...ctx, key, client: connect({ url: ctx.url, key }) };
  const me = await api(probe, probe.client.GET('/api/auth/me'));
  if (!me.api_key) throw new CliError(EXIT.auth, 'that credential is not an API key');
  writeConfig(file, { url: ctx.url, api_key: key });
  const shown = { url: shownUrl(ctx.url), username: me.username, key_prefix: me.api_key.prefix, config: file };
  print(ctx, shown, () => `Logged in to ${shown.url} as ${clean(me.username)} with key svm_${clean(me.api_key?.prefix)}_… (saved in ${file}, mode 0600)\n`);
}

function logout(ctx: Ctx, file: string): void {
  let removed = true;
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    removed = false;
  }
  print(ctx, { logged_out: removed, config: file }, () => (removed ? `Forgot the key saved in ${file}\n` : `No key was saved in ${file}\n`));
}

// ---- the commands, as the program declares them ----

/** Every client command's options; the comment at the top says where --url and --api-key default from. */
const OPTIONS: OptionTable = {
  url: { flags: '--url <URL>', description: "the portal's address (else SIMPLEVM_URL, the saved login, or http://127.0.0.1:8000)" },
  'api-key': { flags: '--api-key <KEY>', description: 'the API key (else SIMPLEVM_API_KEY or the saved login); others on this machine can see it in the process list' },
  json: { flags: '--json', description: "print the API's JSON answer on one line instead of a table" },
  wait: { flags: '--wait', description: 'follow the change until it is done (progress on stderr)' },
  timeout: { flags: '--timeout <SECONDS>', description: 'with --wait: give up after this long (default 900)' },
  project: { flags: '--project <P>', description: 'the project, by id or name' },
  status: { flags: '--status <S>', description: 'only those in this status' },
  text: { flags: '--text <T>', description: 'only VMs whose name or id contains this' },
  owner: { flags: '--owner <USER>', description: 'only VMs of this user (username)' },
  id: { flags: '--id <ID>', description: 'only the VM with this openstack id' },
  page: { flags: '--page <N>', description: 'which page, from 1' },
  'page-size': { flags: '--page-size <N>', description: 'how many a page (default 50, at most 500)' },
  image: { flags: '--image <IMAGE>', description: 'the image, by name (simplevm project images PROJECT)' },
  flavor: { flags: '--flavor <FLAVOR>', description: 'the flavor, by name (simplevm project flavors PROJECT)' },
  size: { flags: '--size <GB>', description: 'the size in GB' },
  hard: { flags: '--hard', description: 'power the VM off and on instead of restarting its system' },
  description: { flags: '--description <TEXT>', description: 'what the snapshot is for' },
  action: { flags: '--action <ACTION>', description: 'only events of this action, e.g. vm.create' },
  identity: { flags: '--identity <FILE>', description: 'the private key for ssh (else ssh\'s own choice: ~/.ssh/id_ed25519, id_rsa, …)' },
};

const COMMON = ['url', 'api-key', 'json'];
const WAIT = ['wait', 'timeout'];
const LISTING = ['page', 'page-size'];

/**
 * Runs a client command: where the portal and the key come from, then `body`. Only login and
 * logout work without a key.
 */
async function execute(call: Call, body: (ctx: Ctx, configFile: string) => Promise<void> | void, opts: { keyless?: boolean; noConfig?: boolean } = {}): Promise<void> {
  const { io } = call;
  const values = call.opts as Options;
  const timeoutSeconds = count(values.timeout, '--timeout') ?? 900;
  const file = configPath(io.env);
  const saved = opts.noConfig ? {} : readConfig(io, file);
  const url = checkUrl(values.url ?? io.env.SIMPLEVM_URL ?? saved.url ?? DEFAULT_URL);
  const key = (values.apiKey ?? io.env.SIMPLEVM_API_KEY ?? saved.api_key)?.trim();
  call.hide(key);
  const ctx: Ctx = {
    io,
    values,
    args: call.args,
    json: values.json === true,
    p: paint(colorWanted(io.stdout, io.env)),
    pErr: paint(colorWanted(io.stderr, io.env)),
    url,
    key,
    client: connect({ url, key }),
    timeoutMs: timeoutSeconds * 1000,
    out: (text) => io.stdout.write(redact(text, key)),
  };
  if (!key && !opts.keyless) throw new CliError(EXIT.auth, 'no API key: set SIMPLEVM_API_KEY, pass --api-key, or run simplevm login');
  await body(ctx, file);
}

function command(path: string, args: string[], options: string[], summary: string, body: (ctx: Ctx, configFile: string) => Promise<void> | void, extra: { required?: string[]; keyless?: boolean; noConfig?: boolean } = {}): CommandSpec {
  return { path, args, options: [...options, ...COMMON], required: extra.required, summary, run: (call) => execute(call, body, extra) };
}

const COMMANDS: CommandSpec[] = [
  command('login', [], [], "save the portal's URL and an API key (typed, or the first line of stdin) for the next commands", login, { keyless: true }),
  command('logout', [], [], 'forget the saved key', (ctx, file) => logout(ctx, file), { keyless: true, noConfig: true }),
  command('whoami', [], [], 'who the key acts as: user, scopes, own objects only, project', async (ctx) => {
    const me = await api(ctx, ctx.client.GET('/api/auth/me'));
    print(ctx, me, () => meDetails(ctx, me));
  }),
  command('project list', [], [], 'the projects the key can see, with your role', (ctx) => projectCommand(ctx, 'list')),
  command('project show', ['PROJECT'], [], "a project's members, quota and usage", (ctx) => projectCommand(ctx, 'show')),
  command('project flavors', ['PROJECT'], [], "the flavors a project's VMs can have", (ctx) => projectCommand(ctx, 'flavors')),
  command('project images', ['PROJECT'], [], "the images a project's VMs can start from, its active snapshots included", (ctx) => projectCommand(ctx, 'images')),
  command('vm list', [], ['project', 'status', 'text', 'owner', 'id', ...LISTING], 'VMs the key can see, a page at a time (DELETED ones only with --status DELETED)', (ctx) => vmCommand(ctx, 'list')),
  command('vm show', ['VM'], [], 'a VM: every field, and how to connect to it', (ctx) => vmCommand(ctx, 'show')),
  command('vm ssh', ['VM'], ['identity'], 'connect to a VM (by id or name) with ssh, through the site\'s gateway when it has one', vmSsh),
  command('vm create', ['NAME'], ['image', 'flavor', 'project', ...WAIT], 'start a new VM', (ctx) => vmCommand(ctx, 'create'), { required: ['image', 'flavor'] }),
  command('vm stop', ['VM'], WAIT, 'power a VM off (ACTIVE → SHUTOFF)', (ctx) => vmCommand(ctx, 'stop')),
  command('vm resume', ['VM'], WAIT, 'power a stopped VM on (SHUTOFF → ACTIVE)', (ctx) => vmCommand(ctx, 'resume')),
  command('vm reboot', ['VM'], ['hard', ...WAIT], 'restart a VM', (ctx) => vmCommand(ctx, 'reboot')),
  command('vm delete', ['VM'], WAIT, 'delete a VM (it ends DELETED; its volumes become available)', (ctx) => vmCommand(ctx, 'delete')),
  command('volume list', [], ['project', 'status', ...LISTING], 'volumes the key can see, a page at a time', (ctx) => volumeCommand(ctx, 'list')),
  command('volume show', ['VOLUME'], [], 'a volume: every field', (ctx) => volumeCommand(ctx, 'show')),
  command('volume create', ['NAME'], ['size', 'project', ...WAIT], 'make a new volume', (ctx) => volumeCommand(ctx, 'create'), { required: ['size'] }),
  command('volume attach', ['VOLUME', 'VM'], WAIT, 'attach a volume to a VM of the same project', (ctx) => volumeCommand(ctx, 'attach')),
  command('volume detach', ['VOLUME'], WAIT, 'detach a volume from its VM', (ctx) => volumeCommand(ctx, 'detach')),
  command('volume extend', ['VOLUME', 'GB'], WAIT, 'grow a volume to GB', (ctx) => volumeCommand(ctx, 'extend')),
  command('volume delete', ['VOLUME'], WAIT, 'delete an available volume', (ctx) => volumeCommand(ctx, 'delete')),
  command('snapshot create', ['VM', 'NAME'], ['description', ...WAIT], 'snapshot a VM into an image of its project', snapshotCommand),
  command('snapshot delete', ['SNAPSHOT'], [], 'delete a snapshot (needs vm:delete); VMs made from it keep running', snapshotDeleteCommand),
  command('audit', [], ['action', ...LISTING], 'what was done, by whom, with which key: newest first, a page at a time', auditCommand),
];

/** The client commands as a section of `simplevm` (main.ts adds the admin commands). */
export const CLIENT_SECTION: Section = {
  title: "client commands (they use the portal's HTTP API with an API key)",
  options: OPTIONS,
  commands: COMMANDS,
  common: [...COMMON, 'timeout'],
  footer: `options of the client commands:
  --url URL, --api-key KEY   the portal and the key (or SIMPLEVM_URL, SIMPLEVM_API_KEY, or simplevm login)
  --json                     print the API's JSON answer, one line, instead of a table
  --wait [--timeout SECONDS] follow the change to its end (default timeout 900 s)
PROJECT (and P) is a project's id or name; VM, VOLUME and SNAPSHOT are openstack ids.
exit status: 0 done, 1 --wait saw ERROR or timed out, 2 usage or invalid request, 3 authentication
or permission, 4 not found, 5 conflict (state or quota), 6 server unreachable or in trouble`,
};

/** The words before the options' values: `simplevm vm list --project 3` is the command `vm list`. */
function words(argv: string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (OPTIONS[a.replace(/^--?/, '')]?.flags.includes('<') && !a.includes('=')) i++; // its value follows
      continue;
    }
    found.push(a);
  }
  return found;
}

/** Whether ARGV names a client command (the admin commands share the word `project`: `project create`). */
export function isClientCommand(argv: string[]): boolean {
  const [first, second] = words(argv);
  if (!first) return false;
  const paths = COMMANDS.map((c) => c.path);
  if (paths.includes(first)) return true;
  if (first !== 'project') return paths.some((p) => p.startsWith(`${first} `));
  return second !== undefined && paths.includes(`project ${second}`);
}

/**
 * Runs one client command and answers its exit status; failures are one line on stderr.
 * `io` defaults to this process's streams and environment (tests pass their own).
 */
export function runClientCommand(argv: string[], io: Io = processIo()): Promise<number> {
  return runProgram([CLIENT_SECTION], argv, io);
}
