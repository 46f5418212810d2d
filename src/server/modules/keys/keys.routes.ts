import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { assertProjectFieldReachable } from '../reach.hooks.js';
import { KeyCreateBody, KeyCreated, KeyIdParams, KeyOut, ScopeName } from './keys.schemas.js';
import { createKey, deleteKeyOf, listKeysFor } from './keys.service.js';

export function keysRoutes(app: App, ctx: AppContext): void {
  for (const s of [ScopeName, KeyOut, KeyCreated]) app.addSchema(s);

  app.get('/keys', {
    config: { auth: 'session' },
    schema: { operationId: 'listKeys', tags: ['keys'], summary: 'Your live API keys (never the secret). Web session only.', response: { 200: Type.Array(Type.Ref('ApiKey')), ...errorResponses } },
  }, async (request) => listKeysFor(ctx, principalOf(request)));

  app.post('/keys', {
    config: { auth: 'session', reach: (r) => assertProjectFieldReachable(ctx, r, 'body', 'project_id') },
    schema: {
      operationId: 'createKey', tags: ['keys'],
      summary: 'Make an API key. The response holds the key; it is never shown again. Web session only.',
      body: KeyCreateBody, response: { 201: Type.Ref('ApiKeyCreated'), ...errorResponses },
    },
  }, async (request, reply) => reply.code(201).send(await createKey(ctx, principalOf(request), request.body)));

  app.delete('/keys/:id', {
    config: { auth: 'session' },
    schema: { operationId: 'deleteKey', tags: ['keys'], summary: 'Delete (revoke) a key; it stops working before this answers. Web session only.', params: KeyIdParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (request, reply) => {
    await deleteKeyOf(ctx, principalOf(request), request.params.id);
    return reply.code(204).send();
  });
}
