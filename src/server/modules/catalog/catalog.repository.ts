// SQL for the cloud's flavors and images, copied from the cloud at start.
import type { Kysely, Transaction } from 'kysely';
import type { CloudFlavor, CloudImage } from '../../cloud/provider.js';
import type { Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export async function replaceCatalog(trx: Transaction<Database>, flavors: CloudFlavor[], images: CloudImage[]): Promise<void> {
  await trx.deleteFrom('flavors').execute();
  await trx.deleteFrom('images').execute();
  if (flavors.length) await trx.insertInto('flavors').values(flavors).execute();
  if (images.length) await trx.insertInto('images').values(images.map((i) => ({ name: i.name, tags: JSON.stringify(i.tags) }))).execute();
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
