// SQL for VMs. The caller's reach is part of every query (STYLE §3).
import { type Kysely, type SqlBool, type Transaction, sql } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import type { Dialect } from '../../db/index.js';
import { totalFromPage } from '../../db/paging.js';
import { memoizedRead, preparedVariants } from '../../db/prepared.js';
import { objectReach, reachFrom, reachVariant } from '../../db/reach.js';
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

function filtered(q: Q, reach: Reach, f: VmFilters, pattern: string | null) {
  let query = reachable(q, reach);
  if (f.projectId !== undefined) query = query.where('vms.project_id', '=', f.projectId);
  query = f.status !== undefined ? query.where('vms.status', '=', f.status) : query.where('vms.status', '!=', 'DELETED');
  // `escape` so that % and _ in the search text match themselves.
  if (pattern !== null) query = query.where(sql<SqlBool>`lower(vms.name) like ${pattern} escape '\\'`);
  return query;
}

/** Which filters apply, as a prepared query's variant; the values travel as its arguments. */
function listVariant(reach: Reach, f: VmFilters): string {
  return `${reachVariant(reach)}${f.projectId !== undefined ? 1 : 0}${f.status !== undefined ? 1 : 0}${f.text ? 1 : 0}`;
}

type ListArgs = [userId: number, reachProject: number, projectId: number, status: string, pattern: string];

function listFrom(q: Q, variant: string, ...[userId, reachProject, projectId, status, pattern]: ListArgs) {
  const f: VmFilters = { projectId: variant[3] === '1' ? projectId : undefined, status: variant[4] === '1' ? status : undefined };
  return filtered(q, reachFrom(variant, userId, reachProject), f, variant[5] === '1' ? pattern : null);
}

const countVms = preparedVariants((q: Q, variant: string, ...args: ListArgs) =>
  listFrom(q, variant, ...args).select((eb) => eb.fn.countAll<number>().as('n')));

const pageOfVms = preparedVariants((q: Q, variant: string, ...args: [...ListArgs, limit: number, offset: number]) =>
  listFrom(q, variant, ...(args.slice(0, 5) as ListArgs))
    .select([...VM_COLUMNS, 'owner.username as owner'])
    .orderBy('vms.created_at', 'desc')
    .orderBy('vms.openstack_id')
    .limit(args[5])
    .offset(args[6]));

export async function listVms(q: Q, reach: Reach, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; rows: VmRow[] }> {
  const variant = listVariant(reach, f);
  const pattern = f.text ? `%${f.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : '';
  const args: ListArgs = [reach.userId, reach.projectId ?? 0, f.projectId ?? 0, f.status ?? '', pattern];
  // Counting apart is cheaper than a window count, which makes SQLite gather and sort every row;
  // and it is needed only when the page is full (or past the end).
  const { rows } = await pageOfVms(q, variant, ...args, pageSize, (page - 1) * pageSize);
  const count = totalFromPage(rows.length, page, pageSize) ?? Number((await countVms(q, variant, ...args)).rows[0]?.n ?? 0);
  return { count, rows };
}

const vmById = preparedVariants((q: Q, variant: string, userId: number, reachProject: number, id: string) => {
  const query = reachable(q, reachFrom(variant, userId, reachProject)).select([...VM_COLUMNS, 'owner.username as owner']).where('vms.openstack_id', '=', id);
  return variant.endsWith('L') ? query.forUpdate(['vms']) : query;
}, { memo: true });

/**
 * A VM within reach. With `lockFor: 'postgres'` (inside a transaction that changes it), the row is
 * locked until the transaction ends, so concurrent actions on one VM are judged one after another;
 * SQLite runs one transaction at a time anyway.
 */
export async function findVm(q: Q, reach: Reach, id: string, lockFor?: Dialect): Promise<VmRow | undefined> {
  const variant = `${reachVariant(reach)}${lockFor === 'postgres' ? 'L' : ''}`;
  return (await vmById(q, variant, reach.userId, reach.projectId ?? 0, id)).rows[0];
}

export async function isVmReachable(q: Q, reach: Reach, id: string): Promise<boolean> {
  return (await findVm(q, reach, id)) !== undefined;
}

const volumesOf = preparedVariants((q: Q, variant: string, ...ids: string[]) =>
  q.selectFrom('volumes').select(['openstack_id', 'attached_to']).where('attached_to', 'in', ids.slice(0, Number(variant))).orderBy('openstack_id'));

export async function attachedVolumes(q: Q, vmIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  if (vmIds.length === 0) return map;
  const rows = (await volumesOf(q, String(vmIds.length), ...vmIds)).rows;
  for (const r of rows) if (r.attached_to) map.set(r.attached_to, [...(map.get(r.attached_to) ?? []), r.openstack_id]);
  return map;
}

/** A VM as the API shows it: without its owner's id and size, with its attached volumes. */
export type VmView = Omit<VmRow, 'owner_id' | 'vcpus' | 'ram_gb'> & { volumes: string[] };

async function withVolumes(q: Q, rows: VmRow[]): Promise<VmView[]> {
  const volumes = await attachedVolumes(q, rows.map((r) => r.openstack_id));
  // Written out (not `...rest`): one object shape for every VM, which keeps serializing a page fast.
  return rows.map((vm) => ({
    openstack_id: vm.openstack_id, name: vm.name, project_id: vm.project_id, owner: vm.owner, image_name: vm.image_name,
    flavor_name: vm.flavor_name, status: vm.status, task_state: vm.task_state, fixed_ip: vm.fixed_ip, fault: vm.fault,
    volumes: volumes.get(vm.openstack_id) ?? [], created_at: vm.created_at, updated_at: vm.updated_at,
  }));
}

// The reads behind GET /vms/ and GET /vms/{id}/, each kept whole while the database is unchanged
// (memoizedRead): the reach travels as its variant and values, like a prepared query's arguments.
const vmPage = memoizedRead(async (q, variant: string, userId: number, reachProject: number, projectId: number | null, status: string | null, text: string | null, page: number, pageSize: number) => {
  const filters: VmFilters = { projectId: projectId ?? undefined, status: status ?? undefined, text: text ?? undefined };
  const { count, rows } = await listVms(q, reachFrom(variant, userId, reachProject), filters, page, pageSize);
  return { count, results: await withVolumes(q, rows) };
});

const vmView = memoizedRead(async (q, variant: string, userId: number, reachProject: number, id: string) => {
  const vm = await findVm(q, reachFrom(variant, userId, reachProject), id);
  return vm ? (await withVolumes(q, [vm]))[0] : null;
});

export function listVmViews(q: Kysely<Database>, reach: Reach, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; results: VmView[] }> {
  return vmPage(q, reachVariant(reach), reach.userId, reach.projectId ?? 0, f.projectId ?? null, f.status ?? null, f.text ?? null, page, pageSize);
}

export function findVmView(q: Kysely<Database>, reach: Reach, id: string): Promise<VmView | null> {
  return vmView(q, reachVariant(reach), reach.userId, reach.projectId ?? 0, id);
}

export async function insertVm(trx: Transaction<Database>, vm: Vm): Promise<void> {
  await trx.insertInto('vms').values(vm).execute();
}

export async function setVmState(trx: Transaction<Database>, id: string, state: { status: string; task_state: string | null }, nowIso: string): Promise<void> {
  await trx.updateTable('vms').set({ ...state, updated_at: nowIso }).where('openstack_id', '=', id).execute();
}
