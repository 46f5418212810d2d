// One lint job: regular expressions that can take super-linear time on untrusted input (issue 16),
// and the web app's one way to the API (issue 21).
// `npm run lint` runs it; CI fails on any finding. The rest of the style is the compiler's and review's.
import tsParser from '@typescript-eslint/parser';
import regexp from 'eslint-plugin-regexp';

export default [
  // Built output (npm run build, npm run build:web) is checked as its sources.
  { ignores: ['dist/', 'dist.*/', 'web/dist/'] },
  {
    files: ['src/**/*.ts', 'web/src/**/*.ts', 'web/src/**/*.tsx', 'bin/**/*.js'],
    ignores: ['src/client/schema.d.ts'],
    languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' },
    plugins: { regexp },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'regexp/no-super-linear-backtracking': 'error',
      'regexp/no-super-linear-move': 'error',
      'regexp/no-misleading-capturing-group': 'error',
    },
  },
  // The web app talks to the API through the typed client only (web/src/api.ts, issue 21): a
  // hand-made request would bypass the types generated from the OpenAPI document.
  {
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    ignores: ['web/src/api.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'call the API through the typed client (web/src/api.ts)' }, { name: 'XMLHttpRequest', message: 'call the API through the typed client (web/src/api.ts)' }],
    },
  },
];
