// A list's `count` (issue 17): the page, its volumes and the count come in one statement, and the
// count is bounded — exact while at most COUNT_BOUND objects match past the page's start, else the
// start plus COUNT_BOUND — so that a superuser's page of 100,000 VMs does not count them all. On the
// suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../bench/seed.js';
import { type Db, openDatabase } from '../src/server/db/index.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { COUNT_BOUND } from '../src/server/db/paging.js';
import { listVms } from '../src/server/modules/vms/vms.repository.js';
import { freshDatabaseUrl } from './helpers.js';

let db: Db;
let drop: () => Promise<void>;
let total: number;
const superuser = { userId: 1, superuser: true, ownOnly: false, projectId: null };

beforeAll(async () => {
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  db = openDatabase(fresh.url);
  await migrateToLatest(db.kysely);
  await seed(db.kysely, { users: 20, projects: 2, vms: COUNT_BOUND + 600, volumes: 10, keys: 2 });
  const r = await db.kysely.selectFrom('vms').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '!=', 'DELETED').executeTakeFirstOrThrow();
  total = Number(r.n);
}, 120_000);
afterAll(async () => {
  await db.destroy();
  await drop();
});

describe('the count of a list', () => {
  it('stops at COUNT_BOUND past the page\'s start when more match, so that `next` still leads on', async () => {
    expect(total).toBeGreaterThan(COUNT_BOUND + 100);
    const first = await listVms(db.kysely, superuser, {}, 1, 50);
    expect(first.rows).toHaveLength(50);
    expect(first.count).toBe(COUNT_BOUND);
    // Page 201 starts at the 10,001st VM: counted from there, the rest is within the bound: exact.
    const far = await listVms(db.kysely, superuser, {}, COUNT_BOUND / 50 + 1, 50);
    expect(far.rows).toHaveLength(50);
    expect(far.count).toBe(total);
  });

  it('is exact when fewer match, on a full page, on the last page and past the end', async () => {
    const project = await listVms(db.kysely, superuser, { projectId: 1 }, 1, 50);
    const inProject = await db.kysely.selectFrom('vms').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', 1).where('status', '!=', 'DELETED').executeTakeFirstOrThrow();
    expect(Number(inProject.n)).toBeLessThan(COUNT_BOUND);
    expect(project.count).toBe(Number(inProject.n));
    const lastPage = Math.ceil(total / 500);
    const last = await listVms(db.kysely, superuser, {}, lastPage, 500);
    expect(last.rows).toHaveLength(total - (lastPage - 1) * 500);
    expect(last.count).toBe(total);
    const past = await listVms(db.kysely, superuser, {}, lastPage + 3, 500);
    expect(past.rows).toEqual([]);
    expect(past.count).toBe(total);
  });

  it('carries each VM\'s attached volumes in the same statement, sorted', async () => {
    const vms = (await listVms(db.kysely, superuser, {}, 1, 500)).rows;
    const [vm] = vms;
    await db.kysely.updateTable('volumes').set({ attached_to: vm.openstack_id, status: 'in-use' }).where('openstack_id', 'in', (await db.kysely.selectFrom('volumes').select('openstack_id').limit(3).execute()).map((v) => v.openstack_id)).execute();
    const ids = (await db.kysely.selectFrom('volumes').select('openstack_id').where('attached_to', '=', vm.openstack_id).orderBy('openstack_id').execute()).map((v) => v.openstack_id);
    expect(ids).toHaveLength(3);
    const again = (await listVms(db.kysely, superuser, {}, 1, 500)).rows;
    const volumesOf = (v: (typeof again)[number]) => (typeof v.volume_ids === 'string' ? JSON.parse(v.volume_ids) : v.volume_ids);
    expect(volumesOf(again.find((v) => v.openstack_id === vm.openstack_id)!)).toEqual(ids);
    expect(again.filter((v) => v.openstack_id !== vm.openstack_id).every((v) => volumesOf(v).length === 0)).toBe(true);
  });
});
