// The state machines of spec §5 as pure functions: given an object's state and an action, the
// state it shows while the transition runs, or null when the action does not fit.

export type VmAction = 'stop' | 'resume' | 'reboot' | 'delete';
export type RebootType = 'SOFT' | 'HARD';

export interface VmState {
  status: string;
  task_state: string | null;
}

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

/** The status a VM action ends in. */
export const VM_TARGET: Record<VmAction | 'create', string> = {
  create: 'ACTIVE',
  stop: 'SHUTOFF',
  resume: 'ACTIVE',
  reboot: 'ACTIVE',
  delete: 'DELETED',
};

export type VolumeAction = 'attach' | 'detach' | 'extend' | 'delete';

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

/** Statuses in which a volume has a transition running. */
export const VOLUME_BUSY = ['creating', 'attaching', 'detaching', 'extending', 'deleting'];
