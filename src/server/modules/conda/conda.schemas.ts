import { Type } from '@sinclair/typebox';
import { CONDA_CHANNELS, MAX_CONDA_RESULTS } from './conda.catalogue.js';

export const CondaCataloguePackageOut = Type.Object(
  {
    name: Type.String({ description: 'The package\'s name, as `conda_packages` of POST /api/vms/ takes it.' }),
    versions: Type.Array(Type.String(), { description: 'Versions to offer, newest first (`name=version`); others may be asked for too. Without one, the latest is installed.' }),
    channel: Type.Union(CONDA_CHANNELS.map((c) => Type.Literal(c)), { description: 'The channel it comes from.' }),
  },
  { $id: 'CondaCataloguePackage', description: 'A conda package of the portal\'s catalogue: the shipped bioconda list, or the site\'s SIMPLEVM_CONDA_CATALOGUE.' },
);

export const CondaSearchQuery = Type.Object({
  q: Type.Optional(Type.String({
    maxLength: 100,
    description: `Text the name contains, ignoring case. The exact name comes first, then names that begin with it, then the rest, each group by name; at most ${MAX_CONDA_RESULTS}. Empty or absent: every package, by name.`,
  })),
});
