// What may be done to a VM, shared by the VM list and a VM's page: the state actions (enabled by
// the contract's vmActionAllowed) and the confirmation before a delete.
import type { VmAction } from '../../src/shared/contract';
import type { ApiError, Vm } from './api';
import { Dialog } from './ui';

/** The state actions, in the order their buttons show; Delete, which asks first, follows them. */
export const VM_ACTIONS: { action: Exclude<VmAction, 'delete'>; label: string }[] = [
  { action: 'resume', label: 'Start' },
  { action: 'stop', label: 'Stop' },
  { action: 'reboot', label: 'Reboot' },
];

/** Asks before a VM is deleted, and says what happens to its disk and volumes. */
export function DeleteVmDialog({ vm, busy, error, onCancel, onConfirm }: {
  vm: Vm;
  busy: boolean;
  error: ApiError | null;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  return (
    <Dialog title={`Delete VM ${vm.name}?`} submitLabel="Delete VM" danger busy={busy} error={error} onCancel={onCancel} onSubmit={onConfirm}>
      <p>The VM and its disk are deleted for good. Attached volumes are detached and kept.</p>
    </Dialog>
  );
}
