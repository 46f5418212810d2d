import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { getWithAlias } from '../aliases.js';
import { projectFieldReach } from '../reach.hooks.js';
import { isProjectReachable } from './projects.repository.js';
import { ProjectIdParams } from '../shared.schemas.js';
import { FlavorOut, ImageOut, ProjectOut, ProjectSummary } from './projects.schemas.js';
import { getProject, listProjectsFor, projectFlavors, projectImages, projectSnapshots } from './projects.service.js';

export function projectsRoutes(app: App, ctx: AppContext): void {
  for (const s of [ProjectSummary, ProjectOut, FlavorOut, ImageOut]) app.addSchema(s);
  const config = { auth: 'any' as const, scope: 'project:read' as const, reach: projectFieldReach(isProjectReachable, ctx, 'params', 'id') };

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
}
