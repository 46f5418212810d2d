// The rules for volumes: creation within quota; attach, detach, extend and delete in the states
// that allow them, each a durable transition.
import { randomUUID } from 'node:crypto';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { type AppContext, nowIso } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { queueTransition } from '../../transitions/queue.js';
import { isPlausibleId } from '../shared.schemas.js';
import { auditedTransaction } from '../audit/audit.service.js';
import { type VolumeAction, vmIsSettled, volumeDuring } from '../../../shared/contract.js';
import { isProjectReachable, lockProject } from '../projects/projects.repository.js';
import { assertWithinQuota } from '../projects/projects.quota.js';
import { findVm } from '../vms/vms.repository.js';
import { type VolumeFilters, type VolumeRow, findVolume, insertVolume, listVolumes, setVolumeStatus } from './volumes.repository.js';

export async function listVolumesFor(ctx: AppContext, p: Principal, f: VolumeFilters, page: number, pageSize: number) {
  const { count, rows } = await listVolumes(ctx.db.kysely, reachOf(p), f, page, pageSize);
  return { count, results: rows };
}

export async function getVolume(ctx: AppContext, p: Principal, id: string): Promise<VolumeRow> {
  const v = isPlausibleId(id) ? await findVolume(ctx.db.kysely, reachOf(p), id) : undefined;
  if (!v) throw notFound('No such volume.');
  return v;
}

export async function createVolume(ctx: AppContext, p: Principal, body: { project_id: number; name: string; storage: number }): Promise<VolumeRow> {
  const reach = reachOf(p);
  const id = randomUUID();
  const event = { action: 'volume.create' as const, objectType: 'volume', subjectId: p.user.id, projectId: body.project_id, detail: { name: body.name } };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    const project = await lockProject(trx, ctx.db.dialect, body.project_id);
    if (!project || !(await isProjectReachable(trx, reach, body.project_id))) throw notFound('No such project.');
    await assertWithinQuota(trx, project, { volumes: 1, volume_gb: body.storage }, 'This volume');
    const now = nowIso();
    await insertVolume(trx, {
      openstack_id: id, name: body.name, project_id: project.id, owner_id: p.user.id, storage: body.storage, status: 'creating',
      attached_to: null, device: null, created_at: now, updated_at: now,
    });
    e.objectId = id;
    await queueTransition(ctx, trx, 'volume', id, 'create', { name: body.name, size: body.storage });
  });
  ctx.worker.wake();
  return getVolume(ctx, p, id);
}

export interface VolumeActionRequest {
  os_action: 'attach' | 'detach' | 'extend';
  vm_openstack_id?: string;
  /** SimpleVM's name for vm_openstack_id (spec §8). */
  vm_uuid?: string;
  size?: number;
}

/** The VM an attach names, by either of its names; both given must agree. */
function vmToAttach(req: VolumeActionRequest): string | undefined {
  const { vm_openstack_id: ours, vm_uuid: simplevms } = req;
  if (ours !== undefined && simplevms !== undefined && ours !== simplevms) {
    throw invalid('vm_uuid', 'vm_uuid and vm_openstack_id name the same VM; give one of them, or the same id in both.');
  }
  return ours ?? simplevms;
}

export async function changeVolume(ctx: AppContext, p: Principal, id: string, req: VolumeActionRequest | { os_action: 'delete' }): Promise<VolumeRow> {
  const reach = reachOf(p);
  const action: VolumeAction = req.os_action;
  const event = action === 'delete'
    ? { action: 'volume.delete' as const, objectType: 'volume', objectId: id }
    : { action: 'volume.action' as const, objectType: 'volume', objectId: id, detail: { os_action: action } };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    // Rows are locked VM first, then volume, everywhere (the worker finishing a VM delete does
    // the same), so two transactions never wait on each other in a circle.
    const unlocked = isPlausibleId(id) ? await findVolume(trx, reach, id) : undefined;
    if (!unlocked) throw notFound('No such volume.');
    // Known now (they never change), so that a refusal below is recorded against the volume.
    e.subjectId = unlocked.owner_id;
    e.projectId = unlocked.project_id;
    const attachTo = req.os_action === 'attach' ? vmToAttach(req) : undefined;
    const vmToLock = req.os_action === 'attach' ? attachTo : req.os_action === 'detach' ? unlocked.attached_to : null;
    const lockedVm = vmToLock ? await findVm(trx, reach, vmToLock, ctx.db.dialect) : undefined;
    const volume = (await findVolume(trx, reach, id, ctx.db.dialect)) ?? unlocked;
    const params: Record<string, unknown> = {};
    if (req.os_action === 'attach') {
      if (!attachTo) throw invalid('vm_openstack_id', 'Name the VM to attach the volume to (vm_openstack_id, or vm_uuid).');
      const vm = lockedVm;
      if (!vm || vm.project_id !== volume.project_id) throw notFound('No such VM in the volume\'s project.');
      if (!vmIsSettled(vm)) {
        throw new AppError('invalid_state', `Cannot attach a volume to a VM in status ${vm.status}${vm.task_state ? ` while it is ${vm.task_state}` : ''}.`);
      }
      params.vm = vm.openstack_id;
    } else if (req.os_action === 'detach') {
      params.vm = volume.attached_to;
    } else if (req.os_action === 'extend') {
      if (req.size === undefined) throw invalid('size', 'Give the new size in GB.');
      if (req.size <= volume.storage) throw invalid('size', `The new size must be larger than the current ${volume.storage} GB.`);
      const project = await lockProject(trx, ctx.db.dialect, volume.project_id);
      if (project) await assertWithinQuota(trx, project, { volume_gb: req.size - volume.storage }, 'Extending');
      params.size = req.size;
    }
    const during = volumeDuring(volume.status, action);
    if (!during) throw new AppError('invalid_state', `Cannot ${action} a volume in status ${volume.status}.`);
    await setVolumeStatus(trx, id, during, nowIso(), typeof params.size === 'number' ? params.size : undefined);
    await queueTransition(ctx, trx, 'volume', id, action, params);
  });
  ctx.worker.wake();
  return getVolume(ctx, p, id);
}
