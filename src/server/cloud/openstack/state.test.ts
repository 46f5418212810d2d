// OpenStack's records and states as the provider interface names them (pure functions).
import { describe, expect, it } from 'vitest';
import type { GlanceImage, NovaServer } from './schemas.js';
import { catalogImages, clip, fixedIpOf, flavorFromNova, newestActive, serverFromNova, volumeStatusFromCinder } from './state.js';

const server = (patch: Partial<NovaServer>): NovaServer => ({
  id: 'c1', name: 'vm', status: 'ACTIVE', 'OS-EXT-STS:task_state': null, metadata: {}, addresses: {}, ...patch,
});

const image = (patch: Partial<GlanceImage>): GlanceImage => ({
  id: 'i', name: 'Ubuntu', status: 'active', tags: [], created_at: '2024-01-01T00:00:00Z', ...patch,
});

describe('serverFromNova', () => {
  it('keeps Nova\'s status and task_state and names the server by the portal\'s id', () => {
    expect(serverFromNova('p1', server({ status: 'HARD_REBOOT', 'OS-EXT-STS:task_state': 'reboot_started_hard' }))).toEqual({
      id: 'p1', status: 'HARD_REBOOT', taskState: 'reboot_started_hard', fixedIp: null, fault: null,
    });
    expect(serverFromNova('p1', server({ 'OS-EXT-STS:task_state': undefined })).taskState).toBeNull();
  });

  it('carries the fault message of a server in ERROR, and only then', () => {
    expect(serverFromNova('p', server({ status: 'ERROR', fault: { code: 500, message: 'No valid host was found.' } })).fault).toBe('No valid host was found.');
    expect(serverFromNova('p', server({ status: 'ERROR' })).fault).toBe('Nova reported ERROR without a fault message.');
    expect(serverFromNova('p', server({ status: 'ACTIVE', fault: { message: 'old' } })).fault).toBeNull();
    expect(serverFromNova('p', server({ status: 'ERROR', fault: { message: 'x'.repeat(5000) } })).fault).toHaveLength(1000);
  });

  it('counts a soft-deleted server as DELETED', () => {
    expect(serverFromNova('p', server({ status: 'SOFT_DELETED' })).status).toBe('DELETED');
  });
});

describe('fixedIpOf', () => {
  it('prefers a fixed IPv4 address over floating and IPv6 ones', () => {
    expect(fixedIpOf({
      public: [{ addr: '2001:db8::5', version: 6, 'OS-EXT-IPS:type': 'fixed' }, { addr: '203.0.113.9', version: 4, 'OS-EXT-IPS:type': 'floating' }],
      private: [{ addr: '10.0.0.5', version: 4, 'OS-EXT-IPS:type': 'fixed' }],
    })).toBe('10.0.0.5');
    expect(fixedIpOf({ v6: [{ addr: '2001:db8::5', version: 6 }] })).toBe('2001:db8::5');
    expect(fixedIpOf({})).toBeNull();
  });
});

describe('volumeStatusFromCinder', () => {
  it('makes the failed end of an action an error, and keeps the rest', () => {
    expect(volumeStatusFromCinder('error_extending')).toBe('error');
    expect(volumeStatusFromCinder('error_restoring')).toBe('error');
    expect(volumeStatusFromCinder('error_deleting')).toBe('error_deleting');
    for (const s of ['creating', 'available', 'reserved', 'attaching', 'in-use', 'detaching', 'extending', 'deleting', 'error']) {
      expect(volumeStatusFromCinder(s)).toBe(s);
    }
  });
});

describe('flavorFromNova', () => {
  it('gives RAM in whole GB, rounded up, and leaves disabled flavors out', () => {
    expect(flavorFromNova({ id: '1', name: 'de.NBI small', vcpus: 2, ram: 4096, disk: 20 })).toEqual({ name: 'de.NBI small', vcpus: 2, ram_gb: 4, disk_gb: 20 });
    expect(flavorFromNova({ id: '2', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 })?.ram_gb).toBe(1);
    expect(flavorFromNova({ id: '3', name: 'odd', vcpus: 1, ram: 1536, disk: 1 })?.ram_gb).toBe(2);
    expect(flavorFromNova({ id: '4', name: 'old', vcpus: 1, ram: 1024, disk: 1, 'OS-FLV-DISABLED:disabled': true })).toBeNull();
  });
});

describe('catalogImages', () => {
  it('offers active images, one per name (the newest), without portal snapshots, with the tag when one is set', () => {
    const images = [
      image({ id: 'a', name: 'Debian-12', tags: ['debian', 'old'], created_at: '2024-01-01T00:00:00Z' }),
      image({ id: 'b', name: 'Debian-12', tags: ['debian', 'simplevm'], created_at: '2024-02-01T00:00:00Z', default_user: 'debian' }),
      image({ id: 'c', name: 'Fedora', status: 'queued', tags: ['simplevm'] }),
      image({ id: 'd', name: 'snap-1', simplevm_id: 'x', tags: ['simplevm'] }),
      image({ id: 'e', name: null }),
      image({ id: 'f', name: 'cirros' }),
    ];
    // With the login user the newest one names (SimpleVM's default_user property).
    expect(catalogImages(images, null)).toEqual([{ name: 'cirros', tags: [], defaultUser: null }, { name: 'Debian-12', tags: ['debian', 'simplevm'], defaultUser: 'debian' }]);
    expect(catalogImages(images, 'simplevm')).toEqual([{ name: 'Debian-12', tags: ['debian', 'simplevm'], defaultUser: 'debian' }]);
    expect(newestActive(images.slice(0, 3))?.id).toBe('b');
    expect(newestActive([])).toBeNull();
  });
});

it('clips long texts to the column', () => {
  expect(clip('abc', 5)).toBe('abc');
  expect(clip('abcdefgh', 5)).toBe('abcd…');
});
