// What every module gets: configuration, database, cloud and the transition worker.
import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CloudProvider } from './cloud/provider.js';
import type { Config } from './config.js';
import type { Db } from './db/index.js';
import type { TransitionWorker } from './transitions/worker.js';

export interface AppContext {
  config: Config;
  db: Db;
  cloud: CloudProvider;
  worker: TransitionWorker;
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export const nowIso = (): string => new Date().toISOString();
