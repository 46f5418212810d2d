// The status each VM action ends in. (Which action fits which state is the contract's, in
// src/shared/contract.ts.)
import type { VmAction } from '../../shared/contract.js';

export const VM_TARGET: Record<VmAction | 'create', string> = {
  create: 'ACTIVE',
  stop: 'SHUTOFF',
  resume: 'ACTIVE',
  reboot: 'ACTIVE',
  delete: 'DELETED',
};
