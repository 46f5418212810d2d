import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { reachOf } from '../../auth/policy.js';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses, notFound } from '../../errors.js';
import { OpenstackIdParams } from '../shared.schemas.js';
import { isVmToSnapshotReachable } from './snapshots.repository.js';
import { SnapshotCreateBody, SnapshotOut } from './snapshots.schemas.js';
import { createSnapshot, deleteSnapshot } from './snapshots.service.js';

export function snapshotsRoutes(app: App, ctx: AppContext): void {
  app.addSchema(SnapshotOut);

  // The VM named in the body must be within reach before anything else is judged.
  const vmInBody = async (request: FastifyRequest) => {
    const body = request.body as Record<string, unknown> | null | undefined;
    const id = body && typeof body === 'object' ? body.snapshot_instance : undefined;
    if (typeof id === 'string' && (id.length > 64 || !(await isVmToSnapshotReachable(ctx.db.kysely, reachOf(principalOf(request)), id)))) {
      throw notFound('No such VM.');
    }
  };

  app.post('/snapshots', {
    config: { auth: 'any', scope: 'snapshot:create', reach: vmInBody },
    schema: {
      operationId: 'createSnapshot', tags: ['snapshots'], summary: 'Snapshot a VM; the snapshot becomes an image of its project when active.',
      body: SnapshotCreateBody, response: { 202: Type.Ref('Snapshot'), ...errorResponses },
    },
  }, async (request, reply) => reply.code(202).send(await createSnapshot(ctx, principalOf(request), request.body)));

  // SimpleVM's current API (spec §8), with its scope: deleting a snapshot needs vm:delete.
  app.delete('/snapshots/:openstack_id', {
    config: { auth: 'any', scope: 'vm:delete' },
    schema: {
      operationId: 'deleteSnapshot', tags: ['snapshots'],
      summary: 'Delete a snapshot: at once it is no longer listed nor an image of its project; the cloud then deletes the image. VMs made from it keep running.',
      description: 'Scope `vm:delete`. 409 `invalid_state` while the snapshot is still `queued`, or while a VM of its project is being built from it.',
      params: OpenstackIdParams, response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (request, reply) => {
    await deleteSnapshot(ctx, principalOf(request), request.params.openstack_id);
    return reply.code(204).send();
  });
}
