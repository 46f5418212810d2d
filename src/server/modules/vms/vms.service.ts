// The rules for VMs: creation within quota, actions that fit the state, durable transitions.
import { randomUUID } from 'node:crypto';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { randomToken } from '../../auth/tokens.js';
import { type AppContext, nowIso } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { type RebootType, type VmAction, vmDuring } from '../../../shared/contract.js';
import { queueTransition } from '../../transitions/queue.js';
import { isPlausibleId } from '../shared.schemas.js';
import { type AuditDetail, type AuditEvent, auditedTransaction } from '../audit/audit.service.js';
import { findFlavor, imageExists } from '../catalog/catalog.repository.js';
import { isProjectReachable, lockProject } from '../projects/projects.repository.js';
import { assertWithinQuota } from '../projects/projects.quota.js';
import { isActiveSnapshotImage } from '../snapshots/snapshots.repository.js';
import { findResenvTemplate } from '../resenv/resenv.catalogue.js';
import { publicKeysOfUsers } from '../ssh-keys/ssh-keys.repository.js';
import { type VmOutView, withAccessAll, withAccessKept } from './vms.access.js';
import {
  DEFAULT_LOGIN_USER, type VmFilters, findVm, findVmView, imageLoginUser, insertVm, keyHolders, listVmViews, reserveLaunchVolumes, setVmState,
} from './vms.repository.js';
import { MAX_SCRIPT_BYTES } from './vms.schemas.js';
import { MAX_USER_DATA_BASE64, encodeUserData } from '../../cloud/user-data.js';
import { setupTokenDigest } from './vms.setup.js';
import { type CondaPackage, type LaunchVolume, buildUserData, hasSetup } from './vms.user-data.js';

export async function listVmsFor(ctx: AppContext, p: Principal, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; results: VmOutView[] }> {
  const { count, results } = await listVmViews(ctx.db.kysely, reachOf(p), f, page, pageSize);
  return { count, results: withAccessAll(ctx.config, results) };
}

export async function getVm(ctx: AppContext, p: Principal, id: string): Promise<VmOutView> {
  const vm = isPlausibleId(id) ? await findVmView(ctx.db.kysely, reachOf(p), id) : null;
  if (!vm) throw notFound('No such VM.');
  return withAccessKept(ctx.config, vm);
}

export interface VmCreate {
  project_id: number;
  image_name: string;
  flavor_name: string;
  vm_name: string;
  additional_script?: string;
  research_environment_backend?: { template: string; user_path?: string; create_only?: boolean };
  volumes?: LaunchVolume[];
  member_access?: boolean;
  conda_packages?: string[];
}

/** `user_path` as the proxy and the VM use it: `/` first and last; `..` and `//` refused. */
function normalizedUserPath(raw: string | undefined): string {
  const segments = (raw ?? '').split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw invalid('research_environment_backend', 'user_path may not contain . or .. segments.');
  return segments.length ? `/${segments.join('/')}/` : '/';
}

/**
 * The launch volumes, checked for what the schema cannot see: each once, each at a path of its own
 * below `/` (`//x/` is `/x`; `/`, `.` and `..` are refused).
 */
function launchVolumes(volumes: LaunchVolume[] | undefined): LaunchVolume[] {
  const ids = new Set<string>();
  const paths = new Set<string>();
  return (volumes ?? []).map((v) => {
    const segments = v.path.split('/').filter((s) => s !== '');
    if (segments.length === 0 || segments.some((s) => s === '.' || s === '..')) throw invalid('volumes', `${v.path} is not a path to mount a volume at.`);
    const path = `/${segments.join('/')}`;
    if (ids.has(v.openstack_id)) throw invalid('volumes', `The volume ${v.openstack_id} is named twice.`);
    if (paths.has(path)) throw invalid('volumes', `Two volumes cannot both be mounted at ${path}.`);
    ids.add(v.openstack_id);
    paths.add(path);
    return { openstack_id: v.openstack_id, path };
  });
}

/** `name` or `name=version` (the schema checked the characters), each name once. */
function condaPackages(specs: string[] | undefined): CondaPackage[] {
  const seen = new Set<string>();
  return (specs ?? []).map((spec) => {
    const at = spec.indexOf('=');
    const name = at < 0 ? spec : spec.slice(0, at);
    if (seen.has(name.toLowerCase())) throw invalid('conda_packages', `The package ${name} is named twice.`);
    seen.add(name.toLowerCase());
    return { name, version: at < 0 ? null : spec.slice(at + 1) };
  });
}

export async function createVm(ctx: AppContext, p: Principal, body: VmCreate): Promise<VmOutView> {
  const reach = reachOf(p);
  const id = randomUUID();
  const script = body.additional_script ?? null;
  if (script !== null && Buffer.byteLength(script, 'utf8') > MAX_SCRIPT_BYTES) throw invalid('additional_script', 'The script is larger than 64 KiB.');
  const backend = body.research_environment_backend;
  const template = backend ? findResenvTemplate(ctx.config, backend.template) : undefined;
  if (backend && !template) throw invalid('research_environment_backend', `Unknown research environment template "${backend.template}" (GET /api/research-environments/).`);
  const userPath = backend ? normalizedUserPath(backend.user_path) : null;
  const volumes = launchVolumes(body.volumes);
  const conda = condaPackages(body.conda_packages);
  const event = { action: 'vm.create' as const, objectType: 'vm', subjectId: p.user.id, projectId: body.project_id, detail: { name: body.vm_name } };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    const project = await lockProject(trx, ctx.db.dialect, body.project_id);
    if (!project || !(await isProjectReachable(trx, reach, body.project_id))) throw notFound('No such project.');
    const flavor = await findFlavor(trx, body.flavor_name);
    if (!flavor) throw invalid('flavor_name', `Unknown flavor "${body.flavor_name}".`);
    if (!(await imageExists(trx, body.image_name)) && !(await isActiveSnapshotImage(trx, reach, body.project_id, body.image_name, ctx.db.dialect))) {
      throw invalid('image_name', `Unknown image "${body.image_name}".`);
    }
    await assertWithinQuota(trx, project, { vms: 1, cores: flavor.vcpus, ram_gb: flavor.ram_gb }, 'This VM');
    const now = nowIso();
    const unfit = await reserveLaunchVolumes(trx, reach, project.id, volumes.map((v) => v.openstack_id), now);
    if (unfit.length) throw invalid('volumes', `Not an available volume of this project: ${unfit.join(', ')}.`);
    const keys = await publicKeysOfUsers(trx, await keyHolders(trx, p.user.id, project.id, body.member_access ?? false));
    const boot = {
      sshKeys: keys.map((k) => k.public_key),
      loginUser: (await imageLoginUser(trx, body.image_name)) ?? DEFAULT_LOGIN_USER,
      volumes,
      researchEnvironment: template && userPath !== null ? { template: template.template, port: template.port, user_path: userPath, create_only: backend?.create_only ?? false } : null,
      additionalScript: script,
      conda,
    };
    // Whatever runs at first boot reports back with a token of this VM's own (spec §10); only its digest is kept.
    const token = hasSetup(boot) ? randomToken() : null;
    const report = token === null ? null : { url: ctx.config.publicUrl === null ? null : `${ctx.config.publicUrl}/api/vms/${id}/setup/`, token };
    const userData = buildUserData({ ...boot, report });
    // Every cloud gets what Nova would take (base64, compressed when needed, at most 65,535 characters).
    if (encodeUserData(userData).length > MAX_USER_DATA_BASE64) {
      throw invalid('additional_script', 'The first-boot script and the keys together exceed the cloud\'s limit for user data (64 KiB, base64-encoded and compressed).');
    }
    await insertVm(trx, {
      openstack_id: id, name: body.vm_name, project_id: project.id, owner_id: p.user.id, image_name: body.image_name,
      flavor_name: flavor.name, vcpus: flavor.vcpus, ram_gb: flavor.ram_gb, status: 'BUILD', task_state: 'spawning',
      fixed_ip: null, fault: null, created_at: now, updated_at: now,
      ssh_keys: JSON.stringify([...new Set(keys.map((k) => k.fingerprint))]), resenv_template: template?.template ?? null, resenv_user_path: userPath,
      conda_packages: JSON.stringify(conda), setup_state: token === null ? null : 'pending', setup_token_digest: token === null ? null : setupTokenDigest(token),
    });
    e.objectId = id;
    await queueTransition(ctx, trx, 'vm', id, 'create', {
      name: body.vm_name, imageName: body.image_name, flavorName: flavor.name, projectId: project.id, owner: p.user.username,
      userData, keys: keys.map((k) => ({ fingerprint: k.fingerprint, public_key: k.public_key })), volumes: volumes.map((v) => v.openstack_id),
    });
  });
  ctx.worker.wake();
  return getVm(ctx, p, id);
}

export async function changeVm(ctx: AppContext, p: Principal, id: string, action: VmAction, rebootType: RebootType = 'SOFT'): Promise<VmOutView> {
  const detail: AuditDetail = action === 'reboot' ? { os_action: action, reboot_type: rebootType } : { os_action: action };
  const event: AuditEvent = action === 'delete' ? { action: 'vm.delete', objectType: 'vm', objectId: id } : { action: 'vm.action', objectType: 'vm', objectId: id, detail };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    const vm = isPlausibleId(id) ? await findVm(trx, reachOf(p), id, ctx.db.dialect) : undefined;
    if (!vm) throw notFound('No such VM.');
    e.subjectId = vm.owner_id;
    e.projectId = vm.project_id;
    const during = vmDuring(vm, action, rebootType);
    if (!during) {
      const why = vm.task_state ? `while it is ${vm.task_state}` : `in status ${vm.status}`;
      throw new AppError('invalid_state', `Cannot ${action} the VM ${why}.`);
    }
    await setVmState(trx, id, during, nowIso());
    await queueTransition(ctx, trx, 'vm', id, action, action === 'reboot' ? { rebootType } : {});
  });
  ctx.worker.wake();
  return getVm(ctx, p, id);
}
