// A volume's transitions: what each action asks of the cloud, how it knows it is done, and the end
// state it writes. (Which action fits which status is the contract's: volumeDuring in
// src/shared/contract.ts.) The worker finds them through portal.ts.
import type { CloudProvider, CloudVolume } from '../../cloud/provider.js';
import type { VolumeAction } from '../../../shared/contract.js';
import { type Finish, type TransitionDefinition, done, failed, pending } from '../../transitions/definitions.js';
import { lockVmStatus } from '../vms/vms.repository.js';
import { deleteVolumeRow, setVolumeEndState } from './volumes.repository.js';

type EndState = { status: string; attached_to?: string | null; device?: string | null; storage?: number };

/** The volume's end state, or `gone` when the cloud no longer has it. */
function finishVolume(id: string, patch: EndState | 'gone'): Finish {
  return async (trx, now) => {
    if (patch === 'gone') {
      await deleteVolumeRow(trx, id);
      return;
    }
    let end = patch;
    if (end.attached_to) {
      // A VM deleted while the volume was being attached to it freed only the volumes attached by
      // then: a volume is never left attached to a deleted VM. The VM's row is locked first (VM
      // before volume, as everywhere), so a VM delete finishing at the same time is seen either way.
      const vm = await lockVmStatus(trx, end.attached_to);
      if (!vm || vm.status === 'DELETED') end = { ...end, status: 'available', attached_to: null, device: null };
    } else if (end.status === 'in-use' && end.attached_to === null) {
      // In use by nothing (the cloud detached it from a deleted VM while this change ran): free.
      end = { ...end, status: 'available', device: null };
    }
    await setVolumeEndState(trx, id, end, now);
  };
}

const volumeCreate: TransitionDefinition = {
  call: (cloud, t, params) => cloud.createVolume({ id: t.object_id, name: String(params.name), size: Number(params.size) }),
  async check(cloud, t) {
    const v = await cloud.getVolume(t.object_id);
    if (!v || v.status === 'error') return failed(finishVolume(t.object_id, { status: 'error' }));
    if (v.status === 'available') return done(finishVolume(t.object_id, { status: 'available' }));
    return pending;
  },
  fail: (t) => finishVolume(t.object_id, { status: 'error' }),
};

function volumeChange(
  call: TransitionDefinition['call'],
  isDone: (v: CloudVolume, params: Record<string, unknown>) => boolean,
  /** The change can no longer happen (its VM is gone): the volume's state as it is now ends it. */
  isMoot?: (cloud: CloudProvider, v: CloudVolume, params: Record<string, unknown>) => Promise<boolean>,
): TransitionDefinition {
  return {
    call,
    async check(cloud, t, params) {
      const v = await cloud.getVolume(t.object_id);
      if (!v) return failed(finishVolume(t.object_id, 'gone'));
      if (v.status === 'error') return failed(finishVolume(t.object_id, { status: 'error' }));
      if (!isDone(v, params) && !(await isMoot?.(cloud, v, params))) return pending;
      return done(finishVolume(t.object_id, { status: v.status, attached_to: v.attachedTo, device: v.device, storage: v.size }));
    },
    fail: (t) => finishVolume(t.object_id, { status: 'error' }),
  };
}

const volumeDelete: TransitionDefinition = {
  call: (cloud, t) => cloud.deleteVolume(t.object_id),
  async check(cloud, t) {
    const v = await cloud.getVolume(t.object_id);
    if (!v || v.status === 'deleted') return done(finishVolume(t.object_id, 'gone'));
    if (v.status === 'error' || v.status === 'error_deleting') return failed(finishVolume(t.object_id, { status: 'error' }));
    return pending;
  },
  fail: (t) => finishVolume(t.object_id, { status: 'error' }),
};

/** A volume's transitions by action, as transitions rows of object type `volume` name them. */
export const volumeTransitions: Readonly<Record<VolumeAction | 'create', TransitionDefinition>> = {
  create: volumeCreate,
  attach: volumeChange(
    (cloud, t, p) => cloud.attachVolume(String(p.vm), t.object_id),
    (v, p) => v.status === 'in-use' && v.attachedTo === p.vm,
    // The VM was deleted meanwhile and the cloud detached the volume again (say, the attach finished
    // in the cloud but a crash lost its completion here): waiting would last until the deadline.
    async (cloud, v, p) => v.status === 'available' && (await cloud.getServer(String(p.vm)).then((s) => !s || s.status === 'DELETED')),
  ),
  detach: volumeChange(
    (cloud, t, p) => cloud.detachVolume(String(p.vm), t.object_id),
    (v) => v.status === 'available',
  ),
  extend: volumeChange(
    (cloud, t, p) => cloud.extendVolume(t.object_id, Number(p.size)),
    (v, p) => v.size === Number(p.size) && v.status !== 'extending',
  ),
  delete: volumeDelete,
};
