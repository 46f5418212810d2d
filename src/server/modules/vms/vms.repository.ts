// SQL for VMs. The caller's reach is part of every query (STYLE §3).
import { type Insertable, type Kysely, PostgresAdapter, type RawBuilder, type SqlBool, type Transaction, sql } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import type { Dialect } from '../../db/index.js';
import { boundedCount, countBoundOf, countOfPage } from '../../db/paging.js';
import { preparedShapes } from '../../db/prepared.js';
import { memoizedRead } from '../../db/read-cache.js';
import { type ReachShape, objectReach, reachShape, reachWith } from '../../db/reach.js';
import type { Database, Vm, VmsTable } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const VM_COLUMNS = [
  'vms.openstack_id', 'vms.name', 'vms.project_id', 'vms.owner_id', 'vms.image_name', 'vms.flavor_name', 'vms.vcpus', 'vms.ram_gb',
  'vms.status', 'vms.task_state', 'vms.fixed_ip', 'vms.fault', 'vms.created_at', 'vms.updated_at',
  'vms.ssh_keys', 'vms.resenv_template', 'vms.resenv_user_path',
  'vms.conda_packages', 'vms.setup_state', 'vms.setup_updated_at', 'vms.setup_exit_code', 'vms.active_at',
] as const;

/** What a VM row says of its first-boot setup (spec §10; vms.setup.ts reads it). */
export interface SetupRecord {
  setup_state: string | null;
  setup_updated_at: string | null;
  setup_exit_code: number | null;
  active_at: string | null;
}

/** A VM with its owner's name and its image's login user (null: the image does not say, or is a snapshot); without its setup's token and log. */
export type VmRow = Omit<Vm, 'setup_token_digest' | 'setup_log'> & { owner: string; default_user: string | null };

export interface VmFilters {
  projectId?: number;
  status?: string;
  /** Name or openstack_id contains (case-insensitive). */
  text?: string;
  /** The owner's username, exactly. */
  owner?: string;
  /** The VM's openstack_id, exactly. */
  openstackId?: string;
}

function reachable(q: Q, reach: Reach) {
  return q
    .selectFrom('vms')
    .innerJoin('users as owner', 'owner.id', 'vms.owner_id')
    .leftJoin('images', 'images.name', 'vms.image_name')
    .where(objectReach('vms', reach));
}

const VM_SELECTION = [...VM_COLUMNS, 'owner.username as owner', 'images.default_user as default_user'] as const;

function filtered(q: Q, reach: Reach, f: VmFilters, pattern: string | null) {
  let query = reachable(q, reach);
  if (f.projectId !== undefined) query = query.where('vms.project_id', '=', f.projectId);
  query = f.status !== undefined ? query.where('vms.status', '=', f.status) : query.where('vms.status', '!=', 'DELETED');
  // The owner's name is unique (users' index), so this narrows by one owner_id (vms_owner_idx).
  if (f.owner !== undefined) query = query.where('owner.username', '=', f.owner);
  if (f.openstackId !== undefined) query = query.where('vms.openstack_id', '=', f.openstackId);
  // `escape` so that % and _ in the search text match themselves. SimpleVM's search matches the id
  // too (spec §8), which scripts use to find a VM by part of its id.
  if (pattern !== null) {
    query = query.where(sql<SqlBool>`(lower(vms.name) like ${pattern} escape '\\' or lower(vms.openstack_id) like ${pattern} escape '\\')`);
  }
  return query;
}

/** Which filters a list applies, as its prepared query's shape; the values travel as its arguments. */
interface ListShape extends ReachShape {
  readonly project: boolean;
  readonly status: boolean;
  readonly text: boolean;
  readonly owner: boolean;
  readonly id: boolean;
}

type ListArgs = [userId: number, reachProject: number, projectId: number, status: string, pattern: string, owner: string, openstackId: string];
const LIST_ARGS = 7;

function listFrom(q: Q, shape: ListShape, ...[userId, reachProject, projectId, status, pattern, owner, openstackId]: ListArgs) {
  const f: VmFilters = {
    projectId: shape.project ? projectId : undefined,
    status: shape.status ? status : undefined,
    owner: shape.owner ? owner : undefined,
    openstackId: shape.id ? openstackId : undefined,
  };
  return filtered(q, reachWith(shape, userId, reachProject), f, shape.text ? pattern : null);
}

/** The list's matches counted up to `bound` (db/paging.ts). */
function countedUpTo(q: Q, shape: ListShape, listArgs: ListArgs, bound: number) {
  return boundedCount(q, listFrom(q, shape, ...listArgs), bound);
}

const countVms = preparedShapes((q: Q, shape: ListShape, ...args: [...ListArgs, bound: number]) =>
  countedUpTo(q, shape, args.slice(0, LIST_ARGS) as ListArgs, args[LIST_ARGS] as number));

/**
 * The ids of the volumes attached to the row's VM, sorted, as one value of the row: a JSON array
 * (parsed by pg on PostgreSQL, text on SQLite; idsOf reads both). One statement for a VM or a page
 * of them with their volumes, rather than a second round trip.
 */
function attachedIds(q: Q): RawBuilder<string[] | string> {
  return q.getExecutor().adapter instanceof PostgresAdapter
    ? sql<string[]>`coalesce((select json_agg(av.openstack_id order by av.openstack_id) from volumes av where av.attached_to = vms.openstack_id), '[]'::json)`
    : sql<string>`(select json_group_array(openstack_id) from (select av.openstack_id from volumes av where av.attached_to = vms.openstack_id order by av.openstack_id))`;
}

const idsOf = (value: string[] | string): string[] => (typeof value === 'string' ? (JSON.parse(value) as string[]) : value);

/** A page of VMs with their volumes and the list's bounded count (db/paging.ts), in one statement. */
const pageOfVms = preparedShapes((q: Q, shape: ListShape, ...args: [...ListArgs, limit: number, offset: number, bound: number]) => {
  const [limit, offset, bound] = args.slice(LIST_ARGS) as [number, number, number];
  const listArgs = args.slice(0, LIST_ARGS) as ListArgs;
  return listFrom(q, shape, ...listArgs)
    .select(VM_SELECTION)
    .select(attachedIds(q).as('volume_ids'))
    .select(countedUpTo(q, shape, listArgs, bound).as('total'))
    .orderBy('vms.created_at', 'desc')
    .orderBy('vms.openstack_id')
    .limit(limit)
    .offset(offset);
});

/** A filter given as an empty string filters nothing (as SimpleVM's django-filter does with `?owner=`). */
const given = (value: string | undefined): value is string => value !== undefined && value !== '';

export async function listVms(q: Q, reach: Reach, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; rows: VmViewRow[] }> {
  const shape: ListShape = {
    ...reachShape(reach), project: f.projectId !== undefined, status: f.status !== undefined, text: given(f.text), owner: given(f.owner), id: given(f.openstackId),
  };
  const pattern = given(f.text) ? `%${f.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : '';
  const args: ListArgs = [reach.userId, reach.projectId ?? 0, f.projectId ?? 0, f.status ?? '', pattern, f.owner ?? '', f.openstackId ?? ''];
  // The page, its volumes and the bounded count come in one statement; only a page past the end
  // (no row to carry the count) counts apart. A window count would make SQLite gather and sort every row.
  const bound = countBoundOf(page, pageSize);
  const { rows } = await pageOfVms(q, shape, ...args, pageSize, (page - 1) * pageSize, bound);
  const count = await countOfPage(rows, page, pageSize, async () => Number((await countVms(q, shape, ...args, bound)).rows[0]?.n ?? 0));
  return { count, rows };
}

/** A VM read by id; `locked`: FOR UPDATE (PostgreSQL). */
interface ByIdShape extends ReachShape {
  readonly locked: boolean;
}

const vmById = preparedShapes((q: Q, shape: ByIdShape, userId: number, reachProject: number, id: string) => {
  const query = reachable(q, reachWith(shape, userId, reachProject)).select(VM_SELECTION).where('vms.openstack_id', '=', id);
  return shape.locked ? query.forUpdate(['vms']) : query;
}, { memo: true });

/**
 * A VM within reach. With `lockFor: 'postgres'` (inside a transaction that changes it), the row is
 * locked until the transaction ends, so concurrent actions on one VM are judged one after another;
 * SQLite runs one transaction at a time anyway.
 */
export async function findVm(q: Q, reach: Reach, id: string, lockFor?: Dialect): Promise<VmRow | undefined> {
  const shape: ByIdShape = { ...reachShape(reach), locked: lockFor === 'postgres' };
  return (await vmById(q, shape, reach.userId, reach.projectId ?? 0, id)).rows[0];
}

/** A VM within reach with its volumes, in one statement (for showing it). */
const vmViewById = preparedShapes((q: Q, shape: ReachShape, userId: number, reachProject: number, id: string) =>
  reachable(q, reachWith(shape, userId, reachProject)).select(VM_SELECTION).select(attachedIds(q).as('volume_ids')).where('vms.openstack_id', '=', id));

export async function isVmReachable(q: Q, reach: Reach, id: string): Promise<boolean> {
  return (await findVm(q, reach, id)) !== undefined;
}

/**
 * A VM as the API shows it, but for `access` (which the service works out from the settings): without
 * its owner's id and size, with its attached volumes and its keys' fingerprints; with the login user
 * and the environment's path, which `access` is made of.
 */
export interface VmView {
  openstack_id: string;
  name: string;
  project_id: number;
  owner: string;
  image_name: string;
  flavor_name: string;
  status: string;
  task_state: string | null;
  fixed_ip: string | null;
  fault: string | null;
  volumes: string[];
  ssh_keys: string[];
  research_environment: string | null;
  resenv_user_path: string | null;
  login_user: string;
  conda_packages: { name: string; version: string | null }[];
  /** The setup as stored; the service says `unknown` when it is overdue. */
  setup_record: SetupRecord;
  created_at: string;
  updated_at: string;
}

/** The login user when the image names none (SimpleVM's images are Ubuntu). */
export const DEFAULT_LOGIN_USER = 'ubuntu';

/** A VM row with its attached volumes' ids (attachedIds). */
type VmViewRow = VmRow & { volume_ids: string[] | string };

function viewsOf(rows: VmViewRow[]): VmView[] {
  // Written out (not `...rest`): one object shape for every VM, which keeps serializing a page fast.
  return rows.map((vm) => ({
    openstack_id: vm.openstack_id, name: vm.name, project_id: vm.project_id, owner: vm.owner, image_name: vm.image_name,
    flavor_name: vm.flavor_name, status: vm.status, task_state: vm.task_state, fixed_ip: vm.fixed_ip, fault: vm.fault,
    volumes: idsOf(vm.volume_ids), ssh_keys: JSON.parse(vm.ssh_keys) as string[],
    research_environment: vm.resenv_template, resenv_user_path: vm.resenv_user_path, login_user: vm.default_user ?? DEFAULT_LOGIN_USER,
    conda_packages: JSON.parse(vm.conda_packages) as VmView['conda_packages'],
    setup_record: { setup_state: vm.setup_state, setup_updated_at: vm.setup_updated_at, setup_exit_code: vm.setup_exit_code, active_at: vm.active_at },
    created_at: vm.created_at, updated_at: vm.updated_at,
  }));
}

// The reads behind GET /vms/ and GET /vms/{id}/, each kept whole while the database is unchanged
// (memoizedRead): the reach travels as its values, like a prepared query's arguments.
type ReachArgs = [userId: number, superuser: number, ownOnly: number, reachProject: number | null];
const reachArgs = (r: Reach): ReachArgs => [r.userId, r.superuser ? 1 : 0, r.ownOnly ? 1 : 0, r.projectId];
const reachOfArgs = (...[userId, superuser, ownOnly, projectId]: ReachArgs): Reach => ({ userId, superuser: superuser === 1, ownOnly: ownOnly === 1, projectId });

const vmPage = memoizedRead(async (
  q, userId: number, superuser: number, ownOnly: number, reachProject: number | null,
  projectId: number | null, status: string | null, text: string | null, owner: string | null, openstackId: string | null, page: number, pageSize: number,
) => {
  const filters: VmFilters = { projectId: projectId ?? undefined, status: status ?? undefined, text: text ?? undefined, owner: owner ?? undefined, openstackId: openstackId ?? undefined };
  const { count, rows } = await listVms(q, reachOfArgs(userId, superuser, ownOnly, reachProject), filters, page, pageSize);
  return { count, results: viewsOf(rows) };
});

const vmView = memoizedRead(async (q, userId: number, superuser: number, ownOnly: number, reachProject: number | null, id: string) => {
  const reach = reachOfArgs(userId, superuser, ownOnly, reachProject);
  const row = (await vmViewById(q, reachShape(reach), userId, reachProject ?? 0, id)).rows[0];
  return row ? viewsOf([row])[0] : null;
});

export function listVmViews(q: Kysely<Database>, reach: Reach, f: VmFilters, page: number, pageSize: number): Promise<{ count: number; results: VmView[] }> {
  return vmPage(q, ...reachArgs(reach), f.projectId ?? null, f.status ?? null, f.text ?? null, f.owner ?? null, f.openstackId ?? null, page, pageSize);
}

export function findVmView(q: Kysely<Database>, reach: Reach, id: string): Promise<VmView | null> {
  return vmView(q, ...reachArgs(reach), id);
}

export async function insertVm(trx: Transaction<Database>, vm: Insertable<VmsTable>): Promise<void> {
  await trx.insertInto('vms').values(vm).execute();
}

/** The login user of an image of the catalogue; null for one that names none, or a snapshot. */
export async function imageLoginUser(q: Q, imageName: string): Promise<string | null> {
  return (await q.selectFrom('images').select('default_user').where('name', '=', imageName).executeTakeFirst())?.default_user ?? null;
}

/**
 * Reserves the volumes a new VM is to get (spec §8 `volumes`): each must be within the caller's
 * reach, of the VM's project and `available`; it shows `attaching` until the VM is ACTIVE and its
 * attach is done (or the VM failed, and it is `available` again: releaseLaunchVolumes).
 * Returns the ids that are not fit, for the error.
 */
export async function reserveLaunchVolumes(trx: Transaction<Database>, reach: Reach, projectId: number, ids: string[], nowIso: string): Promise<string[]> {
  const unfit: string[] = [];
  const pg = trx.getExecutor().adapter instanceof PostgresAdapter;
  for (const id of ids) {
    const query = trx.selectFrom('volumes').select(['status', 'project_id']).where('openstack_id', '=', id).where(objectReach('volumes', reach));
    const v = await (pg ? query.forUpdate() : query).executeTakeFirst();
    if (!v || v.project_id !== projectId || v.status !== 'available') {
      unfit.push(id);
      continue;
    }
    await trx.updateTable('volumes').set({ status: 'attaching', updated_at: nowIso }).where('openstack_id', '=', id).execute();
  }
  return unfit;
}

/** Gives back volumes reserved for a VM that will not get them (it failed): `attaching` with no change in flight → `available`. */
export async function releaseLaunchVolumes(trx: Transaction<Database>, ids: string[], nowIso: string): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable('volumes')
    .set({ status: 'available', updated_at: nowIso })
    .where('openstack_id', 'in', ids)
    .where('status', '=', 'attaching')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('transitions').select('id').where('transitions.object_type', '=', 'volume').whereRef('transitions.object_id', '=', 'volumes.openstack_id'))))
    .execute();
}

/** The user ids whose public SSH keys go into a new VM: its creator, and with member_access every member of the project. */
export async function keyHolders(q: Q, creatorId: number, projectId: number, memberAccess: boolean): Promise<number[]> {
  if (!memberAccess) return [creatorId];
  const members = await q.selectFrom('memberships').select('user_id').where('project_id', '=', projectId).orderBy('user_id').execute();
  return [creatorId, ...members.map((m) => m.user_id).filter((id) => id !== creatorId)];
}

/** Sets the VM's state: in flight (a task_state), or its end state (task_state null, with its address or fault). */
export async function setVmState(
  trx: Transaction<Database>,
  id: string,
  state: { status: string; task_state: string | null; fixed_ip?: string | null; fault?: string | null },
  nowIso: string,
): Promise<void> {
  await trx.updateTable('vms').set({ ...state, updated_at: nowIso }).where('openstack_id', '=', id).execute();
}

/** Notes when the VM first became ACTIVE: its setup has SIMPLEVM_SETUP_TIMEOUT_S from then to report. */
export async function markActiveOnce(trx: Transaction<Database>, id: string, nowIso: string): Promise<void> {
  await trx.updateTable('vms').set({ active_at: nowIso }).where('openstack_id', '=', id).where('active_at', 'is', null).execute();
}

/**
 * The status of a VM, its row locked until the transaction ends (on PostgreSQL; SQLite runs one
 * transaction at a time), for a volume transition that ends attached to it. Without reach: the
 * worker finishes what a request within reach started.
 */
export async function lockVmStatus(trx: Transaction<Database>, id: string): Promise<{ status: string } | undefined> {
  // The worker has no dialect at hand: the transaction's adapter tells.
  const pg = trx.getExecutor().adapter instanceof PostgresAdapter;
  const query = trx.selectFrom('vms').select('status').where('openstack_id', '=', id);
  return (pg ? query.forUpdate() : query).executeTakeFirst();
}

/**
 * Frees the volumes attached to a VM that is now deleted. One with a change of its own in flight
 * (an extend, a detach) is not `in-use` and is left to that transition, which ends it detached.
 * (Here rather than in volumes' repository: volumes depend on VMs, not the other way round.)
 */
export async function freeVolumesOf(trx: Transaction<Database>, vmId: string, nowIso: string): Promise<void> {
  await trx
    .updateTable('volumes')
    .set({ status: 'available', attached_to: null, device: null, updated_at: nowIso })
    .where('attached_to', '=', vmId)
    .where('status', '=', 'in-use')
    .execute();
}
