import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { getWithAlias } from '../aliases.js';
import { isProjectReachable } from '../projects/projects.repository.js';
import { projectFieldReach, objectParamReach } from '../reach.hooks.js';
import { OpenstackIdParams, pageOf } from '../shared.schemas.js';
import { isVolumeReachable } from './volumes.repository.js';
import { VolumeActionBody, VolumeCreateBody, VolumeListQuery, VolumeOut, VolumePage } from './volumes.schemas.js';
import { changeVolume, createVolume, getVolume, listVolumesFor } from './volumes.service.js';

export function volumesRoutes(app: App, ctx: AppContext): void {
  app.addSchema(VolumeOut);
  // Only the action routes need reach checked before validation: the others have no body to validate.
  const volumeReach = objectParamReach(isVolumeReachable, ctx, 'volume');

  // Also SimpleVM's GET /api/volumes/by-api-key/ (spec §8); the static segment wins over a volume id.
  getWithAlias(app, '/volumes', { url: '/volumes/by-api-key', operationId: 'listVolumesByApiKey' }, {
    config: { auth: 'any', scope: 'volume:read', reach: projectFieldReach(isProjectReachable, ctx, 'query', 'project_id') },
    schema: { operationId: 'listVolumes', tags: ['volumes'], summary: 'Volumes the caller may see, newest first.', querystring: VolumeListQuery, response: { 200: VolumePage, ...errorResponses } },
    handler: async (request) => {
      const q = request.query;
      const page = q.page ?? 1;
      const pageSize = q.page_size ?? 50;
      const { count, results } = await listVolumesFor(ctx, principalOf(request), { projectId: q.project_id, status: q.status }, page, pageSize);
      return pageOf(ctx.config, request, results, count, page, pageSize);
    },
  });

  app.post('/volumes', {
    config: { auth: 'any', scope: 'volume:create', reach: projectFieldReach(isProjectReachable, ctx, 'body', 'project_id') },
    schema: { operationId: 'createVolume', tags: ['volumes'], summary: 'Create a volume; it is creating until the cloud reports it available.', body: VolumeCreateBody, response: { 201: Type.Ref('Volume'), ...errorResponses } },
  }, async (request, reply) => reply.code(201).send(await createVolume(ctx, principalOf(request), request.body)));

  app.get('/volumes/:openstack_id', {
    config: { auth: 'any', scope: 'volume:read' },
    schema: { operationId: 'getVolume', tags: ['volumes'], summary: 'One volume.', params: OpenstackIdParams, response: { 200: Type.Ref('Volume'), ...errorResponses } },
  }, async (request) => getVolume(ctx, principalOf(request), request.params.openstack_id));

  app.post('/volumes/:openstack_id/action', {
    config: { auth: 'any', scope: 'volume:change_state', reach: volumeReach },
    schema: { operationId: 'volumeAction', tags: ['volumes'], summary: 'Attach to a VM of the same project, detach, or extend.', params: OpenstackIdParams, body: VolumeActionBody, response: { 202: Type.Ref('Volume'), ...errorResponses } },
  }, async (request, reply) => reply.code(202).send(await changeVolume(ctx, principalOf(request), request.params.openstack_id, request.body)));

  app.delete('/volumes/:openstack_id', {
    config: { auth: 'any', scope: 'volume:delete' },
    schema: { operationId: 'deleteVolume', tags: ['volumes'], summary: 'Delete an available volume; once gone, GET answers 404.', params: OpenstackIdParams, response: { 202: Type.Ref('Volume'), ...errorResponses } },
  }, async (request, reply) => reply.code(202).send(await changeVolume(ctx, principalOf(request), request.params.openstack_id, { os_action: 'delete' })));
}
