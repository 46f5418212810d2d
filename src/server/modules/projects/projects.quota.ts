// A project's quota, the one rule VM and volume requests are judged by: what the request adds to
// the project's usage must stay within the project's quota, item by item.
import type { Transaction } from 'kysely';
import type { Database, Project } from '../../db/types.js';
import { AppError } from '../../errors.js';
import { type Usage, projectUsage } from './projects.repository.js';

/** Each quota item: the project's limit, and how the error names it. In this order in the error. */
const QUOTA_ITEMS: { readonly [K in keyof Usage]: (p: Project) => { limit: number; name: string } } = {
  vms: (p) => ({ limit: p.quota_vms, name: `VMs (${p.quota_vms})` }),
  cores: (p) => ({ limit: p.quota_cores, name: `cores (${p.quota_cores})` }),
  ram_gb: (p) => ({ limit: p.quota_ram_gb, name: `RAM (${p.quota_ram_gb} GB)` }),
  volumes: (p) => ({ limit: p.quota_volumes, name: `volumes (${p.quota_volumes})` }),
  volume_gb: (p) => ({ limit: p.quota_volume_gb, name: `volume storage (${p.quota_volume_gb} GB)` }),
};

/**
 * The quota items that `request` (what it adds to the project's usage) would take past the
 * project's quota, named as the error names them. Items the request leaves out are not judged:
 * a project over a quota lowered since may still grow in the others.
 */
export function quotaExceeded(project: Project, usage: Usage, request: Partial<Usage>): string[] {
  const over: string[] = [];
  for (const key of Object.keys(QUOTA_ITEMS) as (keyof Usage)[]) {
    const add = request[key];
    if (add === undefined) continue;
    const { limit, name } = QUOTA_ITEMS[key](project);
    if (usage[key] + add > limit) over.push(name);
  }
  return over;
}

/**
 * quota_exceeded ("<what> would exceed the project's quota of …") when `request` does not fit.
 * The caller has locked the project's row (lockProject), so that concurrent requests in one
 * project are judged one after another, each against the usage the one before left.
 */
export async function assertWithinQuota(trx: Transaction<Database>, project: Project, request: Partial<Usage>, what: string): Promise<void> {
  const over = quotaExceeded(project, await projectUsage(trx, project.id), request);
  if (over.length) throw new AppError('quota_exceeded', `${what} would exceed the project's quota of ${over.join(', ')}.`);
}
