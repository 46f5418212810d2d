// The API reference samples the fake answers from (see samples/README.md): each call gives a fresh
// deep copy to fill in.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'samples');
const cache = new Map<string, unknown>();

export function sample<T = any>(file: string): T {
  if (!cache.has(file)) cache.set(file, JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  return structuredClone(cache.get(file)) as T;
}
