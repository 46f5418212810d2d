// Assembles a portal: database (migrated), cloud, transition worker and the HTTP app.
import type { FastifyBaseLogger } from 'fastify';
import { buildApp, type BuildOptions } from './app.js';
import { OpenStackProvider } from './cloud/openstack/openstack.provider.js';
import type { CloudProvider } from './cloud/provider.js';
import { SimulatedProvider } from './cloud/simulated/simulated.provider.js';
import type { Config } from './config.js';
import type { App, AppContext } from './context.js';
import { type Db, openDatabase } from './db/index.js';
import { migrateToLatest } from './db/migrate.js';
import { syncCatalog } from './modules/catalog/catalog.service.js';
import { snapshotTransitions } from './modules/snapshots/snapshots.transitions.js';
import { vmTransitions } from './modules/vms/vms.transitions.js';
import { volumeTransitions } from './modules/volumes/volumes.transitions.js';
import type { TransitionRegistry } from './transitions/definitions.js';
import { TransitionWorker } from './transitions/worker.js';

export interface Portal {
  app: App;
  ctx: AppContext;
  /** Starts the transition worker (serve does; tests may drive `ctx.worker.tick()` themselves). */
  startWorker(): void;
  close(): Promise<void>;
}

/** Each resource's transitions, by the object type of its transitions rows: the engine knows none of them itself. */
const TRANSITIONS: TransitionRegistry = { vm: vmTransitions, volume: volumeTransitions, snapshot: snapshotTransitions };

/** `simFixedIp`: the address the simulated cloud gives every server (tests reach a server of their own so). */
export function createCloud(config: Config, db: Db, simFixedIp: string | null = null): CloudProvider {
  // loadConfig gives `openstack` settings exactly when SIMPLEVM_CLOUD=openstack.
  if (config.openstack) return new OpenStackProvider(db.kysely, config.openstack);
  return new SimulatedProvider(db.kysely, config.simDelayMs, simFixedIp);
}

export async function createPortal(config: Config, opts: BuildOptions & { db?: Db; simFixedIp?: string } = {}): Promise<Portal> {
  const db = opts.db ?? openDatabase(config.databaseUrl, { pool: config.dbPool, readCache: config.readCache });
  await migrateToLatest(db.kysely);
  const cloud = createCloud(config, db, opts.simFixedIp ?? null);
  await syncCatalog({ db, cloud });
  const ctx = { config, db, cloud } as AppContext;
  const app = await buildApp(ctx, opts);
  // PostgreSQL: hear other instances' key changes, so that key checks may answer from memory.
  await db.startKeyFeed(undefined, (msg, err) => app.log.warn({ err }, msg));
  // The simulated first boot reports its setup through the same route as a real VM (spec §10).
  if (cloud instanceof SimulatedProvider) {
    cloud.reportSetupWith(async (id, token, body) => (await app.inject({
      method: 'POST', url: `/api/vms/${id}/setup/`, headers: { 'x-setup-token': token, 'content-type': 'application/json' }, payload: JSON.stringify(body),
    })).statusCode);
  }
  ctx.worker = new TransitionWorker(db, cloud, TRANSITIONS, app.log as FastifyBaseLogger, { pollMs: config.workerPollMs, leaseMs: config.leaseMs });
  let closed = false;
  return {
    app,
    ctx,
    startWorker: () => ctx.worker.start(),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await ctx.worker.stop();
      if (!opts.db) await db.destroy();
    },
  };
}
