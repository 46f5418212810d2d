import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { pageOf } from '../shared.schemas.js';
import { listAuditEvents } from './audit.repository.js';
import { AuditEventOut, AuditPage, AuditQuery } from './audit.schemas.js';

export function auditRoutes(app: App, ctx: AppContext): void {
  app.addSchema(AuditEventOut);

  app.get('/audit', {
    config: { auth: 'any' },
    schema: {
      operationId: 'listAuditEvents', tags: ['audit'],
      summary: 'Audit events the caller may see, newest first: a superuser all; others their own acts and acts on their keys and objects. ?mine=true: the caller\'s own, for anyone.',
      querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses },
    },
  }, async (request) => {
    const p = principalOf(request);
    const page = request.query.page ?? 1;
    const pageSize = request.query.page_size ?? 50;
    // ?mine=true narrows a superuser's log to what anyone else sees of theirs (the profile's list).
    const all = p.user.isSuperuser && !(p.key?.ownObjectsOnly ?? false) && request.query.mine !== true;
    const visibility = { all, userId: p.user.id, projectId: p.key?.projectId ?? null };
    const { count, rows } = await listAuditEvents(ctx.db.kysely, visibility, request.query.action, page, pageSize);
    return pageOf(ctx.config, request, rows, count, page, pageSize);
  });
}
