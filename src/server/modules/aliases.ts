// SimpleVM's own names for routes the portal has (spec §8: `/api/vms/by-api-key/` is
// `/api/vms/`, `…/snapshots/images/` is `…/snapshots/`): one route — one options object, one
// handler — registered under both URLs, so that the two can never answer differently.
//
// Both URLs are in the OpenAPI document, each as an operation of its own (OpenAPI wants a unique
// operationId per operation, hence the alias's own id). That is needed, not just tidy: the
// generated checks over "every documented route" (test/key-security.test.ts, test/property.test.ts)
// then cover the aliases too, and a script writer finds SimpleVM's paths in the docs and in the
// typed client. The /portal/api/ copies stay undocumented, as for every route (app.ts).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  ContextConfigDefault, FastifyBaseLogger, FastifySchema, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault,
  RouteGenericInterface, RouteShorthandOptionsWithHandler,
} from 'fastify';
import type { App } from '../context.js';

/** A GET route's options with its handler, typed from its schema as `app.get` types them. */
export type GetRoute<S extends FastifySchema> = RouteShorthandOptionsWithHandler<
  RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, RouteGenericInterface, ContextConfigDefault, S, TypeBoxTypeProvider, FastifyBaseLogger
>;

export interface Alias {
  /** SimpleVM's URL for the route, below the prefix (`/vms/by-api-key`). */
  url: string;
  /** The alias's own operationId in the OpenAPI document. */
  operationId: string;
}

/**
 * Registers `route` at `url` and at SimpleVM's name for it. The alias is documented as the same
 * operation under another name: same schemas, and a description that points at the original.
 */
export function getWithAlias<const S extends FastifySchema & { operationId: string }>(app: App, url: string, alias: Alias, route: GetRoute<S>): void {
  app.get(url, route);
  const schema = route.schema as S & { description?: string };
  const documented = url.replace(/:(\w+)/g, '{$1}');
  const same = `SimpleVM's name for \`GET /api${documented}/\` (${schema.operationId}): the same route, the same answer.`;
  app.get(alias.url, {
    ...route,
    schema: { ...schema, operationId: alias.operationId, description: schema.description ? `${same} ${schema.description}` : same },
  } as GetRoute<S>);
}
