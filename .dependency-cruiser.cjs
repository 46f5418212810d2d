// The import graph's rules (issue 21), checked by test/architecture.test.ts (part of `npm test`) and
// by `npm run deps`. Type-only imports count too (tsPreCompilationDeps): a type import is still a
// dependency between layers. docs/architecture.md draws the layers these rules keep apart.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No file may import itself through others.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-is-the-ground',
      severity: 'error',
      comment: 'src/shared holds the contract and pure helpers that every part imports: it imports no part of the project.',
      from: { path: '^src/shared/' },
      to: { path: '^(src/(server|cli|client)|web)/' },
    },
    {
      name: 'auth-is-pure',
      severity: 'error',
      comment: 'auth/ is key format, hashing, policy data and route declarations: no database, no module, no HTTP machinery.',
      from: { path: '^src/server/auth/' },
      to: { path: '^src/server/(modules|db|http|cloud|transitions)/|^src/server/(app|portal|bootstrap|context|validation)\\.ts$' },
    },
    {
      name: 'ground-floor-files',
      severity: 'error',
      comment: 'errors.ts and config.ts are below everything in the server: they import only src/shared.',
      from: { path: '^src/server/(errors|config)\\.ts$' },
      to: { path: '^src/server/' },
    },
    {
      name: 'engine-knows-no-resource',
      severity: 'error',
      comment: 'transitions/ is the engine (queue, leases, worker); each resource registers its own transitions.',
      from: { path: '^src/server/transitions/' },
      to: { path: '^src/server/(modules|http)/|^src/server/(app|portal)\\.ts$' },
    },
    {
      name: 'db-below-modules',
      severity: 'error',
      comment: 'db/ opens the database and runs queries; what the queries are is the repositories\' business.',
      from: { path: '^src/server/db/' },
      to: { path: '^src/server/(modules|http|transitions|cloud)/' },
    },
    {
      name: 'web-talks-http',
      severity: 'error',
      comment: 'The web app reaches the server only over HTTP, through the typed client.',
      from: { path: '^web/src/' },
      to: { path: '^src/(server|cli)/' },
    },
    {
      name: 'cli-http-commands-talk-http',
      severity: 'error',
      comment: 'The command line talks to a portal over HTTP; only the admin commands\' actions (admin-actions.ts, loaded when one runs) call the server\'s services.',
      from: { path: '^src/cli/', pathNot: '^src/cli/admin-actions\\.ts$' },
      to: { path: '^src/server/' },
    },
    {
      name: 'client-talks-http',
      severity: 'error',
      comment: 'The typed client is published for scripts: it knows the API, not the server.',
      from: { path: '^src/client/' },
      to: { path: '^src/(server|cli)/|^web/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|\\.d\\.ts$|^web/dist/|^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'] },
  },
};
