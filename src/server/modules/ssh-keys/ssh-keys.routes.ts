import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { SshKeyCreateBody, SshKeyCreated, SshKeyIdParams, SshKeyOut } from './ssh-keys.schemas.js';
import { createSshKey, deleteSshKeyOf, listSshKeysFor } from './ssh-keys.service.js';

// Public SSH keys (spec §9) are the user's own, on the profile: a web session only, like key management.
export function sshKeysRoutes(app: App, ctx: AppContext): void {
  for (const s of [SshKeyOut, SshKeyCreated]) app.addSchema(s);

  app.get('/profile/ssh-keys', {
    config: { auth: 'session' },
    schema: {
      operationId: 'listSshKeys', tags: ['ssh-keys'],
      summary: 'Your public SSH keys, oldest first; each goes into every VM you create. Web session only.',
      response: { 200: Type.Array(Type.Ref('SshKey')), ...errorResponses },
    },
  }, async (request) => listSshKeysFor(ctx, principalOf(request)));

  app.post('/profile/ssh-keys', {
    config: { auth: 'session' },
    schema: {
      operationId: 'createSshKey', tags: ['ssh-keys'],
      summary: 'Add a public SSH key (`public_key`), or have an ed25519 key pair made (`generate=true`): then the response holds ' +
        'the private key, this once. A malformed, too weak or duplicate key is 400 invalid. Web session only.',
      body: SshKeyCreateBody, response: { 201: Type.Ref('SshKeyCreated'), ...errorResponses },
    },
  }, async (request, reply) => reply.code(201).send(await createSshKey(ctx, principalOf(request), request.body)));

  app.delete('/profile/ssh-keys/:id', {
    config: { auth: 'session' },
    schema: {
      operationId: 'deleteSshKey', tags: ['ssh-keys'],
      summary: 'Delete one of your SSH keys; VMs made before keep it. Web session only.',
      params: SshKeyIdParams, response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (request, reply) => {
    await deleteSshKeyOf(ctx, principalOf(request), request.params.id);
    return reply.code(204).send();
  });
}
