// What each transition asks of the cloud, how it knows it is done, and the end state it writes.
import type { Transaction } from 'kysely';
import type { CloudProvider, CloudVolume } from '../cloud/provider.js';
import type { Database, Transition } from '../db/types.js';
import { finishSnapshot, finishVm, finishVolume } from './transitions.repository.js';
import type { VmAction } from '../../shared/contract.js';
import { VM_TARGET } from './states.js';

export type Finish = (trx: Transaction<Database>, nowIso: string) => Promise<void>;

/** `pending`: look again later; otherwise the function that writes the end state. */
export type CheckResult = { pending: true } | { pending: false; outcome: 'success' | 'error'; finish: Finish };

export interface TransitionDefinition {
  call(cloud: CloudProvider, t: Transition, params: Record<string, unknown>): Promise<void>;
  check(cloud: CloudProvider, t: Transition, params: Record<string, unknown>): Promise<CheckResult>;
  /** The end state when the transition fails for good (timeout, persistent cloud errors). */
  fail(t: Transition, params: Record<string, unknown>, reason: string): Finish;
}

const pending: CheckResult = { pending: true };
const done = (finish: Finish): CheckResult => ({ pending: false, outcome: 'success', finish });
const failed = (finish: Finish): CheckResult => ({ pending: false, outcome: 'error', finish });

function vmTransition(action: VmAction | 'create'): TransitionDefinition {
  const target = VM_TARGET[action];
  return {
    async call(cloud, t, params) {
      switch (action) {
        case 'create':
          return cloud.createServer({
            id: t.object_id,
            name: String(params.name),
            imageName: String(params.imageName),
            flavorName: String(params.flavorName),
            metadata: { simplevm_project_id: String(params.projectId), simplevm_owner: String(params.owner) },
          });
        case 'stop':
          return cloud.stopServer(t.object_id);
        case 'resume':
          return cloud.startServer(t.object_id);
        case 'reboot':
          return cloud.rebootServer(t.object_id, params.rebootType === 'HARD' ? 'HARD' : 'SOFT');
        case 'delete':
          return cloud.deleteServer(t.object_id);
      }
    },
    async check(cloud, t) {
      const server = await cloud.getServer(t.object_id);
      if (!server || server.status === 'DELETED') {
        // Gone: the end of a delete, and what a VM deleted behind the portal's back becomes.
        return action === 'delete' ? done((trx, now) => finishVm(trx, t.object_id, { status: 'DELETED' }, now))
          : failed((trx, now) => finishVm(trx, t.object_id, { status: 'DELETED', fault: 'The server disappeared from the cloud.' }, now));
      }
      // A server in ERROR keeps that status while it is being deleted (Nova: task_state deleting).
      if (server.status === 'ERROR' && !(action === 'delete' && server.taskState === 'deleting')) {
        return failed((trx, now) => finishVm(trx, t.object_id, { status: 'ERROR', fault: server.fault ?? 'The cloud reported an error.' }, now));
      }
      if (server.status === target && server.taskState === null) {
        return done((trx, now) => finishVm(trx, t.object_id, { status: target, fixed_ip: server.fixedIp, fault: null }, now));
      }
      return pending;
    },
    fail(t, _params, reason) {
      return (trx, now) => finishVm(trx, t.object_id, { status: 'ERROR', fault: reason }, now);
    },
  };
}

const volumeCreate: TransitionDefinition = {
  call: (cloud, t, params) => cloud.createVolume({ id: t.object_id, name: String(params.name), size: Number(params.size) }),
  async check(cloud, t) {
    const v = await cloud.getVolume(t.object_id);
    if (!v || v.status === 'error') return failed((trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now));
    if (v.status === 'available') return done((trx, now) => finishVolume(trx, t.object_id, { status: 'available' }, now));
    return pending;
  },
  fail: (t) => (trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now),
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
      if (!v) return failed((trx, now) => finishVolume(trx, t.object_id, 'gone', now));
      if (v.status === 'error') return failed((trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now));
      if (!isDone(v, params) && !(await isMoot?.(cloud, v, params))) return pending;
      return done((trx, now) => finishVolume(trx, t.object_id, { status: v.status, attached_to: v.attachedTo, device: v.device, storage: v.size }, now));
    },
    fail: (t) => (trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now),
  };
}

const volumeDelete: TransitionDefinition = {
  call: (cloud, t) => cloud.deleteVolume(t.object_id),
  async check(cloud, t) {
    const v = await cloud.getVolume(t.object_id);
    if (!v || v.status === 'deleted') return done((trx, now) => finishVolume(trx, t.object_id, 'gone', now));
    if (v.status === 'error' || v.status === 'error_deleting') return failed((trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now));
    return pending;
  },
  fail: (t) => (trx, now) => finishVolume(trx, t.object_id, { status: 'error' }, now),
};

const snapshotCreate: TransitionDefinition = {
  call: (cloud, t, params) => cloud.createSnapshot(String(params.vm), { id: t.object_id, name: String(params.name) }),
  async check(cloud, t) {
    const image = await cloud.getSnapshotImage(t.object_id);
    if (!image || ['killed', 'deleted', 'error'].includes(image.status)) return failed((trx, now) => finishSnapshot(trx, t.object_id, 'error', now));
    if (image.status === 'active') return done((trx, now) => finishSnapshot(trx, t.object_id, 'active', now));
    return pending;
  },
  fail: (t) => (trx, now) => finishSnapshot(trx, t.object_id, 'error', now),
};

const DEFINITIONS: Record<string, TransitionDefinition> = {
  'vm:create': vmTransition('create'),
  'vm:stop': vmTransition('stop'),
  'vm:resume': vmTransition('resume'),
  'vm:reboot': vmTransition('reboot'),
  'vm:delete': vmTransition('delete'),
  'volume:create': volumeCreate,
  'volume:attach': volumeChange(
    (cloud, t, p) => cloud.attachVolume(String(p.vm), t.object_id),
    (v, p) => v.status === 'in-use' && v.attachedTo === p.vm,
    // The VM was deleted meanwhile and the cloud detached the volume again (say, the attach finished
    // in the cloud but a crash lost its completion here): waiting would last until the deadline.
    async (cloud, v, p) => v.status === 'available' && (await cloud.getServer(String(p.vm)).then((s) => !s || s.status === 'DELETED')),
  ),
  'volume:detach': volumeChange(
    (cloud, t, p) => cloud.detachVolume(String(p.vm), t.object_id),
    (v) => v.status === 'available',
  ),
  'volume:extend': volumeChange(
    (cloud, t, p) => cloud.extendVolume(t.object_id, Number(p.size)),
    (v, p) => v.size === Number(p.size) && v.status !== 'extending',
  ),
  'volume:delete': volumeDelete,
  'snapshot:create': snapshotCreate,
};

export function definitionFor(t: Pick<Transition, 'object_type' | 'action'>): TransitionDefinition {
  const d = DEFINITIONS[`${t.object_type}:${t.action}`];
  if (!d) throw new Error(`no transition ${t.object_type}:${t.action}`);
  return d;
}
