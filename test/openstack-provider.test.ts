// The OpenStack provider on its own, against the fake OpenStack and a real database: the catalog
// it offers, what it sends Nova/Cinder/Glance (metadata tags, network, images), that each request is
// safe to repeat (the worker repeats after a crash), and how refusals and vanished objects read back.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenStackProvider, keypairName } from '../src/server/cloud/openstack/openstack.provider.js';
import type { CloudServer, CloudVolume } from '../src/server/cloud/provider.js';
import { loadConfig } from '../src/server/config.js';
import { type Db, openDatabase } from '../src/server/db/index.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { type FakeOpenStack, startFakeOpenStack } from './fake-openstack/server.js';
import { freshDatabaseUrl } from './helpers.js';

let fake: FakeOpenStack;
let db: Db;
let drop: () => Promise<void>;

beforeAll(async () => {
  fake = await startFakeOpenStack({ delayMs: 30 });
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  db = openDatabase(fresh.url);
  await migrateToLatest(db.kysely);
});
afterAll(async () => {
  await db?.destroy();
  await drop?.();
  await fake?.close();
});

let seq = 0;
const portalId = () => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

function provider(env: Record<string, string> = {}): OpenStackProvider {
  return new OpenStackProvider(db.kysely, loadConfig(fake.env(env)).openstack!, { retryBaseMs: 10 });
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const serverIs = (p: OpenStackProvider, id: string, pred: (s: CloudServer) => boolean) =>
  until(`server ${id}`, async () => {
    const s = await p.getServer(id);
    return s && pred(s) ? s : null;
  });
const volumeIs = (p: OpenStackProvider, id: string, pred: (v: CloudVolume) => boolean) =>
  until(`volume ${id}`, async () => {
    const v = await p.getVolume(id);
    return v && pred(v) ? v : null;
  });

const META = { simplevm_project_id: '7', simplevm_owner: 'alice' };
/** No keys, and the smallest user data. */
const BOOT = { userData: '#cloud-config\n{}\n', keys: [] };

async function activeServer(p: OpenStackProvider, name = 'vm'): Promise<string> {
  const id = portalId();
  await p.createServer({ id, name, imageName: 'Ubuntu-22.04', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
  await serverIs(p, id, (s) => s.status === 'ACTIVE' && s.taskState === null);
  return id;
}

describe('catalog', () => {
  it('offers enabled flavors (RAM rounded up to GB) and the newest active image per name', async () => {
    const p = provider();
    expect(await p.listFlavors()).toEqual([
      { name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, disk_gb: 20 },
      { name: 'de.NBI small', vcpus: 2, ram_gb: 4, disk_gb: 20 },
      { name: 'de.NBI medium', vcpus: 4, ram_gb: 8, disk_gb: 20 },
      { name: 'de.NBI large', vcpus: 8, ram_gb: 16, disk_gb: 20 },
      { name: 'm1.nano', vcpus: 1, ram_gb: 1, disk_gb: 1 },
    ]);
    const images = await p.listImages();
    expect(images.map((i) => i.name)).toEqual(['cirros-0.6.2-x86_64-disk', 'Debian-12', 'Ubuntu-22.04', 'Ubuntu-24.04']);
    expect(images.find((i) => i.name === 'Debian-12')?.tags).toEqual(['bookworm', 'debian']);
  });

  it('offers only images with SIMPLEVM_OS_IMAGE_TAG, and boots no other', async () => {
    const p = provider({ SIMPLEVM_OS_IMAGE_TAG: 'lts' });
    expect((await p.listImages()).map((i) => i.name)).toEqual(['Ubuntu-22.04', 'Ubuntu-24.04']);
    const id = portalId();
    await p.createServer({ id, name: 'untagged', imageName: 'Debian-12', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
    expect(await p.getServer(id)).toMatchObject({ status: 'ERROR', fault: 'Cannot create the server: the cloud has no active image named "Debian-12" tagged lts' });
  });

  it('leaves the portal\'s snapshots out of the catalog', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const snap = portalId();
    await p.createSnapshot(vm, { id: snap, name: 'not-for-everyone' });
    await until('snapshot', async () => (await p.getSnapshotImage(snap))?.status === 'active');
    expect((await p.listImages()).map((i) => i.name)).not.toContain('not-for-everyone');
  });
});

describe('what the cloud is asked', () => {
  it('gives the server its user data base64-encoded, and each public key as a key pair imported once', async () => {
    const p = provider();
    const keys = [
      { fingerprint: 'SHA256:first', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBXNzd2yLnDOq2aT6Mpk8pvMgzNv6qJ5ZxPzqj1jGZ9k one' },
      { fingerprint: 'SHA256:second', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh9bb2tq6Z8Qm7Xk4k0vG8f1n0mZ3aNnC2lQ8o2cS0R two' },
    ];
    const userData = '#cloud-config\nssh_authorized_keys:\n  - one\nruncmd:\n  - [echo, "é"]\n';
    const ids = [portalId(), portalId()];
    for (const [i, id] of ids.entries()) {
      await p.createServer({ id, name: `keyed-${i}`, imageName: 'Ubuntu-22.04', flavorName: 'de.NBI tiny', metadata: META, userData, keys });
      await serverIs(p, id, (s) => s.status === 'ACTIVE');
    }
    for (const id of ids) {
      const [server] = fake.serverTagged(id);
      expect(Buffer.from(server.userData ?? '', 'base64').toString('utf8')).toBe(userData);
      expect(server.keyName).toBe(keypairName('SHA256:first'));
    }
    // Too large for Nova as plain base64: sent gzip-compressed, which cloud-init unpacks.
    const big = `#cloud-config\nwrite_files:\n  - path: /big\n    content: |\n${'      the same line again and again\n'.repeat(3000)}`;
    const bigId = portalId();
    await p.createServer({ id: bigId, name: 'big-user-data', imageName: 'Ubuntu-22.04', flavorName: 'de.NBI tiny', metadata: META, userData: big, keys: [] });
    const [bigServer] = fake.serverTagged(bigId);
    expect(Buffer.from(big).toString('base64').length).toBeGreaterThan(65_535);
    expect(gunzipSync(Buffer.from(bigServer.userData ?? '', 'base64')).toString('utf8')).toBe(big);
    const pairs = [...fake.keypairs.values()].filter((k) => keys.some((key) => key.public_key === k.publicKey));
    expect(pairs.map((k) => k.name).sort()).toEqual([keypairName('SHA256:first'), keypairName('SHA256:second')].sort());
  });

  it('reads an image\'s login user from its default_user property', async () => {
    fake.addImage({ name: 'Rocky-9', tags: [], status: 'active', visibility: 'public', owner: 'b0ef1c8e2ba94bb58f2b5e2a5e2a5e2a', created: Date.now(), properties: { default_user: 'rocky' } });
    const images = await provider().listImages();
    expect(images.find((i) => i.name === 'Rocky-9')?.defaultUser).toBe('rocky');
    expect(images.find((i) => i.name === 'Ubuntu-22.04')?.defaultUser).toBeNull();
  });

  it('tags a server with the portal\'s project, owner and id, on the configured network', async () => {
    const p = provider();
    const id = await activeServer(p, 'tagged');
    const [server] = fake.serverTagged(id);
    expect(server.metadata).toEqual({ ...META, simplevm_id: id });
    expect(server.networkName).toBe('private');
    expect(server.flavor.name).toBe('de.NBI tiny');
    expect(fake.images.get(server.imageId)?.name).toBe('Ubuntu-22.04');
  });

  it('takes SIMPLEVM_OS_NETWORK as a network id, and refuses a name that is missing or not unique', async () => {
    const byId = provider({ SIMPLEVM_OS_NETWORK: fake.networks[1].id });
    const id = await activeServer(byId);
    expect(fake.serverTagged(id)[0].networkName).toBe(fake.networks[1].name);
    for (const [network, why] of [['shared-twin', 'names 2 networks'], ['nowhere', 'names no network']]) {
      const p = provider({ SIMPLEVM_OS_NETWORK: network });
      const refused = portalId();
      await p.createServer({ id: refused, name: 'netless', imageName: 'Ubuntu-22.04', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
      expect((await p.getServer(refused))?.fault).toContain(`SIMPLEVM_OS_NETWORK ${why} ("${network}")`);
      expect(fake.serverTagged(refused)).toEqual([]);
    }
  });

  it('boots a snapshot of the same portal project from its own Glance image', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const snap = portalId();
    await p.createSnapshot(vm, { id: snap, name: 'golden' });
    await until('snapshot', async () => (await p.getSnapshotImage(snap))?.status === 'active');
    const image = [...fake.images.values()].find((i) => i.properties.simplevm_id === snap)!;
    expect(image.properties.simplevm_project_id).toBe(META.simplevm_project_id);
    // A catalog image of the same name elsewhere does not get in the way.
    fake.addImage({ name: 'golden', tags: [], status: 'active', visibility: 'public', owner: 'someone-else', created: Date.now() + 1000, properties: {} });
    const restored = portalId();
    await p.createServer({ id: restored, name: 'restored', imageName: 'golden', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
    expect(fake.serverTagged(restored)[0].imageId).toBe(image.id);
    const elsewhere = portalId();
    await p.createServer({ id: elsewhere, name: 'elsewhere', imageName: 'golden', flavorName: 'de.NBI tiny', metadata: { ...META, simplevm_project_id: '8' }, ...BOOT });
    expect(fake.serverTagged(elsewhere)[0].imageId).not.toBe(image.id);
  });

  it('deletes a snapshot\'s Glance image; the server booted from it runs on, and the image never comes back', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const snap = portalId();
    await p.createSnapshot(vm, { id: snap, name: 'short-lived' });
    await until('snapshot', async () => (await p.getSnapshotImage(snap))?.status === 'active');
    const image = [...fake.images.values()].find((i) => i.properties.simplevm_id === snap)!;
    const booted = portalId();
    await p.createServer({ id: booted, name: 'from-snapshot', imageName: 'short-lived', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
    await serverIs(p, booted, (s) => s.status === 'ACTIVE');
    expect(fake.serverTagged(booted)[0].imageId).toBe(image.id);

    await p.deleteSnapshotImage(snap);
    expect(fake.images.has(image.id)).toBe(false);
    expect(fake.log.filter((r) => r.service === 'image' && r.method === 'DELETE')).toContainEqual(expect.objectContaining({ path: `/v2/images/${image.id}`, status: 204 }));
    expect(await p.getSnapshotImage(snap)).toBeNull();
    expect(await p.getServer(booted)).toMatchObject({ status: 'ACTIVE', taskState: null });
    // A create of the same portal id, repeated after the delete, does not make the image again.
    await p.createSnapshot(vm, { id: snap, name: 'short-lived' });
    expect(await p.getSnapshotImage(snap)).toBeNull();
    expect([...fake.images.values()].filter((i) => i.properties.simplevm_id === snap)).toEqual([]);
  });
});

describe('every request is safe to repeat', () => {
  it('server: create, stop, start, reboot and delete asked twice do it once and throw nothing', async () => {
    const p = provider();
    const id = portalId();
    const req = { id, name: 'twice', imageName: 'Debian-12', flavorName: 'de.NBI small', metadata: META, ...BOOT };
    await p.createServer(req);
    await p.createServer(req);
    await serverIs(p, id, (s) => s.status === 'ACTIVE' && s.taskState === null);
    // The map lost (a crash between Nova's answer and our note of it): found again by name and tag.
    await db.kysely.deleteFrom('cloud_ids').where('portal_id', '=', id).execute();
    await p.createServer(req);
    expect(fake.serverTagged(id)).toHaveLength(1);

    await p.stopServer(id);
    await p.stopServer(id);
    await serverIs(p, id, (s) => s.status === 'SHUTOFF' && s.taskState === null);
    await p.stopServer(id);
    await p.startServer(id);
    await p.startServer(id);
    await serverIs(p, id, (s) => s.status === 'ACTIVE' && s.taskState === null);
    await p.rebootServer(id, 'SOFT');
    await p.rebootServer(id, 'SOFT');
    await serverIs(p, id, (s) => s.status === 'ACTIVE' && s.taskState === null);
    await p.deleteServer(id);
    await p.deleteServer(id);
    await until('gone', async () => (await p.getServer(id)) === null);
    await p.deleteServer(id);
    await p.stopServer(id);
    expect(fake.serverTagged(id)).toEqual([]);
  });

  it('volume: create, attach, extend, detach and delete asked twice do it once and throw nothing', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const id = portalId();
    await p.createVolume({ id, name: 'twice', size: 1 });
    await p.createVolume({ id, name: 'twice', size: 1 });
    await volumeIs(p, id, (v) => v.status === 'available');
    expect(fake.volumeTagged(id)).toHaveLength(1);
    await p.attachVolume(vm, id);
    await p.attachVolume(vm, id);
    expect(await volumeIs(p, id, (v) => v.status === 'in-use')).toEqual({ id, status: 'in-use', size: 1, attachedTo: vm, device: '/dev/vdb' });
    await p.attachVolume(vm, id);
    await p.extendVolume(id, 3);
    await p.extendVolume(id, 3);
    await volumeIs(p, id, (v) => v.status === 'in-use' && v.size === 3);
    await p.extendVolume(id, 3);
    await p.detachVolume(vm, id);
    await p.detachVolume(vm, id);
    expect(await volumeIs(p, id, (v) => v.status === 'available')).toMatchObject({ attachedTo: null, device: null });
    await p.detachVolume(vm, id);
    await p.deleteVolume(id);
    await p.deleteVolume(id);
    await until('volume gone', async () => (await p.getVolume(id)) === null);
    await p.deleteVolume(id);
  });

  it('snapshot delete: asked again, for an image already gone, or for one never made, it throws nothing', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const snap = portalId();
    await p.createSnapshot(vm, { id: snap, name: 'twice-deleted' });
    await until('snapshot', async () => (await p.getSnapshotImage(snap))?.status === 'active');
    await p.deleteSnapshotImage(snap);
    await p.deleteSnapshotImage(snap);
    expect(await p.getSnapshotImage(snap)).toBeNull();
    // Deleted behind the portal's back: Glance's 404 means done.
    const gone = portalId();
    await p.createSnapshot(vm, { id: gone, name: 'vanishing' });
    await until('snapshot', async () => (await p.getSnapshotImage(gone))?.status === 'active');
    fake.images.delete([...fake.images.values()].find((i) => i.properties.simplevm_id === gone)!.id);
    await p.deleteSnapshotImage(gone);
    expect(await p.getSnapshotImage(gone)).toBeNull();
    // Never made (the create was refused, or never reached the cloud): nothing to ask Glance.
    const deletes = fake.log.filter((r) => r.service === 'image' && r.method === 'DELETE').length;
    await p.deleteSnapshotImage(portalId());
    expect(fake.log.filter((r) => r.service === 'image' && r.method === 'DELETE')).toHaveLength(deletes);
  });

  it('snapshot delete: a Glance that keeps failing makes it throw (the worker retries); the next try deletes', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const snap = portalId();
    await p.createSnapshot(vm, { id: snap, name: 'stubborn' });
    await until('snapshot', async () => (await p.getSnapshotImage(snap))?.status === 'active');
    const fault = fake.inject({ service: 'image', method: 'DELETE', kind: 'status', status: 503, times: 3 });
    await expect(p.deleteSnapshotImage(snap)).rejects.toThrow(/Glance DELETE/);
    expect(fault.hits).toBe(3);
    expect(await p.getSnapshotImage(snap)).toMatchObject({ status: 'active' });
    await p.deleteSnapshotImage(snap);
    expect(await p.getSnapshotImage(snap)).toBeNull();
  });

  it('snapshot: createImage asked twice makes one image', async () => {
    const p = provider();
    const vm = await activeServer(p);
    const id = portalId();
    await p.createSnapshot(vm, { id, name: 'once' });
    await p.createSnapshot(vm, { id, name: 'once' });
    await until('image', async () => (await p.getSnapshotImage(id))?.status === 'active');
    expect([...fake.images.values()].filter((i) => i.properties.simplevm_id === id)).toHaveLength(1);
  });
});

describe('refusals and vanished objects', () => {
  it('records a refused create once and reads it back as ERROR; after a delete it is gone', async () => {
    const p = provider();
    const id = portalId();
    await p.createServer({ id, name: 'nope', imageName: 'No-Such-Image', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
    const mark = fake.log.length;
    await p.createServer({ id, name: 'nope', imageName: 'No-Such-Image', flavorName: 'de.NBI tiny', metadata: META, ...BOOT });
    expect(fake.log.length).toBe(mark);
    expect(await p.getServer(id)).toEqual({ id, status: 'ERROR', taskState: null, fixedIp: null, fault: 'Cannot create the server: the cloud has no active image named "No-Such-Image"' });
    await p.deleteServer(id);
    expect(await p.getServer(id)).toBeNull();
  });

  it('reads a volume refused by Cinder as error, and one deleted behind the portal\'s back as gone', async () => {
    const p = provider();
    const refused = portalId();
    await p.createVolume({ id: refused, name: 'huge', size: 0 });
    expect((await p.getVolume(refused))?.status).toBe('error');
    const id = portalId();
    await p.createVolume({ id, name: 'vanishing', size: 1 });
    await volumeIs(p, id, (v) => v.status === 'available');
    fake.volumes.delete(fake.volumeTagged(id)[0].id);
    expect(await p.getVolume(id)).toBeNull();
  });

  it('shows a volume attached to a server the portal does not know as in-use, attached to none of its VMs', async () => {
    const p = provider();
    const id = portalId();
    await p.createVolume({ id, name: 'foreign', size: 1 });
    await volumeIs(p, id, (v) => v.status === 'available');
    const v = fake.volumeTagged(id)[0];
    Object.assign(v, { status: 'in-use', attachment: { serverId: 'not-a-portal-server', attachmentId: 'a', device: '/dev/vdz', attachedAt: Date.now() } });
    expect(await p.getVolume(id)).toEqual({ id, status: 'in-use', size: 1, attachedTo: null, device: '/dev/vdz' });
  });
});
