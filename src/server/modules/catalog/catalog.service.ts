// Keeps the portal's copy of the cloud's flavors and images.
import type { AppContext } from '../../context.js';
import { replaceCatalog } from './catalog.repository.js';

export async function syncCatalog(ctx: Pick<AppContext, 'db' | 'cloud'>): Promise<void> {
  const [flavors, images] = await Promise.all([ctx.cloud.listFlavors(), ctx.cloud.listImages()]);
  await ctx.db.kysely.transaction().execute((trx) => replaceCatalog(trx, flavors, images));
}
