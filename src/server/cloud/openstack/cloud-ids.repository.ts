// SQL for the OpenStack provider's map from the portal's ids to the cloud's.
import type { Kysely } from 'kysely';
import type { CloudIdsTable, Database } from '../../db/types.js';

export type CloudKind = CloudIdsTable['kind'];

export interface CloudIdRow {
  kind: CloudKind;
  cloud_id: string | null;
  fault: string | null;
}

export function findCloudId(db: Kysely<Database>, portalId: string, kind: CloudKind): Promise<CloudIdRow | undefined> {
  return db.selectFrom('cloud_ids').select(['kind', 'cloud_id', 'fault']).where('portal_id', '=', portalId).where('kind', '=', kind).executeTakeFirst();
}

/** Records the cloud's id (or, with cloud_id null, why the cloud refused to create it). */
export async function saveCloudId(db: Kysely<Database>, row: { portal_id: string; kind: CloudKind; cloud_id: string | null; fault: string | null }): Promise<void> {
  await db
    .insertInto('cloud_ids')
    .values({ ...row, created_at: new Date().toISOString() })
    .onConflict((oc) => oc.column('portal_id').doUpdateSet({ cloud_id: row.cloud_id, fault: row.fault }))
    .execute();
}

/** The portal's id of each of these cloud ids that it knows. */
export async function portalIdsOf(db: Kysely<Database>, kind: CloudKind, cloudIds: string[]): Promise<Map<string, string>> {
  if (cloudIds.length === 0) return new Map();
  const rows = await db.selectFrom('cloud_ids').select(['portal_id', 'cloud_id']).where('kind', '=', kind).where('cloud_id', 'in', cloudIds).execute();
  return new Map(rows.map((r) => [r.cloud_id as string, r.portal_id]));
}
