// SQL for the research environment proxy: the VM it leads to, within the caller's reach (STYLE §3).
import type { Kysely, Transaction } from 'kysely';
import type { Reach } from '../../auth/policy.js';
import { objectReach } from '../../db/reach.js';
import type { Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export interface ResenvVmRow {
  status: string;
  fixed_ip: string | null;
  resenv_template: string | null;
  resenv_user_path: string | null;
}

/** What the proxy needs of a VM the caller may see, by its id; undefined when there is none in reach. */
export function findResenvVm(q: Q, reach: Reach, openstackId: string): Promise<ResenvVmRow | undefined> {
  return q
    .selectFrom('vms')
    .select(['vms.status', 'vms.fixed_ip', 'vms.resenv_template', 'vms.resenv_user_path'])
    .where('vms.openstack_id', '=', openstackId)
    .where(objectReach('vms', reach))
    .executeTakeFirst();
}
