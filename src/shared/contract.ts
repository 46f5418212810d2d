// The contract's lists (spec §2, §5, §7), defined once: the server's schemas and rules, the web
// app, the command line and the tests all import them from here. Pure data and pure functions, no
// imports: any part of the project may depend on this module, and it depends on none.

/** API key scopes (spec §2). */
export const SCOPES = [
  'vm:read', 'vm:create', 'vm:change_state', 'vm:delete', 'snapshot:create', 'project:read',
  'volume:read', 'volume:create', 'volume:change_state', 'volume:delete',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Audit log actions (spec §7); `?action=` matches them exactly. */
export const AUDIT_ACTIONS = [
  'login', 'login_failed', 'logout', 'key.create', 'key.delete', 'key.rotate', 'key.revoke_leaked', 'key.new_ip',
  'vm.create', 'vm.action', 'vm.delete', 'volume.create', 'volume.action', 'volume.delete', 'snapshot.create',
  // SimpleVM's current API (spec §8): DELETE /api/snapshots/{openstack_id}/.
  'snapshot.delete',
  // A user's public SSH keys (spec §9).
  'ssh_key.create', 'ssh_key.delete',
  // A VM's first boot reports its setup (spec §10).
  'vm.setup_report',
  // The profile's password change and a project's members (spec §6).
  'password.change', 'project.member_add', 'project.member_remove',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** VM names as OpenStack hostnames allow them (also snapshot names). */
export const VM_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
/** Names of keys and volumes: any characters but control characters. */
export const PRINTABLE_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
/** A conda package's name as conda allows it (spec §10): letters, digits, _ . + -; up to 100 characters. */
export const CONDA_NAME_PATTERN = '^[A-Za-z0-9_.+-]{1,100}$';
/** A conda package's version to pin (`name=version`): up to 64 letters, digits and _ . + * ! -. */
export const CONDA_VERSION_PATTERN = '^[A-Za-z0-9_.+*!-]{1,64}$';
/** The most conda packages a VM is created with. */
export const MAX_CONDA_PACKAGES = 50;

// ---------------------------------------------------------------------------------------------
// States (spec §5): which action fits which state, and what the object shows while it runs.
// ---------------------------------------------------------------------------------------------

export type VmAction = 'stop' | 'resume' | 'reboot' | 'delete';
export type RebootType = 'SOFT' | 'HARD';

export interface VmState {
  status: string;
  task_state: string | null;
}

/** The state a VM shows while `action` runs, or null when the action does not fit its state. */
export function vmDuring(current: VmState, action: VmAction, rebootType: RebootType = 'SOFT'): VmState | null {
  if (current.task_state !== null) return null;
  switch (action) {
    case 'stop':
      return current.status === 'ACTIVE' ? { status: 'ACTIVE', task_state: 'powering-off' } : null;
    case 'resume':
      return current.status === 'SHUTOFF' ? { status: 'SHUTOFF', task_state: 'powering-on' } : null;
    case 'reboot':
      if (current.status !== 'ACTIVE') return null;
      return rebootType === 'HARD' ? { status: 'HARD_REBOOT', task_state: 'rebooting_hard' } : { status: 'REBOOT', task_state: 'rebooting' };
    case 'delete':
      return ['ACTIVE', 'SHUTOFF', 'ERROR'].includes(current.status) ? { status: current.status, task_state: 'deleting' } : null;
  }
}

/** Whether `action` fits the VM's state (the web app enables its buttons by this). */
export const vmActionAllowed = (vm: VmState, action: VmAction): boolean => vmDuring(vm, action) !== null;

/**
 * A settled VM: running or stopped, with nothing in flight. Only such a VM takes a volume
 * (attach, detach) or a snapshot.
 */
export const vmIsSettled = (vm: VmState): boolean => vm.task_state === null && (vm.status === 'ACTIVE' || vm.status === 'SHUTOFF');

/** A VM whose state is still changing (lists poll while one is shown). */
export const vmInTransition = (vm: VmState): boolean => vm.task_state !== null || ['BUILD', 'REBOOT', 'HARD_REBOOT'].includes(vm.status);

export type VolumeAction = 'attach' | 'detach' | 'extend' | 'delete';

/** The status a volume shows while `action` runs, or null when the action does not fit its status. */
export function volumeDuring(status: string, action: VolumeAction): string | null {
  switch (action) {
    case 'attach':
      return status === 'available' ? 'attaching' : null;
    case 'detach':
      return status === 'in-use' ? 'detaching' : null;
    case 'extend':
      return status === 'available' || status === 'in-use' ? 'extending' : null;
    case 'delete':
      return status === 'available' ? 'deleting' : null;
  }
}

export const volumeActionAllowed = (volume: { status: string }, action: VolumeAction): boolean => volumeDuring(volume.status, action) !== null;

/** Statuses in which a volume has a transition running. */
export const VOLUME_BUSY: readonly string[] = ['creating', 'attaching', 'detaching', 'extending', 'deleting'];
export const volumeInTransition = (volume: { status: string }): boolean => VOLUME_BUSY.includes(volume.status);

/**
 * The status a snapshot shows while it is being deleted, or null when it cannot be deleted now:
 * one still being saved (`queued`; Glance's `saving` is shown as `queued` too) would leave the
 * cloud a half-written image. An `active` snapshot, or one that ended in `error`, may go.
 */
export function snapshotDeleting(status: string): 'deleting' | null {
  return status === 'active' || status === 'error' ? 'deleting' : null;
}

/** A new project's quota when its creator names none (spec §1, `simplevm project create`). */
export const DEFAULT_QUOTA = { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500 } as const;
export type Quota = { vms: number; cores: number; ram_gb: number; volumes: number; volume_gb: number };
