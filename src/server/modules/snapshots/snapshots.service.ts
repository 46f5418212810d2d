// Snapshots of VMs: a durable transition from queued to active; an active snapshot is an image
// of its own project. Deleting one (spec §8) is a durable transition too, from `deleting` to gone.
import { randomUUID } from 'node:crypto';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { type AppContext, nowIso } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { snapshotDeleting, vmIsSettled } from '../../../shared/contract.js';
import { queueTransition } from '../../transitions/queue.js';
import { auditedTransaction } from '../audit/audit.service.js';
import { imageExists } from '../catalog/catalog.repository.js';
import { isPlausibleId } from '../shared.schemas.js';
import {
  type SnapshotRow, findSnapshot, findSnapshotToChange, findVmToSnapshot, insertSnapshot, isImageInUseByBuild, setSnapshotStatus, snapshotNameTaken,
} from './snapshots.repository.js';

export async function createSnapshot(
  ctx: AppContext,
  p: Principal,
  body: { snapshot_instance: string; snapshot_name: string; description?: string },
): Promise<SnapshotRow> {
  const reach = reachOf(p);
  const id = randomUUID();
  const event = { action: 'snapshot.create' as const, objectType: 'snapshot', subjectId: p.user.id, detail: { name: body.snapshot_name } };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    const vm = await findVmToSnapshot(trx, reach, body.snapshot_instance, ctx.db.dialect);
    if (!vm) throw notFound('No such VM.');
    e.projectId = vm.project_id;
    if (!vmIsSettled(vm)) {
      throw new AppError('invalid_state', `Cannot snapshot a VM in status ${vm.status}${vm.task_state ? ` while it is ${vm.task_state}` : ''}.`);
    }
    if ((await imageExists(trx, body.snapshot_name)) || (await snapshotNameTaken(trx, vm.project_id, body.snapshot_name))) {
      throw invalid('snapshot_name', `The project already has an image named "${body.snapshot_name}".`);
    }
    const now = nowIso();
    await insertSnapshot(trx, {
      openstack_id: id, name: body.snapshot_name, description: body.description ?? '', project_id: vm.project_id, owner_id: p.user.id,
      vm_openstack_id: vm.openstack_id, status: 'queued', created_at: now, updated_at: now,
    });
    e.objectId = id;
    await queueTransition(ctx, trx, 'snapshot', id, 'create', { vm: vm.openstack_id, name: body.snapshot_name });
  });
  ctx.worker.wake();
  const snapshot = await findSnapshot(ctx.db.kysely, reach, id);
  if (!snapshot) throw notFound('No such snapshot.');
  return snapshot;
}

/**
 * Deletes a snapshot (spec §8: `DELETE /api/snapshots/{openstack_id}/`, 204). It is gone for the
 * API as soon as this returns (status `deleting` hides it from lists, images and VM creation); the
 * worker then deletes its image in the cloud and its row. VMs booted from it keep running: the cloud
 * keeps what they booted from. Refused (409) while the snapshot is still being saved, or while a VM
 * of its project is being built from it (the cloud may still be reading the image).
 */
export async function deleteSnapshot(ctx: AppContext, p: Principal, id: string): Promise<void> {
  await auditedTransaction(ctx, p, { action: 'snapshot.delete', objectType: 'snapshot', objectId: id }, async (trx, e) => {
    const snapshot = isPlausibleId(id) ? await findSnapshotToChange(trx, reachOf(p), id, ctx.db.dialect) : undefined;
    if (!snapshot) throw notFound('No such snapshot.');
    e.subjectId = snapshot.owner_id;
    e.projectId = snapshot.project_id;
    const during = snapshotDeleting(snapshot.status);
    if (!during) throw new AppError('invalid_state', `Cannot delete a snapshot in status ${snapshot.status}; wait until it is active.`);
    if (await isImageInUseByBuild(trx, snapshot.project_id, snapshot.name)) {
      throw new AppError('invalid_state', 'A VM is being built from this snapshot; delete it once that VM is ACTIVE.');
    }
    await setSnapshotStatus(trx, id, during, nowIso());
    await queueTransition(ctx, trx, 'snapshot', id, 'delete', {});
  });
  ctx.worker.wake();
}
