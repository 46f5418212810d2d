// Snapshots of VMs: a durable transition from queued to active; an active snapshot is an image
// of its own project.
import { randomUUID } from 'node:crypto';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { type AppContext, nowIso } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { vmIsSettled } from '../../../shared/contract.js';
import { queueTransition } from '../../transitions/queue.js';
import { auditedTransaction } from '../audit/audit.service.js';
import { imageExists } from '../catalog/catalog.repository.js';
import { type SnapshotRow, findSnapshot, findVmToSnapshot, insertSnapshot, snapshotNameTaken } from './snapshots.repository.js';

export async function createSnapshot(
  ctx: AppContext,
  p: Principal,
  body: { snapshot_instance: string; snapshot_name: string; description?: string },
): Promise<SnapshotRow> {
  const reach = reachOf(p);
  const id = randomUUID();
  await auditedTransaction(ctx, p, { action: 'snapshot.create', objectType: 'snapshot', objectId: id, subjectId: p.user.id }, async (trx, e) => {
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
    await queueTransition(ctx, trx, 'snapshot', id, 'create', { vm: vm.openstack_id, name: body.snapshot_name });
  });
  ctx.worker.wake();
  const snapshot = await findSnapshot(ctx.db.kysely, reach, id);
  if (!snapshot) throw notFound('No such snapshot.');
  return snapshot;
}
