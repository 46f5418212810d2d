// How to get into a VM (spec §9 "Access"): the ssh line, through the site's gateway when it has
// one, and the research environment through the portal's own proxy.
import { isIPv4 } from 'node:net';
import type { Config } from '../../config.js';
import { findResenvTemplate } from '../resenv/resenv.catalogue.js';
import { type SetupView, setupOf, setupOverdueAt } from './vms.setup.js';
import type { VmView } from './vms.repository.js';

export interface VmAccess {
  ssh: { user: string; host: string; port: number; command: string } | null;
  research_environment: { template: string; url: string } | null;
}

/** One way into a VM, as SimpleVM lists them (`modes`; its tutorial picks one by name with jq). */
export interface VmMode {
  name: string;
  description: string;
  copy_field: string;
}

/** The fields SimpleVM's own tutorials read (spec §10), worked out from the VM's state and access. */
export interface SimpleVmFields {
  uuid: string;
  vm_state: string;
  ssh_command: string | null;
  res_env_url: string | null;
  userlogin: string | null;
  modes: VmMode[];
}

/** A VM as the API shows it. */
export type VmOutView = Omit<VmView, 'resenv_user_path' | 'login_user' | 'setup_record'> & { access: VmAccess | null } & SimpleVmFields & {
  setup: SetupView | null;
  playbook_done: boolean;
  playbook_successful: boolean;
};

/** Nova's vm_state for a status (spec §10), lower case as Nova writes it. */
const VM_STATE: Readonly<Record<string, string>> = {
  BUILD: 'building', ACTIVE: 'active', REBOOT: 'active', HARD_REBOOT: 'active', SHUTOFF: 'stopped', ERROR: 'error', DELETED: 'deleted',
};
export const vmStateOf = (status: string): string => VM_STATE[status] ?? status.toLowerCase();

/** Statuses of a VM that has been ACTIVE and still exists: it can be got into (again). */
const REACHABLE = new Set(['ACTIVE', 'REBOOT', 'HARD_REBOOT', 'SHUTOFF']);

/**
 * SimpleVM's gateways forward port base + 256 × the third + the fourth octet of a VM's fixed IPv4
 * address to its port 22; null when the address is not IPv4 or the port would pass 65535.
 */
export function gatewayPort(base: number, fixedIp: string): number | null {
  if (!isIPv4(fixedIp)) return null;
  const [, , third, fourth] = fixedIp.split('.').map(Number);
  const port = base + 256 * third + fourth;
  return port <= 65535 ? port : null;
}

function sshAccess(config: Pick<Config, 'sshGateway' | 'sshPortBase'>, user: string, fixedIp: string | null): VmAccess['ssh'] {
  if (fixedIp === null) return null;
  let host = fixedIp;
  let port = 22;
  if (config.sshGateway !== null) {
    const forwarded = gatewayPort(config.sshPortBase, fixedIp);
    if (forwarded === null) return null;
    host = config.sshGateway;
    port = forwarded;
  }
  const target = `${user}@${host.includes(':') ? `[${host}]` : host}`;
  return { user, host, port, command: `ssh -i ~/.ssh/id_ed25519${port === 22 ? '' : ` -p ${port}`} ${target}` };
}

export function accessOf(config: Pick<Config, 'sshGateway' | 'sshPortBase' | 'publicUrl' | 'resenvUrl'>, vm: VmView): VmAccess | null {
  if (!REACHABLE.has(vm.status)) return null;
  const env = vm.research_environment;
  return {
    ssh: sshAccess(config, vm.login_user, vm.fixed_ip),
    research_environment: env === null ? null : { template: env, url: `${config.resenvUrl ?? config.publicUrl ?? ''}/resenv/${vm.openstack_id}/` },
  };
}

/** SimpleVM's names for the same facts: one mapping, for every route that shows a VM. */
export function simpleVmFields(config: Config, vm: Pick<VmView, 'openstack_id' | 'status'>, access: VmAccess | null): SimpleVmFields {
  const modes: VmMode[] = [];
  if (access?.ssh) modes.push({ name: 'ssh', description: 'SSH', copy_field: access.ssh.command });
  const env = access?.research_environment;
  if (env) modes.push({ name: env.template, description: findResenvTemplate(config, env.template)?.title ?? env.template, copy_field: env.url });
  return {
    uuid: vm.openstack_id,
    vm_state: vmStateOf(vm.status),
    ssh_command: access?.ssh?.command ?? null,
    res_env_url: env?.url ?? null,
    userlogin: access?.ssh?.user ?? null,
    modes,
  };
}

/**
 * A VM as the API shows it. Written out field by field, one shape for every VM: an object made by
 * rest and spread (`{ a, ...rest }`) is slow to make and to serialise, and a list page makes 50
 * (it was 5 times the cost of the rest of a page's request).
 */
export function withAccess(config: Config, vm: VmView, now = Date.now()): VmOutView {
  const access = accessOf(config, vm);
  const setup = setupOf(config, vm.setup_record, now);
  const simplevm = simpleVmFields(config, vm, access);
  return {
    openstack_id: vm.openstack_id, name: vm.name, project_id: vm.project_id, owner: vm.owner, image_name: vm.image_name,
    flavor_name: vm.flavor_name, status: vm.status, task_state: vm.task_state, fixed_ip: vm.fixed_ip, fault: vm.fault,
    volumes: vm.volumes, ssh_keys: vm.ssh_keys, research_environment: vm.research_environment, conda_packages: vm.conda_packages,
    created_at: vm.created_at, updated_at: vm.updated_at,
    access,
    uuid: simplevm.uuid, vm_state: simplevm.vm_state, ssh_command: simplevm.ssh_command, res_env_url: simplevm.res_env_url,
    userlogin: simplevm.userlogin, modes: simplevm.modes,
    setup,
    // SimpleVM's names for the setup's end (its "playbook").
    playbook_done: setup?.state === 'done' || setup?.state === 'failed',
    playbook_successful: setup?.state === 'done',
  };
}

/**
 * The views of VMs the read cache keeps (frozen, shared by every request until the database
 * changes), made once for each page or VM and kept with it until one of them would show otherwise:
 * only a setup turning `unknown` with time does (setupOverdueAt). A page of 50 made anew for each
 * request was a tenth of the request's time, and most of its garbage.
 */
const keptViews = new WeakMap<object, { views: VmOutView[]; until: number }>();

function keptViewsOf(config: Config, key: object, vms: readonly VmView[]): VmOutView[] {
  const now = Date.now();
  const kept = keptViews.get(key);
  if (kept && now < kept.until) return kept.views;
  let until = Number.POSITIVE_INFINITY;
  const views = vms.map((vm) => {
    until = Math.min(until, setupOverdueAt(config, vm.setup_record));
    return withAccess(config, vm, now);
  });
  // Only what the read cache keeps is shared and unchanging; so are the views made of it (and their JSON: pageJson).
  if (Object.isFrozen(key)) keptViews.set(key, { views: Object.freeze(views) as VmOutView[], until });
  return views;
}

/** A page of VMs as the API shows them (withAccess), made once while the read cache keeps the page. */
export const withAccessAll = (config: Config, vms: readonly VmView[]): VmOutView[] => keptViewsOf(config, vms, vms);

/** A VM as the API shows it (withAccess), made once while the read cache keeps the VM. */
export const withAccessKept = (config: Config, vm: VmView): VmOutView => keptViewsOf(config, vm, [vm])[0];
