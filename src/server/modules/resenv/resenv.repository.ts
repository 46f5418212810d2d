// SQL for the research environment proxy: the VM it leads to, within the caller's reach (STYLE §3), and
// the tickets and grants that admit a browser on the environments' own host (SIMPLEVM_RESENV_URL).
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

/** A one-time ticket to the environments' host, by the digest of its secret. */
export async function insertResenvTicket(
  q: Q,
  t: { digest: string; userId: number; sessionId: string; vmId: string; createdAt: string; expiresAt: string },
): Promise<void> {
  await q
    .insertInto('resenv_tickets')
    .values({ digest: t.digest, user_id: t.userId, session_id: t.sessionId, vm_openstack_id: t.vmId, created_at: t.createdAt, expires_at: t.expiresAt, used_at: null })
    .execute();
}

/**
 * Marks a ticket used, if it is one for this VM, not used yet and not expired; its session, or
 * undefined. One statement: of two redemptions at once, only one gets it.
 */
export function useResenvTicket(q: Q, digest: string, vmId: string, nowIso: string): Promise<{ user_id: number; session_id: string } | undefined> {
  return q
    .updateTable('resenv_tickets')
    .set({ used_at: nowIso })
    .where('digest', '=', digest)
    .where('vm_openstack_id', '=', vmId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .returning(['user_id', 'session_id'])
    .executeTakeFirst();
}

/** When a live session of an active user ends; undefined when it has ended already. */
export async function liveSessionExpiry(q: Q, sessionId: string, userId: number, nowIso: string): Promise<string | undefined> {
  const row = await q
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('s.expires_at')
    .where('s.id', '=', sessionId)
    .where('s.user_id', '=', userId)
    .where('s.expires_at', '>', nowIso)
    .where('u.is_active', '=', 1)
    .executeTakeFirst();
  return row?.expires_at;
}

export async function insertResenvGrant(
  q: Q,
  g: { digest: string; userId: number; sessionId: string; vmId: string; createdAt: string; expiresAt: string },
): Promise<void> {
  await q
    .insertInto('resenv_grants')
    .values({ digest: g.digest, user_id: g.userId, session_id: g.sessionId, vm_openstack_id: g.vmId, created_at: g.createdAt, expires_at: g.expiresAt })
    .execute();
}

/** The user of a grant for this VM whose session is still live, or undefined. */
export function findResenvGrantUser(q: Q, digest: string, vmId: string, nowIso: string) {
  return q
    .selectFrom('resenv_grants as g')
    .innerJoin('sessions as s', 's.id', 'g.session_id')
    .innerJoin('users as u', 'u.id', 'g.user_id')
    .select(['u.id as user_id', 'u.username', 'u.is_superuser', 's.id as session_id'])
    .where('g.digest', '=', digest)
    .where('g.vm_openstack_id', '=', vmId)
    .where('g.expires_at', '>', nowIso)
    .whereRef('s.user_id', '=', 'g.user_id')
    .where('s.expires_at', '>', nowIso)
    .where('u.is_active', '=', 1)
    .executeTakeFirst();
}

/** Housekeeping: tickets and grants past their expiry are of no use to anyone. */
export async function deleteExpiredResenvPasses(q: Q, nowIso: string): Promise<void> {
  await q.deleteFrom('resenv_tickets').where('expires_at', '<=', nowIso).execute();
  await q.deleteFrom('resenv_grants').where('expires_at', '<=', nowIso).execute();
}
