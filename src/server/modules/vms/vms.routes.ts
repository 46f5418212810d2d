import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses, invalid } from '../../errors.js';
import { getWithAlias } from '../aliases.js';
import { isProjectReachable } from '../projects/projects.repository.js';
import { projectFieldReach, objectParamReach } from '../reach.hooks.js';
import { OpenstackIdParams, pageJson, pageOf } from '../shared.schemas.js';
import { isVmReachable } from './vms.repository.js';
import { VmActionBody, VmCreateBody, VmListQuery, VmOut, VmPage, VmSetup, VmSetupReportBody } from './vms.schemas.js';
import { reportSetup, setupLogOf } from './vms.setup.js';
import { changeVm, createVm, getVm, listVmsFor } from './vms.service.js';

/** A VM in a list page: the item schema pageJson serializes each page's results with. */
const VM_REF = Type.Ref('Vm');
const JSON_TYPE = 'application/json; charset=utf-8';

const asList = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * SimpleVM's form posts name launch volumes as `volume_ids` repeated with `volume_paths` in the same
 * order (spec §8): they become `volumes`.
 */
export function pairedVolumeFields(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const { volume_ids, volume_paths, ...rest } = body as Record<string, unknown>;
  if (volume_ids === undefined && volume_paths === undefined) return body;
  const ids = asList(volume_ids);
  const paths = asList(volume_paths);
  if ('volumes' in rest) throw invalid('volumes', 'Give the volumes either as volumes or as volume_ids with volume_paths, not both.');
  if (ids.length !== paths.length) throw invalid('volume_paths', 'Give one volume_paths value for each volume_ids value, in the same order.');
  return { ...rest, volumes: ids.map((id, i) => ({ openstack_id: id, path: paths[i] })) };
}

export function vmsRoutes(app: App, ctx: AppContext): void {
  app.addSchema(VmSetup);
  app.addSchema(VmOut);
  // Only the action routes need reach checked before validation: the others have no body to validate.
  const vmReach = objectParamReach(isVmReachable, ctx, 'VM');

  // Also SimpleVM's GET /api/vms/by-api-key/ (spec §8). A static segment wins over a parameter in
  // the router, so `by-api-key` is never taken for a VM's id.
  getWithAlias(app, '/vms', { url: '/vms/by-api-key', operationId: 'listVmsByApiKey' }, {
    config: { auth: 'any', scope: 'vm:read', reach: projectFieldReach(isProjectReachable, ctx, 'query', 'project_id') },
    schema: { operationId: 'listVms', tags: ['vms'], summary: 'VMs the caller may see, newest first.', querystring: VmListQuery, response: { 200: VmPage, ...errorResponses } },
    handler: async (request, reply) => {
      const q = request.query;
      const page = q.page ?? 1;
      const pageSize = q.page_size ?? 50;
      const filters = { projectId: q.project_id, status: q.status, text: q.text, owner: q.owner, openstackId: q.openstack_id };
      const { count, results } = await listVmsFor(ctx, principalOf(request), filters, page, pageSize);
      return reply.type(JSON_TYPE).send(pageJson(reply, VM_REF, pageOf(ctx.config, request, results, count, page, pageSize)));
    },
  });

  app.post('/vms', {
    config: { auth: 'any', scope: 'vm:create', reach: projectFieldReach(isProjectReachable, ctx, 'body', 'project_id') },
    // After the guard's form coercion: SimpleVM's form fields for the launch volumes.
    preValidation: async (request) => {
      request.body = pairedVolumeFields(request.body) as typeof request.body;
    },
    schema: { operationId: 'createVm', tags: ['vms'], summary: 'Start a new VM; it is BUILD until the cloud reports it ACTIVE.', body: VmCreateBody, response: { 201: Type.Ref('Vm'), ...errorResponses } },
  }, async (request, reply) => reply.code(201).send(await createVm(ctx, principalOf(request), request.body)));

  app.get('/vms/:openstack_id', {
    config: { auth: 'any', scope: 'vm:read' },
    schema: { operationId: 'getVm', tags: ['vms'], summary: 'One VM (also when DELETED).', params: OpenstackIdParams, response: { 200: Type.Ref('Vm'), ...errorResponses } },
  }, async (request) => getVm(ctx, principalOf(request), request.params.openstack_id));

  app.post('/vms/:openstack_id/action', {
    config: { auth: 'any', scope: 'vm:change_state', reach: vmReach },
    schema: { operationId: 'vmAction', tags: ['vms'], summary: 'Stop, resume or reboot a VM.', params: OpenstackIdParams, body: VmActionBody, response: { 202: Type.Ref('Vm'), ...errorResponses } },
  }, async (request, reply) => {
    const { os_action, reboot_type } = request.body;
    return reply.code(202).send(await changeVm(ctx, principalOf(request), request.params.openstack_id, os_action, reboot_type ?? 'SOFT'));
  });

  // The VM's own first boot reports here (spec §10), with the token of its user data: no key, no session.
  app.post('/vms/:openstack_id/setup', {
    config: { auth: 'none' },
    schema: {
      operationId: 'reportVmSetup', tags: ['vms'], summary: 'A VM reports its first-boot setup (header X-Setup-Token, from its user data).',
      params: OpenstackIdParams, body: VmSetupReportBody, response: { 200: Type.Ref('VmSetup'), ...errorResponses },
    },
  }, async (request) => {
    const token = request.headers['x-setup-token'];
    return reportSetup(ctx, request.params.openstack_id, typeof token === 'string' ? token : undefined, request.body, request.ip);
  });

  app.get('/vms/:openstack_id/setup/log', {
    config: { auth: 'any', scope: 'vm:read' },
    schema: {
      operationId: 'getVmSetupLog', tags: ['vms'], summary: 'The tail of the VM\'s first-boot setup log, as it last reported it.',
      params: OpenstackIdParams, produces: ['text/plain'],
      response: { 200: { description: 'The log (text/plain).', content: { 'text/plain': { schema: Type.String() } } }, ...errorResponses },
    },
  }, async (request, reply) => reply.type('text/plain; charset=utf-8').send(await setupLogOf(ctx, principalOf(request), request.params.openstack_id)));

  app.delete('/vms/:openstack_id', {
    config: { auth: 'any', scope: 'vm:delete' },
    schema: { operationId: 'deleteVm', tags: ['vms'], summary: 'Delete a VM; it ends DELETED and its volumes become available.', params: OpenstackIdParams, response: { 202: Type.Ref('Vm'), ...errorResponses } },
  }, async (request, reply) => reply.code(202).send(await changeVm(ctx, principalOf(request), request.params.openstack_id, 'delete')));
}
