// The benchmark's scale data set, written in large batches straight into the portal's tables.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { generateKey } from '../src/server/auth/key-format.js';
import { hashPassword } from '../src/server/auth/passwords.js';
import type { Database } from '../src/server/db/types.js';

export interface Sizes {
  users: number;
  projects: number;
  vms: number;
  volumes: number;
  keys: number;
}

export const FULL: Sizes = { users: 10_000, projects: 1_000, vms: 100_000, volumes: 50_000, keys: 20_000 };
export const QUICK: Sizes = { users: 500, projects: 50, vms: 5_000, volumes: 2_500, keys: 1_000 };

export const BENCH_PASSWORD = 'bench-password-1';

export interface Seeded {
  /** A superuser, for session calls (key deletion). */
  admin: string;
  /** A member with exactly 100 VMs among all, and an own-objects key with every scope. */
  user: string;
  userKey: string;
  userVmId: string;
  projectId: number;
  /** A project whose quota allows 50 VMs, for Q1. */
  quotaProjectId: number;
}

const ALL_SCOPES = ['vm:read', 'vm:create', 'vm:change_state', 'vm:delete', 'snapshot:create', 'project:read', 'volume:read', 'volume:create', 'volume:change_state', 'volume:delete'];

async function inBatches<T>(rows: T[], size: number, insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

export async function seed(db: Kysely<Database>, sizes: Sizes): Promise<Seeded> {
  const passwordHash = await hashPassword(BENCH_PASSWORD);
  const now = new Date().toISOString();
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const seeded = await db.transaction().execute(async (trx) => {
    const users = Array.from({ length: sizes.users }, (_, i) => ({
      username: `user${i}`, password_hash: passwordHash, is_superuser: (i === 0 ? 1 : 0) as 0 | 1, is_active: 1 as const, created_at: now,
    }));
    await inBatches(users, 1000, (b) => trx.insertInto('users').values(b).execute());
    const userIds = (await trx.selectFrom('users').select(['id', 'username']).orderBy('id').execute()).map((u) => u.id);

    const projects = Array.from({ length: sizes.projects }, (_, i) => ({
      name: `project${i}`, description: '', quota_vms: 1_000_000, quota_cores: 10_000_000, quota_ram_gb: 10_000_000,
      quota_volumes: 1_000_000, quota_volume_gb: 100_000_000, created_at: now,
    }));
    await inBatches(projects, 1000, (b) => trx.insertInto('projects').values(b).execute());
    const projectIds = (await trx.selectFrom('projects').select('id').orderBy('id').execute()).map((p) => p.id);

    // Each user belongs to one project; every tenth is its admin.
    const memberships = userIds.map((uid, i) => ({ project_id: projectIds[i % projectIds.length], user_id: uid, role: (i % 10 === 1 ? 'admin' : 'member') as 'admin' | 'member' }));
    await inBatches(memberships, 1000, (b) => trx.insertInto('memberships').values(b).execute());

    // The measured user (user2, a member of project2) owns exactly 100 VMs; the rest are spread over everyone else.
    const measuredIndex = 2;
    const measuredId = userIds[measuredIndex];
    const measuredProject = projectIds[measuredIndex % projectIds.length];
    const others = userIds.filter((_, i) => i !== measuredIndex);
    const vms = Array.from({ length: sizes.vms }, (_, i) => {
      const mine = i < 100;
      const owner = mine ? measuredId : others[i % others.length];
      const ownerIndex = mine ? measuredIndex : userIds.indexOf(owner);
      return {
        openstack_id: randomUUID(), name: `vm${i}`, project_id: mine ? measuredProject : projectIds[ownerIndex % projectIds.length], owner_id: owner,
        image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, status: i % 7 === 0 ? 'SHUTOFF' : 'ACTIVE',
        task_state: null, fixed_ip: `10.0.${(i >> 8) & 255}.${i & 255}`, fault: null, created_at: new Date(Date.now() - i * 1000).toISOString(), updated_at: now,
      };
    });
    await inBatches(vms, 500, (b) => trx.insertInto('vms').values(b).execute());

    const volumes = Array.from({ length: sizes.volumes }, (_, i) => {
      const owner = others[i % others.length];
      const ownerIndex = userIds.indexOf(owner);
      return {
        openstack_id: randomUUID(), name: `vol${i}`, project_id: projectIds[ownerIndex % projectIds.length], owner_id: owner, storage: 1 + (i % 50),
        status: 'available', attached_to: null, device: null, created_at: now, updated_at: now,
      };
    });
    await inBatches(volumes, 500, (b) => trx.insertInto('volumes').values(b).execute());

    // Live keys: the measured user's own-objects key, then keys spread over all users.
    const measured = generateKey();
    const keys = [{ gen: measured, userId: measuredId }, ...Array.from({ length: sizes.keys - 1 }, (_, i) => ({ gen: generateKey(), userId: userIds[i % userIds.length] }))];
    await inBatches(keys, 500, (b) =>
      trx.insertInto('api_keys').values(b.map((k, i) => ({
        user_id: k.userId, name: `key${i}`, prefix: k.gen.prefix, digest: k.gen.digest, scopes: JSON.stringify(ALL_SCOPES), own_objects_only: 1 as const,
        project_id: null, created_at: now, expires_at: expires, last_used_at: null, deleted_at: null,
      }))).execute(),
    );

    const quota = await trx.insertInto('projects').values({
      name: 'quota-project', description: '', quota_vms: 50, quota_cores: 1000, quota_ram_gb: 1000, quota_volumes: 10, quota_volume_gb: 100, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    await trx.insertInto('memberships').values({ project_id: quota.id, user_id: measuredId, role: 'member' }).execute();

    return {
      admin: 'user0',
      user: `user${measuredIndex}`,
      userKey: measured.key,
      userVmId: vms[0].openstack_id,
      projectId: measuredProject,
      quotaProjectId: quota.id,
    };
  });
  return seeded;
}
