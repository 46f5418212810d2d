import { describe, expect, it } from 'vitest';
import { quotaExceeded } from './projects.quota.js';

const project = {
  id: 1, name: 'p', description: '', created_at: '2026-01-01T00:00:00.000Z',
  quota_vms: 2, quota_cores: 4, quota_ram_gb: 8, quota_volumes: 3, quota_volume_gb: 100,
};
const usage = { vms: 1, cores: 2, ram_gb: 4, volumes: 3, volume_gb: 90 };

describe('quotaExceeded', () => {
  it('allows a request that reaches the quota exactly', () => {
    expect(quotaExceeded(project, usage, { vms: 1, cores: 2, ram_gb: 4 })).toEqual([]);
    expect(quotaExceeded(project, usage, { volume_gb: 10 })).toEqual([]);
  });

  it('names every item taken past the quota, in one order, as the error does', () => {
    expect(quotaExceeded(project, usage, { vms: 2, cores: 3, ram_gb: 5 })).toEqual(['VMs (2)', 'cores (4)', 'RAM (8 GB)']);
    expect(quotaExceeded(project, usage, { volumes: 1, volume_gb: 11 })).toEqual(['volumes (3)', 'volume storage (100 GB)']);
  });

  it('judges only the items the request adds to', () => {
    // The project is at its volume quota already: a VM does not count against it.
    expect(quotaExceeded(project, { ...usage, volumes: 9 }, { vms: 1 })).toEqual([]);
  });
});
