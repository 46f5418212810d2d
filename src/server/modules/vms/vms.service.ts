// The rules for VMs: creation within quota, actions that fit the state, durable transitions.
import { randomUUID } from 'node:crypto';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { type AppContext, nowIso } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { type RebootType, type VmAction, vmDuring } from '../../../shared/contract.js';
import { queueTransition } from '../../transitions/queue.js';
import { isPlausibleId } from '../shared.schemas.js';
import { auditedTransaction } from '../audit/audit.service.js';
import { findFlavor, imageExists } from '../catalog/catalog.repository.js';
import { isProjectReachable, lockProject } from '../projects/projects.repository.js';
import { assertWithinQuota } from '../projects/projects.quota.js';
import { isActiveSnapshotImage } from '../snapshots/snapshots.repository.js';
import { type VmFilters, type VmView, findVm, findVmView, insertVm, listVmViews, setVmState } from './vms.repository.js';

export function listVmsFor(ctx: AppContext, p: Principal, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; results: VmView[] }> {
  return listVmViews(ctx.db.kysely, reachOf(p), f, page, pageSize);
}

export async function getVm(ctx: AppContext, p: Principal, id: string): Promise<VmView> {
  const vm = isPlausibleId(id) ? await findVmView(ctx.db.kysely, reachOf(p), id) : null;
  if (!vm) throw notFound('No such VM.');
  return vm;
}

export interface VmCreate {
  project_id: number;
  image_name: string;
  flavor_name: string;
  vm_name: string;
}

export async function createVm(ctx: AppContext, p: Principal, body: VmCreate): Promise<VmView> {
  const reach = reachOf(p);
  const id = randomUUID();
  await auditedTransaction(ctx, p, { action: 'vm.create', objectType: 'vm', objectId: id, subjectId: p.user.id, projectId: body.project_id }, async (trx) => {
    const project = await lockProject(trx, ctx.db.dialect, body.project_id);
    if (!project || !(await isProjectReachable(trx, reach, body.project_id))) throw notFound('No such project.');
    const flavor = await findFlavor(trx, body.flavor_name);
    if (!flavor) throw invalid('flavor_name', `Unknown flavor "${body.flavor_name}".`);
    if (!(await imageExists(trx, body.image_name)) && !(await isActiveSnapshotImage(trx, reach, body.project_id, body.image_name, ctx.db.dialect))) {
      throw invalid('image_name', `Unknown image "${body.image_name}".`);
    }
    await assertWithinQuota(trx, project, { vms: 1, cores: flavor.vcpus, ram_gb: flavor.ram_gb }, 'This VM');
    const now = nowIso();
    await insertVm(trx, {
      openstack_id: id, name: body.vm_name, project_id: project.id, owner_id: p.user.id, image_name: body.image_name,
      flavor_name: flavor.name, vcpus: flavor.vcpus, ram_gb: flavor.ram_gb, status: 'BUILD', task_state: 'spawning',
      fixed_ip: null, fault: null, created_at: now, updated_at: now,
    });
    await queueTransition(ctx, trx, 'vm', id, 'create', {
      name: body.vm_name, imageName: body.image_name, flavorName: flavor.name, projectId: project.id, owner: p.user.username,
    });
  });
  ctx.worker.wake();
  return getVm(ctx, p, id);
}

export async function changeVm(ctx: AppContext, p: Principal, id: string, action: VmAction, rebootType: RebootType = 'SOFT'): Promise<VmView> {
  const event = { action: action === 'delete' ? 'vm.delete' as const : 'vm.action' as const, objectType: 'vm', objectId: id };
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
