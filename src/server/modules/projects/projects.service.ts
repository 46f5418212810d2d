// Projects as the caller sees them: role, quota and usage; the flavors and images to start VMs from.
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import { notFound } from '../../errors.js';
import { listFlavors, listImages } from '../catalog/catalog.repository.js';
import { listSnapshots } from '../snapshots/snapshots.repository.js';
import { findProject, listMembers, listProjects, projectUsage } from './projects.repository.js';

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
  return [...images, ...snapshots.filter((s) => s.status === 'active').map((s) => ({ name: s.name, tags: ['snapshot'] }))];
}

export async function projectSnapshots(ctx: AppContext, p: Principal, id: number) {
  await reachableProject(ctx, p, id);
  return listSnapshots(ctx.db.kysely, reachOf(p), id);
}
