// SQL for VMs. The caller's reach is part of every query (STYLE §3).
import { type Kysely, type SqlBool, type Transaction, sql } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import { objectReach } from '../../db/reach.js';
import type { Database, Vm } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const VM_COLUMNS = [
  'vms.openstack_id', 'vms.name', 'vms.project_id', 'vms.owner_id', 'vms.image_name', 'vms.flavor_name', 'vms.vcpus', 'vms.ram_gb',
  'vms.status', 'vms.task_state', 'vms.fixed_ip', 'vms.fault', 'vms.created_at', 'vms.updated_at',
] as const;

export type VmRow = Vm & { owner: string };

export interface VmFilters {
  projectId?: number;
  status?: string;
  text?: string;
}

function reachable(q: Q, reach: Reach) {
  return q.selectFrom('vms').innerJoin('users as owner', 'owner.id', 'vms.owner_id').where(objectReach('vms', reach));
}

function filtered(q: Q, reach: Reach, f: VmFilters) {
  let query = reachable(q, reach);
  if (f.projectId !== undefined) query = query.where('vms.project_id', '=', f.projectId);
  query = f.status !== undefined ? query.where('vms.status', '=', f.status) : query.where('vms.status', '!=', 'DELETED');
  if (f.text) {
    const pattern = `%${f.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    // `escape` so that % and _ in the search text match themselves.
    query = query.where(sql<SqlBool>`lower(vms.name) like ${pattern} escape '\\'`);
  }
  return query;
}

export async function listVms(q: Q, reach: Reach, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; rows: VmRow[] }> {
  const c = await filtered(q, reach, f).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await filtered(q, reach, f)
    .select([...VM_COLUMNS, 'owner.username as owner'])
    .orderBy('vms.created_at', 'desc')
    .orderBy('vms.openstack_id')
    .limit(pageSize)
    .offset((page - 1) * pageSize)
    .execute();
  return { count: Number(c.n), rows };
}

export function findVm(q: Q, reach: Reach, id: string): Promise<VmRow | undefined> {
  return reachable(q, reach).select([...VM_COLUMNS, 'owner.username as owner']).where('vms.openstack_id', '=', id).executeTakeFirst();
}

export async function isVmReachable(q: Q, reach: Reach, id: string): Promise<boolean> {
  return (await reachable(q, reach).select('vms.openstack_id').where('vms.openstack_id', '=', id).executeTakeFirst()) !== undefined;
}

export async function attachedVolumes(q: Q, vmIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  if (vmIds.length === 0) return map;
  const rows = await q.selectFrom('volumes').select(['openstack_id', 'attached_to']).where('attached_to', 'in', vmIds).orderBy('openstack_id').execute();
  for (const r of rows) if (r.attached_to) map.set(r.attached_to, [...(map.get(r.attached_to) ?? []), r.openstack_id]);
  return map;
}

export async function insertVm(trx: Transaction<Database>, vm: Vm): Promise<void> {
  await trx.insertInto('vms').values(vm).execute();
}

export async function setVmState(trx: Transaction<Database>, id: string, state: { status: string; task_state: string | null }, nowIso: string): Promise<void> {
  await trx.updateTable('vms').set({ ...state, updated_at: nowIso }).where('openstack_id', '=', id).execute();
}
