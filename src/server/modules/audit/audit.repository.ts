// SQL for the audit log.
import type { Kysely, Transaction } from 'kysely';
import { boundedCount, countBoundOf, countOfPage } from '../../db/paging.js';
import type { AuditEventsTable, Database } from '../../db/types.js';
import type { Insertable } from 'kysely';

type Q = Kysely<Database> | Transaction<Database>;

export async function insertAuditEvent(q: Q, e: Insertable<AuditEventsTable>): Promise<void> {
  await q.insertInto('audit_events').values(e).execute();
}

export interface AuditVisibility {
  /** Every event (a superuser); otherwise the user's own acts and acts done to their keys and objects. */
  all: boolean;
  userId: number;
  /** A key bound to a project: only the events of that project (no logins, nothing elsewhere). */
  projectId: number | null;
}

function visible(q: Q, v: AuditVisibility, action: string | undefined) {
  let query = q.selectFrom('audit_events');
  if (v.projectId !== null) query = query.where('project_id', '=', v.projectId);
  if (!v.all) query = query.where((eb) => eb.or([eb('actor_id', '=', v.userId), eb('subject_id', '=', v.userId)]));
  if (action !== undefined) query = query.where('action', '=', action);
  return query;
}

export async function listAuditEvents(q: Q, v: AuditVisibility, action: string | undefined, page: number, pageSize: number) {
  const bound = countBoundOf(page, pageSize);
  const rows = await visible(q, v, action)
    .select(['at', 'actor', 'key_prefix', 'action', 'object_type', 'object_id', 'ip', 'outcome', 'detail'])
    .select(boundedCount(q, visible(q, v, action), bound).as('total'))
    .orderBy('id', 'desc')
    .limit(pageSize)
    .offset((page - 1) * pageSize)
    .execute();
  const count = await countOfPage(rows, page, pageSize, async () => Number((await boundedCount(q, visible(q, v, action), bound).executeTakeFirstOrThrow()).n));
  // Stored as JSON text (the same column type on both databases), answered as an object.
  return {
    count,
    rows: rows.map((r) => ({
      at: r.at, actor: r.actor, key_prefix: r.key_prefix, action: r.action, object_type: r.object_type, object_id: r.object_id, ip: r.ip, outcome: r.outcome,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    })),
  };
}

/** Records that a key was used from an address; true when the address is new for the key. */
export async function rememberKeyIp(q: Q, keyId: number, ip: string, nowIso: string): Promise<boolean> {
  const seen = await q.selectFrom('api_key_ips').select('ip').where('key_id', '=', keyId).where('ip', '=', ip).executeTakeFirst();
  if (seen) return false;
  // Concurrent first uses from one address race to insert the same row: the loser has nothing to record.
  const r = await q
    .insertInto('api_key_ips')
    .values({ key_id: keyId, ip, first_seen_at: nowIso })
    .onConflict((oc) => oc.columns(['key_id', 'ip']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}
