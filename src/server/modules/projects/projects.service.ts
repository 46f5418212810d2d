// Projects as the caller sees them: role, quota and usage; the flavors and images to start VMs from;
// their members, whom the project's admins manage.
import type { Transaction } from 'kysely';
import { mayManageMembers, reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import { type Queryable, inTransaction, keyChangesSettled } from '../../db/transaction.js';
import type { Database } from '../../db/types.js';
import { AppError, invalid, isUniqueViolation, notFound } from '../../errors.js';
import { auditedTransaction, writeAudit } from '../audit/audit.service.js';
import { listFlavors, listImages } from '../catalog/catalog.repository.js';
import { resenvTemplateOfImage } from '../resenv/resenv.catalogue.js';
import { listSnapshots } from '../snapshots/snapshots.repository.js';
import { findUserByName } from '../users/users.repository.js';
import { DEFAULT_QUOTA, type Quota } from '../../../shared/contract.js';
import {
  countAdmins, deleteMembership, findMemberRole, findProject, findProjectByIdOrName, insertProject, listMembers, listProjects, lockProject, projectUsage,
  upsertMembership,
} from './projects.repository.js';

export async function listProjectsFor(ctx: AppContext, p: Principal) {
  const rows = await listProjects(ctx.db.kysely, reachOf(p));
  return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, role: r.role ?? null }));
}

async function reachableProject(ctx: AppContext, p: Principal, id: number) {
  const project = await findProject(ctx.db.kysely, reachOf(p), id);
  if (!project) throw notFound('No such project.');
  return project;
}

export async function getProject(ctx: AppContext, p: Principal, id: number) {
  const project = await reachableProject(ctx, p, id);
  const [usage, members] = await Promise.all([projectUsage(ctx.db.kysely, id), listMembers(ctx.db.kysely, id)]);
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    role: project.role ?? null,
    quota: {
      vms: project.quota_vms, cores: project.quota_cores, ram_gb: project.quota_ram_gb, volumes: project.quota_volumes, volume_gb: project.quota_volume_gb,
    },
    usage,
    members,
  };
}

export async function projectFlavors(ctx: AppContext, p: Principal, id: number) {
  await reachableProject(ctx, p, id);
  return listFlavors(ctx.db.kysely);
}

export async function projectImages(ctx: AppContext, p: Principal, id: number) {
  await reachableProject(ctx, p, id);
  const [images, snapshots] = await Promise.all([listImages(ctx.db.kysely), listSnapshots(ctx.db.kysely, reachOf(p), id)]);
  return [
    ...images.map((i) => ({ name: i.name, tags: i.tags, resenv_template_name: resenvTemplateOfImage(ctx.config, i.tags) })),
    ...snapshots.filter((s) => s.status === 'active').map((s) => ({ name: s.name, tags: ['snapshot'], resenv_template_name: null })),
  ];
}

export async function projectSnapshots(ctx: AppContext, p: Principal, id: number) {
  await reachableProject(ctx, p, id);
  return listSnapshots(ctx.db.kysely, reachOf(p), id);
}

// Members (spec §6): everyone who reaches a project sees its members; its admins and superusers
// add them, set their roles and remove them. The project's row is locked first, so that two
// concurrent changes are judged one after the other (two admins demoting each other cannot leave
// the project without one).

export type ProjectRole = 'admin' | 'member';

export async function listProjectMembers(ctx: AppContext, p: Principal, id: number): Promise<{ username: string; role: ProjectRole }[]> {
  await reachableProject(ctx, p, id);
  return listMembers(ctx.db.kysely, id);
}

/** Locks the project and checks the caller may manage its members: 404 out of reach, 403 for a member who is not its admin. */
async function projectToManage(ctx: AppContext, trx: Transaction<Database>, p: Principal, id: number): Promise<void> {
  await lockProject(trx, ctx.db.dialect, id);
  const project = await findProject(trx, reachOf(p), id);
  if (!project) throw notFound('No such project.');
  if (!mayManageMembers(p.user, project.role)) throw new AppError('permission_denied', 'Only the project\'s admins and superusers manage its members.');
}

/**
 * A project that has an admin keeps one: removing or demoting its last admin is 409 invalid_state,
 * whoever asks (make another member admin first). A project made without admins (the command
 * line's `project create`) is managed by superusers and may stay so.
 */
async function assertNotLastAdmin(trx: Transaction<Database>, projectId: number, username: string): Promise<void> {
  if ((await countAdmins(trx, projectId)) <= 1) {
    throw new AppError('invalid_state', `${username} is the project's last admin: make another member admin first.`);
  }
}

/**
 * Adds a member, or sets an existing member's role (audit `project.member_add`, detail username and
 * role). An unknown user is 400 invalid on `username`. `added`: whether they were not a member before.
 */
export async function setProjectMember(
  ctx: AppContext, p: Principal, id: number, m: { username: string; role: ProjectRole },
): Promise<{ member: { username: string; role: ProjectRole }; added: boolean }> {
  const event = { action: 'project.member_add' as const, objectType: 'project', objectId: String(id), projectId: id, detail: { username: m.username, role: m.role } };
  const result = await auditedTransaction(ctx, p, event, async (trx, e) => {
    await projectToManage(ctx, trx, p, id);
    const user = await findUserByName(trx, m.username);
    if (!user) throw invalid('username', `There is no user "${m.username}".`);
    // The user sees in their own log that they were added, or that their role changed.
    e.subjectId = user.id;
    const was = await findMemberRole(trx, id, user.id);
    if (was === 'admin' && m.role === 'member') await assertNotLastAdmin(trx, id, user.username);
    await upsertMembership(trx, id, user.id, m.role);
    return { member: { username: user.username, role: m.role }, added: was === undefined };
  });
  await keyChangesSettled(ctx.db);
  return result;
}

/**
 * Removes a member (audit `project.member_remove`, detail username and the role they had); 404 for
 * a user who is not a member. What they created stays in the project, theirs, and out of their reach
 * (reach needs membership) until they are added again; the project's admins still reach it.
 */
export async function removeProjectMember(ctx: AppContext, p: Principal, id: number, username: string): Promise<void> {
  const event = { action: 'project.member_remove' as const, objectType: 'project', objectId: String(id), projectId: id, detail: { username } };
  await auditedTransaction(ctx, p, event, async (trx, e) => {
    await projectToManage(ctx, trx, p, id);
    const user = await findUserByName(trx, username);
    const role = user ? await findMemberRole(trx, id, user.id) : undefined;
    if (!user || !role) throw notFound(`${username} is not a member of this project.`);
    e.subjectId = user.id;
    e.detail = { username: user.username, role };
    if (role === 'admin') await assertNotLastAdmin(trx, id, user.username);
    await deleteMembership(trx, id, user.id);
  });
  await keyChangesSettled(ctx.db);
}

// Making projects and their members: the command line (`simplevm project create|add-member`), the
// first start (bootstrap.ts) and the API share these. Each takes the database or the caller's
// transaction (see inTransaction).

/** A new project; a quota the caller leaves out is the default of spec §1. `name` taken answers `conflict`. */
export async function createProject(q: Queryable, p: { name: string; description?: string; quota?: Partial<Quota> }): Promise<{ id: number; name: string }> {
  if (p.name.length < 1 || p.name.length > 150 || /[\u0000-\u001f\u007f]/.test(p.name)) throw invalid('name', 'A project name has 1–150 printable characters.');
  const quota = { ...DEFAULT_QUOTA, ...p.quota };
  for (const [resource, n] of Object.entries(quota)) {
    // The columns are 32-bit integers on PostgreSQL.
    if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) throw invalid(resource, 'A quota is a whole number from 0 to 2147483647.');
  }
  try {
    return await insertProject(q, { name: p.name, description: p.description, quota, createdAt: new Date().toISOString() });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `project "${p.name}" exists already`);
    throw err;
  }
}

/**
 * Makes a user a member or an admin of a project (an existing member's role changes). With `via:
 * 'cli'` (`simplevm project add-member`) it writes `project.member_add` in the same transaction, as
 * `user set --password-stdin` writes password.change: no actor (the command line's administrator
 * is no portal user) and `detail` `{username, role, via: "cli"}`; the user sees it in their log.
 * The first start (bootstrap.ts) records nothing: nobody acted.
 */
export async function addProjectMember(q: Queryable, m: { project: number | string; username: string; role: 'admin' | 'member' }, opts: { via?: 'cli' } = {}) {
  return inTransaction(q, async (trx) => {
    const project = await findProjectByIdOrName(trx, String(m.project));
    if (!project) throw notFound(`no project "${m.project}"`);
    const user = await findUserByName(trx, m.username);
    if (!user) throw notFound(`no user "${m.username}"`);
    await upsertMembership(trx, project.id, user.id, m.role);
    if (opts.via) {
      await writeAudit(trx, null, null, null, {
        action: 'project.member_add', objectType: 'project', objectId: String(project.id), projectId: project.id, subjectId: user.id,
        detail: { username: user.username, role: m.role, via: opts.via },
      });
    }
    return { project_id: project.id, project: project.name, username: user.username, role: m.role };
  });
}
