import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses, sendError, toAppError } from '../../errors.js';
import { isProjectReachable } from '../projects/projects.repository.js';
import { projectFieldReach } from '../reach.hooks.js';
import { ProjectIdParams } from '../shared.schemas.js';
import { KeyCreateBody, KeyCreated, KeyIdParams, KeyOut, KeyRotateBody, ScopeName } from './keys.schemas.js';
import { createKey, deleteKeyOf, listKeysFor, listProjectKeysFor, revokeLeakedKey, rotateKey } from './keys.service.js';

const LEAK_THANKS = { detail: 'Thank you. If this was a live key, it has been revoked.' };

function keyFromBody(body: unknown): unknown {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && 'key' in parsed) return (parsed as { key: unknown }).key;
  } catch {
    // not JSON: try a form body
  }
  return new URLSearchParams(body).get('key') ?? undefined;
}

export function keysRoutes(app: App, ctx: AppContext): void {
  for (const s of [ScopeName, KeyOut, KeyCreated]) app.addSchema(s);

  app.get('/keys', {
    config: { auth: 'session' },
    schema: { operationId: 'listKeys', tags: ['keys'], summary: 'Your live API keys (never the secret). Web session only.', response: { 200: Type.Array(Type.Ref('ApiKey')), ...errorResponses } },
  }, async (request) => listKeysFor(ctx, principalOf(request)));

  // SimpleVM's keys per project (spec §8): key management, so a web session only, like GET /keys.
  app.get('/projects/:id/keys', {
    config: { auth: 'session' },
    schema: {
      operationId: 'listProjectKeys', tags: ['keys'],
      summary: 'Your live API keys bound to this project (never the secret). Web session only; 404 for a project out of reach.',
      params: ProjectIdParams, response: { 200: Type.Array(Type.Ref('ApiKey')), ...errorResponses },
    },
  }, async (request) => listProjectKeysFor(ctx, principalOf(request), request.params.id));

  app.post('/keys', {
    config: { auth: 'session', reach: projectFieldReach(isProjectReachable, ctx, 'body', 'project_id') },
    schema: {
      operationId: 'createKey', tags: ['keys'],
      summary: 'Make an API key. The response holds the key; it is never shown again. Web session only.',
      body: KeyCreateBody, response: { 201: Type.Ref('ApiKeyCreated'), ...errorResponses },
    },
  }, async (request, reply) => reply.code(201).send(await createKey(ctx, principalOf(request), request.body)));

  app.post('/keys/:id/rotate', {
    config: { auth: 'session' },
    schema: {
      operationId: 'rotateKey', tags: ['keys'],
      summary: 'Replace a key by a new one with the same settings; the old one dies now or after overlap_hours. Web session only.',
      params: KeyIdParams, body: Type.Optional(KeyRotateBody), response: { 201: Type.Ref('ApiKeyCreated'), ...errorResponses },
    },
  }, async (request, reply) => reply.code(201).send(await rotateKey(ctx, principalOf(request), request.params.id, request.body?.overlap_hours ?? 0)));

  // Whoever finds a key reports it here: no authentication, and 202 for any body at all, so the
  // answer tells nothing about the key. Its own parsers accept any content type.
  app.register(async (open: App) => {
    open.removeAllContentTypeParsers();
    open.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => done(null, body));
    // A body that cannot be read (over 16 KB, cut short) is answered 202 like any other, and the
    // connection is closed so that no more of it is read. Only a 429 (or the portal's own trouble)
    // is a different answer.
    open.setErrorHandler(async (err, request, reply) => {
      const e = toAppError(err);
      if (e.status >= 500 || e.code === 'rate_limited') return sendError(request, reply, err);
      await request.server.rateLimits.noteFailure(request.ip);
      return reply.header('connection', 'close').code(202).send(LEAK_THANKS);
    });
    open.post('/keys/revoke', {
      config: { auth: 'none', authFailure: true },
      schema: {
        operationId: 'revokeLeakedKey', tags: ['keys'],
        summary: 'Report a leaked key: {"key": "svm_…"} (JSON or form). A live key is revoked and its owner sees it in the audit log. Always 202.',
        // Any body at all is accepted (and answered 202), so it is described, not validated.
        body: Type.Any({ description: 'JSON {"key": "svm_…"} or form key=svm_…' }),
        response: { 202: Type.Object({ detail: Type.String() }), 429: Type.Ref('Error') },
      },
    }, async (request, reply) => {
      // A report of a key that is not live counts as a failed authentication (it may be a guess).
      const refund = await request.server.rateLimits.attempt(request.ip);
      if (await revokeLeakedKey(ctx, keyFromBody(request.body), request.ip)) await refund();
      return reply.code(202).send(LEAK_THANKS);
    });
  });

  app.delete('/keys/:id', {
    config: { auth: 'session' },
    schema: { operationId: 'deleteKey', tags: ['keys'], summary: 'Delete (revoke) a key; it stops working before this answers. Web session only.', params: KeyIdParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (request, reply) => {
    await deleteKeyOf(ctx, principalOf(request), request.params.id);
    return reply.code(204).send();
  });
}
