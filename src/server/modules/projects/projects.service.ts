// Projects as the caller sees them: role, quota and usage; the flavors and images to start VMs from.
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import { type Queryable, inTransaction } from '../../db/transaction.js';
import { AppError, invalid, isUniqueViolation, notFound } from '../../errors.js';
import { listFlavors, listImages } from '../catalog/catalog.repository.js';
import { resenvTemplateOfImage } from '../resenv/resenv.catalogue.js';
import { listSnapshots } from '../snapshots/snapshots.repository.js';
import { findUserByName } from '../users/users.repository.js';
import { DEFAULT_QUOTA, type Quota } from '../../../shared/contract.js';
import { findProject, findProjectByIdOrName, insertProject, listMembers, listProjects, projectUsage, upsertMembership } from './projects.repository.js';

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

/** Makes a user a member or an admin of a project (an existing member's role changes). */
export async function addProjectMember(q: Queryable, m: { project: number | string; username: string; role: 'admin' | 'member' }) {
  return inTransaction(q, async (trx) => {
    const project = await findProjectByIdOrName(trx, String(m.project));
    if (!project) throw notFound(`no project "${m.project}"`);
    const user = await findUserByName(trx, m.username);
    if (!user) throw notFound(`no user "${m.username}"`);
    await upsertMembership(trx, project.id, user.id, m.role);
    return { project_id: project.id, project: project.name, username: user.username, role: m.role };
  });
}
