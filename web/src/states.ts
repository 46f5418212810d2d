// Which actions fit which state (spec §5), so buttons are enabled only when the API would accept them.
import type { Vm, Volume } from './api';

export type VmAction = 'resume' | 'stop' | 'reboot' | 'delete';

export function vmActionAllowed(vm: Pick<Vm, 'status' | 'task_state'>, action: VmAction): boolean {
  if (vm.task_state) return false;
  switch (action) {
    case 'resume':
      return vm.status === 'SHUTOFF';
    case 'stop':
    case 'reboot':
      return vm.status === 'ACTIVE';
    case 'delete':
      return ['ACTIVE', 'SHUTOFF', 'ERROR'].includes(vm.status);
  }
}

/** A VM whose state is still changing: the list polls while one is shown. */
export function vmInTransition(vm: Pick<Vm, 'status' | 'task_state'>): boolean {
  return vm.task_state !== null || ['BUILD', 'REBOOT', 'HARD_REBOOT'].includes(vm.status);
}

/** VMs a volume can be attached to. */
export function vmAcceptsVolume(vm: Pick<Vm, 'status' | 'task_state'>): boolean {
  return !vm.task_state && (vm.status === 'ACTIVE' || vm.status === 'SHUTOFF');
}

export type VolumeAction = 'attach' | 'detach' | 'extend' | 'delete';

export function volumeActionAllowed(volume: Pick<Volume, 'status'>, action: VolumeAction): boolean {
  switch (action) {
    case 'attach':
    case 'delete':
      return volume.status === 'available';
    case 'detach':
      return volume.status === 'in-use';
    case 'extend':
      return volume.status === 'available' || volume.status === 'in-use';
  }
}

export function volumeInTransition(volume: Pick<Volume, 'status'>): boolean {
  return ['creating', 'attaching', 'detaching', 'extending', 'deleting'].includes(volume.status);
}
