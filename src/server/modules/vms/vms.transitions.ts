// A VM's transitions: what each action asks of the cloud, how it knows it is done, and the end
// state it writes. (Which action fits which state, and what the VM shows meanwhile, is the
// contract's: vmDuring in src/shared/contract.ts.) The worker finds them through portal.ts.
import type { VmAction } from '../../../shared/contract.js';
import { type Finish, type TransitionDefinition, done, failed, pending } from '../../transitions/definitions.js';
import type { ServerKey } from '../../cloud/provider.js';
import { queueTransition } from '../../transitions/queue.js';
import { freeVolumesOf, markActiveOnce, releaseLaunchVolumes, setVmState } from './vms.repository.js';

/** The status each VM action ends in. */
const VM_TARGET: Record<VmAction | 'create', string> = {
  create: 'ACTIVE',
  stop: 'SHUTOFF',
  resume: 'ACTIVE',
  reboot: 'ACTIVE',
  delete: 'DELETED',
};

/** What a VM's launch volumes (spec §8 `volumes`) become when its creation ends. */
interface LaunchVolumes {
  ids: string[];
  /** Queues their attach transitions (the VM is ACTIVE), or, when null, gives them back. */
  attach: ((trx: Parameters<Finish>[0], id: string) => Promise<void>) | null;
}

/** The VM's end state: nothing in flight any more. */
function finishVm(id: string, patch: { status: string; fixed_ip?: string | null; fault?: string | null }, launch?: LaunchVolumes): Finish {
  return async (trx, now) => {
    await setVmState(trx, id, { ...patch, task_state: null }, now);
    // A deleted VM frees the volumes that were attached to it.
    if (patch.status === 'DELETED') await freeVolumesOf(trx, id, now);
    if (patch.status === 'ACTIVE') await markActiveOnce(trx, id, now);
    if (launch?.attach) for (const volume of launch.ids) await launch.attach(trx, volume);
    else if (launch) await releaseLaunchVolumes(trx, launch.ids, now);
  };
}

const launchVolumeIds = (params: Record<string, unknown>): string[] => (Array.isArray(params.volumes) ? params.volumes.map(String) : []);

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
            // Transitions queued before VMs had user data carry none.
            userData: typeof params.userData === 'string' ? params.userData : '#cloud-config\n{}\n',
            keys: Array.isArray(params.keys) ? (params.keys as ServerKey[]) : [],
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
    async check(cloud, t, params) {
      // A create's launch volumes: attached once the VM is ACTIVE, given back when it fails.
      const ids = action === 'create' ? launchVolumeIds(params) : [];
      const giveBack: LaunchVolumes = { ids, attach: null };
      const server = await cloud.getServer(t.object_id);
      if (!server || server.status === 'DELETED') {
        // Gone: the end of a delete, and what a VM deleted behind the portal's back becomes.
        return action === 'delete' ? done(finishVm(t.object_id, { status: 'DELETED' }))
          : failed(finishVm(t.object_id, { status: 'DELETED', fault: 'The server disappeared from the cloud.' }, giveBack));
      }
      // A server in ERROR keeps that status while it is being deleted (Nova: task_state deleting).
      if (server.status === 'ERROR' && !(action === 'delete' && server.taskState === 'deleting')) {
        return failed(finishVm(t.object_id, { status: 'ERROR', fault: server.fault ?? 'The cloud reported an error.' }, giveBack));
      }
      if (server.status === target && server.taskState === null) {
        const attach = (trx: Parameters<Finish>[0], volume: string) => queueTransition({ cloud }, trx, 'volume', volume, 'attach', { vm: t.object_id });
        return done(finishVm(t.object_id, { status: target, fixed_ip: server.fixedIp, fault: null }, { ids, attach }));
      }
      return pending;
    },
    fail(t, params, reason) {
      return finishVm(t.object_id, { status: 'ERROR', fault: reason }, action === 'create' ? { ids: launchVolumeIds(params), attach: null } : undefined);
    },
  };
}

/** A VM's transitions by action, as transitions rows of object type `vm` name them. */
export const vmTransitions: Readonly<Record<VmAction | 'create', TransitionDefinition>> = {
  create: vmTransition('create'),
  stop: vmTransition('stop'),
  resume: vmTransition('resume'),
  reboot: vmTransition('reboot'),
  delete: vmTransition('delete'),
};
