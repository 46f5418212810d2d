// SQL for the cloud's flavors and images, copied from the cloud at start.
import type { Kysely, Transaction } from 'kysely';
import type { CloudFlavor, CloudImage } from '../../cloud/provider.js';
import type { Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

/**
 * Makes the tables hold exactly these flavors and images. Upserts rather than delete-and-insert:
 * instances starting together on one PostgreSQL database run this at once, and a second
 * delete-then-insert would not see the first one's new rows and fail on their names.
 */
export async function replaceCatalog(trx: Transaction<Database>, flavors: CloudFlavor[], images: CloudImage[]): Promise<void> {
  const flavorNames = flavors.map((f) => f.name);
  const imageNames = images.map((i) => i.name);
  await (flavorNames.length ? trx.deleteFrom('flavors').where('name', 'not in', flavorNames) : trx.deleteFrom('flavors')).execute();
  await (imageNames.length ? trx.deleteFrom('images').where('name', 'not in', imageNames) : trx.deleteFrom('images')).execute();
  if (flavors.length) {
    await trx
      .insertInto('flavors')
      .values(flavors)
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ vcpus: eb.ref('excluded.vcpus'), ram_gb: eb.ref('excluded.ram_gb'), disk_gb: eb.ref('excluded.disk_gb') })))
      .execute();
  }
  if (images.length) {
    await trx
      .insertInto('images')
      .values(images.map((i) => ({ name: i.name, tags: JSON.stringify(i.tags), default_user: i.defaultUser ?? null })))
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ tags: eb.ref('excluded.tags'), default_user: eb.ref('excluded.default_user') })))
      .execute();
  }
}

export function listFlavors(q: Q): Promise<CloudFlavor[]> {
  return q.selectFrom('flavors').select(['name', 'vcpus', 'ram_gb', 'disk_gb']).orderBy('vcpus').orderBy('name').execute();
}

export function findFlavor(q: Q, name: string): Promise<CloudFlavor | undefined> {
  return q.selectFrom('flavors').select(['name', 'vcpus', 'ram_gb', 'disk_gb']).where('name', '=', name).executeTakeFirst();
}

export async function listImages(q: Q): Promise<CloudImage[]> {
  const rows = await q.selectFrom('images').select(['name', 'tags']).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, tags: JSON.parse(r.tags) as string[] }));
}

export async function imageExists(q: Q, name: string): Promise<boolean> {
  return (await q.selectFrom('images').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
}
