// SQL for snapshots. The caller's reach is part of every query (STYLE §3).
import type { Kysely, Transaction } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import type { Dialect } from '../../db/index.js';
import { objectReach } from '../../db/reach.js';
import type { Database, Snapshot } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const SNAPSHOT_COLUMNS = [
  'snapshots.openstack_id', 'snapshots.name', 'snapshots.description', 'snapshots.project_id', 'snapshots.vm_openstack_id',
  'snapshots.status', 'snapshots.created_at', 'snapshots.updated_at',
] as const;

export type SnapshotRow = Omit<Snapshot, 'owner_id'> & { owner: string };

/**
 * Snapshots within reach. One being deleted is gone as far as the API is concerned (the DELETE
 * answered 204): it is never listed, shown or booted from, though its row lives on until the cloud
 * has deleted its image.
 */
function reachable(q: Q, reach: Reach) {
  return q
    .selectFrom('snapshots')
    .innerJoin('users as owner', 'owner.id', 'snapshots.owner_id')
    .where(objectReach('snapshots', reach))
    .where('snapshots.status', '!=', 'deleting');
}

export function listSnapshots(q: Q, reach: Reach, projectId: number): Promise<SnapshotRow[]> {
  return reachable(q, reach)
    .select([...SNAPSHOT_COLUMNS, 'owner.username as owner'])
    .where('snapshots.project_id', '=', projectId)
    .orderBy('snapshots.created_at', 'desc')
    .orderBy('snapshots.openstack_id')
    .execute();
}

export function findSnapshot(q: Q, reach: Reach, id: string): Promise<SnapshotRow | undefined> {
  return reachable(q, reach).select([...SNAPSHOT_COLUMNS, 'owner.username as owner']).where('snapshots.openstack_id', '=', id).executeTakeFirst();
}

/** What deleting a snapshot needs to know of it; `lockFor: 'postgres'` locks its row until the transaction ends. */
export function findSnapshotToChange(q: Q, reach: Reach, id: string, lockFor?: Dialect) {
  const query = reachable(q, reach)
    .select(['snapshots.openstack_id', 'snapshots.name', 'snapshots.project_id', 'snapshots.owner_id', 'snapshots.status'])
    .where('snapshots.openstack_id', '=', id);
  return (lockFor === 'postgres' ? query.forUpdate(['snapshots']) : query).executeTakeFirst();
}

/**
 * An active snapshot of the project, within reach, that a new VM may boot from. With
 * `lockFor: 'postgres'` (a VM create) its row is share-locked until the transaction ends, so that a
 * concurrent delete of the snapshot waits for the VM to be recorded, and then sees it being built
 * (or the create waits for the delete, and then finds no active snapshot).
 */
export async function isActiveSnapshotImage(q: Q, reach: Reach, projectId: number, name: string, lockFor?: Dialect): Promise<boolean> {
  const query = reachable(q, reach)
    .select('snapshots.openstack_id')
    .where('snapshots.project_id', '=', projectId)
    .where('snapshots.name', '=', name)
    .where('snapshots.status', '=', 'active');
  const r = await (lockFor === 'postgres' ? query.forShare(['snapshots']) : query).executeTakeFirst();
  return r !== undefined;
}

/**
 * Whether a VM of the project is still being built from this image name: its cloud may still be
 * reading the image. (VMs name the image they boot from; read here, as findVmToSnapshot is, because
 * modules/vms imports this module.)
 */
export async function isImageInUseByBuild(q: Q, projectId: number, imageName: string): Promise<boolean> {
  const r = await q
    .selectFrom('vms')
    .select('vms.openstack_id')
    .where('vms.project_id', '=', projectId)
    .where('vms.image_name', '=', imageName)
    .where('vms.status', '=', 'BUILD')
    .executeTakeFirst();
  return r !== undefined;
}

export async function snapshotNameTaken(q: Q, projectId: number, name: string): Promise<boolean> {
  const r = await q.selectFrom('snapshots').select('openstack_id').where('project_id', '=', projectId).where('name', '=', name).where('status', '!=', 'error').executeTakeFirst();
  return r !== undefined;
}

export async function insertSnapshot(trx: Transaction<Database>, s: Snapshot): Promise<void> {
  await trx.insertInto('snapshots').values(s).execute();
}

export async function setSnapshotStatus(trx: Transaction<Database>, id: string, status: string, nowIso: string): Promise<void> {
  await trx.updateTable('snapshots').set({ status, updated_at: nowIso }).where('openstack_id', '=', id).execute();
}

/** The end of a delete: the cloud has deleted the image. */
export async function deleteSnapshotRow(trx: Transaction<Database>, id: string): Promise<void> {
  await trx.deleteFrom('snapshots').where('openstack_id', '=', id).execute();
}

// The VM a snapshot is taken of. Read here rather than through vms' repository: VMs boot from
// snapshots (modules/vms imports this module), so this module may not import modules/vms.

export interface VmToSnapshot {
  openstack_id: string;
  project_id: number;
  status: string;
  task_state: string | null;
}

/** A VM within reach, with what a snapshot needs of it; `lockFor: 'postgres'` locks its row (see findVm). */
export function findVmToSnapshot(q: Q, reach: Reach, vmId: string, lockFor?: Dialect): Promise<VmToSnapshot | undefined> {
  const query = q
    .selectFrom('vms')
    .select(['vms.openstack_id', 'vms.project_id', 'vms.status', 'vms.task_state'])
    .where(objectReach('vms', reach))
    .where('vms.openstack_id', '=', vmId);
  return (lockFor === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
}

export async function isVmToSnapshotReachable(q: Q, reach: Reach, vmId: string): Promise<boolean> {
  return (await findVmToSnapshot(q, reach, vmId)) !== undefined;
}
