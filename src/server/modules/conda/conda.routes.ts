// Conda packages (spec §10): the catalogue's search, for the New VM form's picker and for scripts.
// Any authenticated caller may search, a session or a key of any scope: the catalogue is the same
// for everyone and holds nothing of anyone's.
import { Type } from '@sinclair/typebox';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { MAX_CONDA_RESULTS, condaCatalogue, searchCondaCatalogue } from './conda.catalogue.js';
import { CondaCataloguePackageOut, CondaSearchQuery } from './conda.schemas.js';

export function condaRoutes(app: App, ctx: AppContext): void {
  app.addSchema(CondaCataloguePackageOut);
  // Read at start: a missing or invalid SIMPLEVM_CONDA_CATALOGUE stops the server (ConfigError).
  condaCatalogue(ctx.config);

  app.get('/conda/packages', {
    config: { auth: 'any' },
    schema: {
      operationId: 'searchCondaPackages', tags: ['conda'],
      summary: 'Conda packages of the portal\'s catalogue whose name contains q, for `conda_packages` of a new VM (any authenticated caller; no scope needed).',
      querystring: CondaSearchQuery,
      response: { 200: Type.Array(Type.Ref('CondaCataloguePackage'), { maxItems: MAX_CONDA_RESULTS }), ...errorResponses },
    },
  }, async (request) => searchCondaCatalogue(condaCatalogue(ctx.config), request.query.q ?? ''));
}
