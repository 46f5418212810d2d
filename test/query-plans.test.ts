// The hot queries use their indexes (issue 8: "indexes checked with the query plan"): SQLite's
// EXPLAIN QUERY PLAN for each shape of the key check, VM and volume lists and lookups, on the
// benchmark's own (quick) data set. A full scan of vms, volumes or api_keys fails the test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { type CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUICK, seed } from '../bench/seed.js';
import type { Reach } from '../src/server/auth/policy.js';
import { openDatabase } from '../src/server/db/index.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import type { Database } from '../src/server/db/types.js';
import { findKeyForAuth } from '../src/server/modules/keys/keys.repository.js';
import { findVm, findVmView, listVms } from '../src/server/modules/vms/vms.repository.js';
import { listVolumes } from '../src/server/modules/volumes/volumes.repository.js';

let dir: string;
let raw: SQLite.Database;
let sent: CompiledQuery[] = [];
let q: Kysely<Database>;
let userId: number;
let adminId: number;
let vmId: string;
let prefix: string;
let username: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svm-plans-'));
  const file = path.join(dir, 'plans.sqlite');
  const db = openDatabase(file);
  await migrateToLatest(db.kysely);
  const seeded = await seed(db.kysely, QUICK);
  await db.destroy();
  raw = new SQLite(file);
  // Every query the repositories send is noted, to be explained with its own parameters.
  q = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }), log: (e) => { sent.push(e.query); } });
  const ids = (name: string) => (raw.prepare('select id from users where username = ?').get(name) as { id: number }).id;
  userId = ids(seeded.user);
  adminId = ids('user1'); // every tenth user from the second is a project admin (bench/seed.ts)
  vmId = seeded.userVmId;
  username = seeded.user;
  prefix = seeded.userKey.slice(4, 12);
});
afterAll(async () => {
  await q.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The plan of the page query just sent (the one with a LIMIT, else the last), one line per step. */
function planOfLast(): string[] {
  const query = sent.find((c) => /\blimit\b/i.test(c.sql)) ?? sent[sent.length - 1];
  sent = [];
  return (raw.prepare(`explain query plan ${query.sql}`).all(...query.parameters) as { detail: string }[]).map((r) => r.detail);
}

function expectIndexed(plan: string[], index: RegExp): void {
  expect(plan.some((step) => index.test(step)), plan.join(' | ')).toBe(true);
  // SCAN of a big table is a full scan, unless an index gives the order.
  expect(plan.filter((step) => /^SCAN (vms|volumes|api_keys|k)\b(?! USING)/.test(step)), plan.join(' | ')).toEqual([]);
}

const reach = (r: Partial<Reach> & { userId: number }): Reach => ({ superuser: false, ownOnly: false, projectId: null, ...r });

describe('query plans on SQLite', () => {
  it('the key check reads one key by its prefix', async () => {
    expect(await findKeyForAuth(q, prefix)).toBeDefined();
    expectIndexed(planOfLast(), /SEARCH k USING INDEX \S+ \(prefix=\?\)/);
  });

  it('an own-objects key lists its VMs by the owner index', async () => {
    const { rows, count } = await listVms(q, reach({ userId, ownOnly: true }), {}, 1, 50);
    expect(rows).toHaveLength(50);
    expect(count).toBe(100);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_owner_idx/);
  });

  it('a member lists through the projects they belong to, not over every VM', async () => {
    await listVms(q, reach({ userId }), {}, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_project_idx/);
    await listVms(q, reach({ userId: adminId }), { status: 'ACTIVE' }, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_project_idx/);
  });

  it('a project key lists by the project index', async () => {
    await listVms(q, reach({ userId, projectId: 3 }), {}, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_(project|owner)_idx/);
  });

  // The page's count, in the same statement, reads at most COUNT_BOUND VMs (test/list-count.test.ts):
  // for a superuser's unfiltered list that is a scan, bounded; the page itself is read in order.
  it('a superuser pages through all VMs and volumes in created_at order', async () => {
    await listVms(q, reach({ userId: 1, superuser: true }), {}, 1, 50);
    const plan = planOfLast();
    const count = plan.indexOf('CO-ROUTINE matches');
    expect(count).toBeGreaterThan(0);
    expectIndexed(plan.slice(0, count), /SCAN vms USING INDEX vms_created_idx/);
    await listVolumes(q, reach({ userId: 1, superuser: true }), {}, 1, 50);
    expectIndexed(planOfLast(), /SCAN volumes USING INDEX volumes_created_idx/);
  });

  it('one VM by its id, and the volumes attached to a page of VMs', async () => {
    expect(await findVm(q, reach({ userId, ownOnly: true }), vmId)).toBeDefined();
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX \S+ \(openstack_id=\?\)/);
    // Shown with its attached volumes in one statement.
    expect(await findVmView(q, reach({ userId, ownOnly: true }), vmId)).not.toBeNull();
    const plan = planOfLast();
    expectIndexed(plan, /SEARCH vms USING INDEX \S+ \(openstack_id=\?\)/);
    expect(plan.join(' | ')).toMatch(/SEARCH av USING INDEX volumes_attached_idx/);
  });

  // SimpleVM's filters (spec §8). Each is part of the prepared query's shape, so each shape is here.
  it('?owner: a superuser reads that user\'s VMs by the owner index, not every VM in order', async () => {
    const { rows } = await listVms(q, reach({ userId: 1, superuser: true }), { owner: username }, 1, 50);
    expect(rows).toHaveLength(50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_owner_idx/);
    await listVms(q, reach({ userId: adminId }), { owner: username }, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_(owner|project)_idx/);
    await listVms(q, reach({ userId, ownOnly: true }), { owner: username, status: 'ACTIVE' }, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_owner_idx/);
  });

  it('?openstack_id: one VM by its key, whoever asks', async () => {
    for (const r of [reach({ userId: 1, superuser: true }), reach({ userId }), reach({ userId, ownOnly: true }), reach({ userId, projectId: 3 })]) {
      await listVms(q, r, { openstackId: vmId }, 1, 50);
      expectIndexed(planOfLast(), /SEARCH vms USING INDEX \S+ \(openstack_id=\?\)/);
    }
  });

  it('?text over names and ids reads through the caller\'s index', async () => {
    await listVms(q, reach({ userId, ownOnly: true }), { text: vmId.slice(0, 8) }, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_owner_idx/);
    await listVms(q, reach({ userId }), { text: 'vm', owner: username }, 1, 50);
    expectIndexed(planOfLast(), /SEARCH vms USING INDEX vms_(owner|project)_idx/);
  });

  it('a member lists volumes by the project index', async () => {
    await listVolumes(q, reach({ userId }), {}, 1, 50);
    expectIndexed(planOfLast(), /SEARCH volumes USING INDEX volumes_project_idx/);
  });
});
