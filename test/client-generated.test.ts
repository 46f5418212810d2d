// The typed client (`simplevm/client`) is generated from the portal's OpenAPI document: this
// regenerates it from the code as it is now, into a temporary directory, and fails when the
// committed src/client/openapi.json or schema.d.ts differ, so CI catches a stale client.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIENT_DIR, GENERATED_FILES, generateClient } from '../scripts/generate-client.js';
import { tempDir } from './process.js';

const tmp = tempDir('simplevm-client-');
afterAll(() => tmp.remove());

describe('the committed typed client', () => {
  it('is what `npm run generate:client` makes from the current API', async () => {
    const written = await generateClient(tmp.dir);
    expect(written.map((f) => path.basename(f))).toEqual([...GENERATED_FILES]);
    for (const name of GENERATED_FILES) {
      const fresh = readFileSync(path.join(tmp.dir, name), 'utf8');
      const committed = readFileSync(path.join(CLIENT_DIR, name), 'utf8');
      // One clear message instead of a 3,000-line diff.
      expect(committed === fresh, `src/client/${name} is out of date: run \`npm run generate:client\` and commit the result`).toBe(true);
    }

    // It is the document the server serves, and the types cover every path of it.
    const doc = JSON.parse(readFileSync(path.join(CLIENT_DIR, 'openapi.json'), 'utf8')) as { paths: Record<string, unknown> };
    const schema = readFileSync(path.join(CLIENT_DIR, 'schema.d.ts'), 'utf8');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/vms', '/api/volumes/{openstack_id}/action', '/api/audit']));
    for (const p of Object.keys(doc.paths)) expect(schema).toContain(`"${p}": {`);
  });
});
