// SQL for volumes. The caller's reach is part of every query (STYLE §3).
import { type Kysely, type Transaction } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import type { Dialect } from '../../db/index.js';
import { boundedCount, countBoundOf, countOfPage } from '../../db/paging.js';
import { objectReach } from '../../db/reach.js';
import type { Database, Volume } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const VOLUME_COLUMNS = [
  'volumes.openstack_id', 'volumes.name', 'volumes.project_id', 'volumes.owner_id', 'volumes.storage', 'volumes.status', 'volumes.attached_to',
  'volumes.device', 'volumes.created_at', 'volumes.updated_at',
] as const;

export type VolumeRow = Volume & { owner: string };

export interface VolumeFilters {
  projectId?: number;
  status?: string;
}

function reachable(q: Q, reach: Reach) {
  return q.selectFrom('volumes').innerJoin('users as owner', 'owner.id', 'volumes.owner_id').where(objectReach('volumes', reach));
}

function filtered(q: Q, reach: Reach, f: VolumeFilters) {
  let query = reachable(q, reach);
  if (f.projectId !== undefined) query = query.where('volumes.project_id', '=', f.projectId);
  if (f.status !== undefined) query = query.where('volumes.status', '=', f.status);
  return query;
}

export async function listVolumes(q: Q, reach: Reach, f: VolumeFilters, page: number, pageSize: number): Promise<{ count: number; rows: VolumeRow[] }> {
  const bound = countBoundOf(page, pageSize);
  const rows = await filtered(q, reach, f)
    .select([...VOLUME_COLUMNS, 'owner.username as owner'])
    .select(boundedCount(q, filtered(q, reach, f), bound).as('total'))
    .orderBy('volumes.created_at', 'desc')
    .orderBy('volumes.openstack_id')
    .limit(pageSize)
    .offset((page - 1) * pageSize)
    .execute();
  const count = await countOfPage(rows, page, pageSize, async () => Number((await boundedCount(q, filtered(q, reach, f), bound).executeTakeFirstOrThrow()).n));
  // Without `total`: it is the list's count, not the volume's.
  return { count, rows: rows.map(({ total: _total, ...volume }) => volume) };
}

/** A volume within reach; `lockFor: 'postgres'` locks its row for the transaction (see findVm). */
export function findVolume(q: Q, reach: Reach, id: string, lockFor?: Dialect): Promise<VolumeRow | undefined> {
  const query = reachable(q, reach).select([...VOLUME_COLUMNS, 'owner.username as owner']).where('volumes.openstack_id', '=', id);
  return (lockFor === 'postgres' ? query.forUpdate(['volumes']) : query).executeTakeFirst();
}

export async function isVolumeReachable(q: Q, reach: Reach, id: string): Promise<boolean> {
  return (await reachable(q, reach).select('volumes.openstack_id').where('volumes.openstack_id', '=', id).executeTakeFirst()) !== undefined;
}

export async function insertVolume(trx: Transaction<Database>, v: Volume): Promise<void> {
  await trx.insertInto('volumes').values(v).execute();
}

/** Sets the in-flight status; `storage` reserves an extension's new size against the quota at once. */
export async function setVolumeStatus(trx: Transaction<Database>, id: string, status: string, nowIso: string, storage?: number): Promise<void> {
  await trx.updateTable('volumes').set({ status, updated_at: nowIso, ...(storage !== undefined ? { storage } : {}) }).where('openstack_id', '=', id).execute();
}

/** Writes the state a transition ends the volume in. */
export async function setVolumeEndState(
  trx: Transaction<Database>,
  id: string,
  state: { status: string; attached_to?: string | null; device?: string | null; storage?: number },
  nowIso: string,
): Promise<void> {
  await trx.updateTable('volumes').set({ ...state, updated_at: nowIso }).where('openstack_id', '=', id).execute();
}

/** Removes a volume that the cloud no longer has (the end of a delete). */
export async function deleteVolumeRow(trx: Transaction<Database>, id: string): Promise<void> {
  await trx.deleteFrom('volumes').where('openstack_id', '=', id).execute();
}
