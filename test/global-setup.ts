// Vitest global setup: tests spawn bin/simplevm.js, which runs the compiled dist/; rebuild it when
// src/ changed since the last build, so that no test runs yesterday's code (esbuild, under a second).
import { buildIfStale } from '../scripts/build.js';

export default async function setup(): Promise<void> {
  await buildIfStale();
}
