#!/usr/bin/env node
// The `simplevm` command. It runs the JavaScript that `npm run build` compiles from src/ into
// dist/ (npm install does that): no TypeScript compiler at start, so a command starts fast.
// After editing src/, run `npm run build` (the tests rebuild dist/ themselves when it is stale).
const main = new URL('../dist/cli/main.js', import.meta.url);
try {
  await import(main.href);
} catch (err) {
  const { existsSync } = await import('node:fs');
  if (existsSync(main)) throw err;
  process.stderr.write('simplevm: dist/ is missing: run "npm run build" in the checkout (npm install runs it)\n');
  process.exit(1);
}
