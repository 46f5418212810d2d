import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { getWithAlias } from '../aliases.js';
import { projectFieldReach } from '../reach.hooks.js';
import { isProjectReachable } from './projects.repository.js';
import { ProjectIdParams } from '../shared.schemas.js';
import { FlavorOut, ImageOut, ProjectMemberBody, ProjectMemberOut, ProjectMemberParams, ProjectOut, ProjectSummary } from './projects.schemas.js';
import {
  getProject, listProjectMembers, listProjectsFor, projectFlavors, projectImages, projectSnapshots, removeProjectMember, setProjectMember,
} from './projects.service.js';

export function projectsRoutes(app: App, ctx: AppContext): void {
  for (const s of [ProjectMemberOut, ProjectSummary, ProjectOut, FlavorOut, ImageOut]) app.addSchema(s);
  const reach = projectFieldReach(isProjectReachable, ctx, 'params', 'id');
  const config = { auth: 'any' as const, scope: 'project:read' as const, reach };
  // Managing members is for a web session, like managing keys: an API key is refused (403 session_required).
  const manage = { auth: 'session' as const, reach };

  // Also SimpleVM's GET /api/projects/by-api-key/ (spec §8): the projects the key reaches, one for
  // a bound key. The static segment wins over a project id.
  getWithAlias(app, '/projects', { url: '/projects/by-api-key', operationId: 'listProjectsByApiKey' }, {
    config: { auth: 'any', scope: 'project:read' },
    schema: { operationId: 'listProjects', tags: ['projects'], summary: 'Projects the caller belongs to (every project, for a superuser\'s session).', response: { 200: Type.Array(Type.Ref('ProjectSummary')), ...errorResponses } },
    handler: async (request) => listProjectsFor(ctx, principalOf(request)),
  });

  app.get('/projects/:id', {
    config,
    schema: { operationId: 'getProject', tags: ['projects'], summary: 'A project with its quota, usage and members.', params: ProjectIdParams, response: { 200: Type.Ref('Project'), ...errorResponses } },
  }, async (request) => getProject(ctx, principalOf(request), request.params.id));

  app.get('/projects/:id/flavors', {
    config,
    schema: { operationId: 'listFlavors', tags: ['projects'], summary: 'Flavors a VM of the project can have.', params: ProjectIdParams, response: { 200: Type.Array(Type.Ref('Flavor')), ...errorResponses } },
  }, async (request) => projectFlavors(ctx, principalOf(request), request.params.id));

  app.get('/projects/:id/images', {
    config,
    schema: { operationId: 'listImages', tags: ['projects'], summary: 'Images a VM of the project can boot, including its active snapshots.', params: ProjectIdParams, response: { 200: Type.Array(Type.Ref('Image')), ...errorResponses } },
  }, async (request) => projectImages(ctx, principalOf(request), request.params.id));

  // Also SimpleVM's GET /api/projects/{id}/snapshots/images/ (spec §8).
  getWithAlias(app, '/projects/:id/snapshots', { url: '/projects/:id/snapshots/images', operationId: 'listSnapshotImages' }, {
    config,
    schema: { operationId: 'listSnapshots', tags: ['projects'], summary: 'Snapshots of the project that the caller may see.', params: ProjectIdParams, response: { 200: Type.Array(Type.Ref('Snapshot')), ...errorResponses } },
    handler: async (request) => projectSnapshots(ctx, principalOf(request), request.params.id),
  });

  app.get('/projects/:id/members', {
    config,
    schema: {
      operationId: 'listProjectMembers', tags: ['projects'],
      summary: 'The project\'s members and their roles, by username. Anyone who reaches the project; 404 for others.',
      params: ProjectIdParams, response: { 200: Type.Array(Type.Ref('ProjectMember')), ...errorResponses },
    },
  }, async (request) => listProjectMembers(ctx, principalOf(request), request.params.id));

  app.post('/projects/:id/members', {
    config: manage,
    schema: {
      operationId: 'setProjectMember', tags: ['projects'],
      summary: 'Add a user to the project, or set an existing member\'s role. The project\'s admins and superusers, web session only.',
      description: '201 with the member when they were not one before; 200 when an existing member\'s role was set (also to the role they had). ' +
        'An unknown user is 400 `invalid` on `username`; a member who is not the project\'s admin gets 403 `permission_denied`; ' +
        'demoting the project\'s last admin is 409 `invalid_state`. Audit action `project.member_add`, detail `username` and `role`.',
      params: ProjectIdParams, body: ProjectMemberBody,
      response: { 200: Type.Ref('ProjectMember'), 201: Type.Ref('ProjectMember'), ...errorResponses },
    },
  }, async (request, reply) => {
    const { member, added } = await setProjectMember(ctx, principalOf(request), request.params.id, request.body);
    return reply.code(added ? 201 : 200).send(member);
  });

  app.delete('/projects/:id/members/:username', {
    config: manage,
    schema: {
      operationId: 'removeProjectMember', tags: ['projects'],
      summary: 'Remove a member from the project. The project\'s admins and superusers, web session only.',
      description: '204; 404 for a user who is not a member. Removing the project\'s last admin (also oneself) is 409 `invalid_state`: ' +
        'make another member admin first. What the member created stays in the project, theirs, out of their reach until they are added ' +
        'again. Audit action `project.member_remove`, detail `username` and the `role` they had.',
      params: ProjectMemberParams, response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (request, reply) => {
    await removeProjectMember(ctx, principalOf(request), request.params.id, request.params.username);
    return reply.code(204).send();
  });
}
