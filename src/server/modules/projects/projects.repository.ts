// SQL for projects, their members, quota and usage.
import { type Kysely, type Transaction, sql } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import type { Dialect } from '../../db/index.js';
import { projectReach } from '../../db/reach.js';
import type { Database, Project } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const PROJECT_COLUMNS = [
  'projects.id', 'projects.name', 'projects.description', 'projects.quota_vms', 'projects.quota_cores', 'projects.quota_ram_gb',
  'projects.quota_volumes', 'projects.quota_volume_gb', 'projects.created_at',
] as const;

export type ProjectWithRole = Project & { role: 'admin' | 'member' | null };

function withRole(q: Q, reach: Reach) {
  return q
    .selectFrom('projects')
    .leftJoin('memberships as mine', (j) => j.onRef('mine.project_id', '=', 'projects.id').on('mine.user_id', '=', reach.userId))
    .select([...PROJECT_COLUMNS, 'mine.role as role'])
    .where(projectReach(reach));
}

export function listProjects(q: Q, reach: Reach): Promise<ProjectWithRole[]> {
  return withRole(q, reach).orderBy('projects.name').execute() as Promise<ProjectWithRole[]>;
}

export function findProject(q: Q, reach: Reach, id: number): Promise<ProjectWithRole | undefined> {
  return withRole(q, reach).where('projects.id', '=', id).executeTakeFirst() as Promise<ProjectWithRole | undefined>;
}

export async function isProjectReachable(q: Q, reach: Reach, id: number): Promise<boolean> {
  const r = await q.selectFrom('projects').select('projects.id').where('projects.id', '=', id).where(projectReach(reach)).executeTakeFirst();
  return r !== undefined;
}

/**
 * Locks the project row for the rest of the transaction, so that concurrent creates in one
 * project are checked against the quota one after another. SQLite needs no lock: its single
 * connection runs one transaction at a time.
 */
export async function lockProject(trx: Transaction<Database>, dialect: Dialect, id: number): Promise<Project | undefined> {
  let query = trx.selectFrom('projects').select(PROJECT_COLUMNS).where('projects.id', '=', id);
  if (dialect === 'postgres') query = query.forUpdate();
  return query.executeTakeFirst();
}

export interface Usage {
  vms: number;
  cores: number;
  ram_gb: number;
  volumes: number;
  volume_gb: number;
}

export async function projectUsage(q: Q, id: number): Promise<Usage> {
  const vms = await q
    .selectFrom('vms')
    .select([
      sql<number>`count(*)`.as('n'),
      sql<number>`coalesce(sum(vcpus), 0)`.as('cores'),
      sql<number>`coalesce(sum(ram_gb), 0)`.as('ram'),
    ])
    .where('project_id', '=', id)
    .where('status', '!=', 'DELETED')
    .executeTakeFirstOrThrow();
  const volumes = await q
    .selectFrom('volumes')
    .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(sum(storage), 0)`.as('gb')])
    .where('project_id', '=', id)
    .executeTakeFirstOrThrow();
  return { vms: Number(vms.n), cores: Number(vms.cores), ram_gb: Number(vms.ram), volumes: Number(volumes.n), volume_gb: Number(volumes.gb) };
}

export function listMembers(q: Q, projectId: number) {
  return q
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.username', 'm.role'])
    .where('m.project_id', '=', projectId)
    .orderBy('u.username')
    .execute();
}

export async function insertProject(
  q: Q,
  p: { name: string; description?: string; quota: { vms: number; cores: number; ram_gb: number; volumes: number; volume_gb: number }; createdAt: string },
): Promise<{ id: number; name: string }> {
  return q
    .insertInto('projects')
    .values({
      name: p.name, description: p.description ?? '', quota_vms: p.quota.vms, quota_cores: p.quota.cores, quota_ram_gb: p.quota.ram_gb,
      quota_volumes: p.quota.volumes, quota_volume_gb: p.quota.volume_gb, created_at: p.createdAt,
    })
    .returning(['id', 'name'])
    .executeTakeFirstOrThrow();
}

export function findProjectByIdOrName(q: Q, idOrName: string): Promise<{ id: number; name: string } | undefined> {
  const query = q.selectFrom('projects').select(['id', 'name']);
  return /^\d+$/.test(idOrName) && Number(idOrName) <= 2_147_483_647
    ? query.where((eb) => eb.or([eb('id', '=', Number(idOrName)), eb('name', '=', idOrName)])).orderBy('id').executeTakeFirst()
    : query.where('name', '=', idOrName).executeTakeFirst();
}

export async function upsertMembership(q: Q, projectId: number, userId: number, role: 'admin' | 'member'): Promise<void> {
  const r = await q.updateTable('memberships').set({ role }).where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) await q.insertInto('memberships').values({ project_id: projectId, user_id: userId, role }).execute();
}

/** A user's role in a project; undefined when they are not a member. */
export async function findMemberRole(q: Q, projectId: number, userId: number): Promise<'admin' | 'member' | undefined> {
  const r = await q.selectFrom('memberships').select('role').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return r?.role;
}

export async function deleteMembership(q: Q, projectId: number, userId: number): Promise<boolean> {
  const r = await q.deleteFrom('memberships').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function countAdmins(q: Q, projectId: number): Promise<number> {
  const r = await q
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .where('role', '=', 'admin')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
