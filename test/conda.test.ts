// Conda packages (spec §10): the catalogue the portal ships, a site's own file in its place
// (SIMPLEVM_CONDA_CATALOGUE, checked when the app is built), and GET /api/conda/packages/?q= over
// real request handling: who may search, the order of the answer, its cap of 50.
import fs from 'node:fs';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/server/config.js';
import {
  CondaCatalogueFile, MAX_CONDA_RESULTS, SHIPPED_CATALOGUE, condaCatalogue, readCondaCatalogueFile, searchCondaCatalogue,
} from '../src/server/modules/conda/conda.catalogue.js';
import { VmCreateBody } from '../src/server/modules/vms/vms.schemas.js';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { runCli, tempDir } from './process.js';

type Entry = { name: string; versions: string[]; channel: string };

let dir: { dir: string; remove: () => void };
/** The shipped catalogue. */
let t: TestPortal;
let user: TestUser;
/** A site's own catalogue. */
let site: TestPortal;
let siteUser: TestUser;

const SITE_PACKAGES: Entry[] = [
  { name: 'xtool', versions: ['2.0'], channel: 'bioconda' },
  { name: 'toolbox', versions: ['1.2.3', '1.2.2'], channel: 'bioconda' },
  { name: 'Tool-Kit', versions: [], channel: 'conda-forge' },
  { name: 'tool', versions: ['3.1'], channel: 'bioconda' },
  { name: 'atool', versions: ['0.1'], channel: 'bioconda' },
  { name: 'unrelated', versions: ['1'], channel: 'conda-forge' },
  ...Array.from({ length: 120 }, (_, i) => ({ name: `pkg${String(119 - i).padStart(3, '0')}`, versions: ['1.0'], channel: 'bioconda' })),
];

function writeFile(name: string, content: unknown): string {
  const file = path.join(dir.dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const names = (list: Entry[]) => list.map((p) => p.name);

beforeAll(async () => {
  dir = tempDir('simplevm-conda-');
  [t, site] = await Promise.all([
    buildTestApp({}, { worker: false }),
    buildTestApp({ SIMPLEVM_CONDA_CATALOGUE: writeFile('site.json', SITE_PACKAGES) }, { worker: false }),
  ]);
  [user, siteUser] = await Promise.all([t.factory.user(), site.factory.user()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([t?.close(), site?.close()]);
  dir?.remove();
});

describe('the shipped catalogue', () => {
  it('is a valid catalogue file\'s content: 150–250 packages, each once, 1–5 versions newest first, from bioconda or conda-forge', () => {
    expect(SHIPPED_CATALOGUE.length).toBeGreaterThanOrEqual(150);
    expect(SHIPPED_CATALOGUE.length).toBeLessThanOrEqual(250);
    expect([...Value.Errors(CondaCatalogueFile, SHIPPED_CATALOGUE)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const lower = SHIPPED_CATALOGUE.map((p) => p.name.toLowerCase());
    expect(new Set(lower).size).toBe(lower.length);
    for (const p of SHIPPED_CATALOGUE) {
      expect(p.versions.length, p.name).toBeGreaterThanOrEqual(1);
      expect(p.versions.length, p.name).toBeLessThanOrEqual(5);
      expect(new Set(p.versions).size, p.name).toBe(p.versions.length);
    }
    for (const name of [
      'samtools', 'bcftools', 'htslib', 'bwa', 'bwa-mem2', 'bowtie2', 'hisat2', 'star', 'salmon', 'kallisto', 'subread', 'fastqc', 'multiqc',
      'trimmomatic', 'cutadapt', 'fastp', 'spades', 'megahit', 'prokka', 'blast', 'diamond', 'mmseqs2', 'kraken2', 'bracken', 'metaphlan',
      'humann', 'snakemake', 'nextflow', 'gatk4', 'picard', 'freebayes', 'bedtools', 'deeptools', 'macs2', 'minimap2', 'medaka', 'flye',
      'canu', 'quast', 'busco', 'iqtree', 'raxml-ng', 'mafft', 'muscle', 'hmmer', 'seqkit',
    ]) {
      expect(lower, name).toContain(name);
    }
    expect(SHIPPED_CATALOGUE.find((p) => p.name === 'samtools')).toMatchObject({ channel: 'bioconda', versions: expect.arrayContaining(['1.21']) });
  });

  it('offers only what POST /api/vms/ accepts: every name and every name=version', () => {
    const specs = SHIPPED_CATALOGUE.flatMap((p) => [p.name, ...p.versions.map((v) => `${p.name}=${v}`)]);
    for (let i = 0; i < specs.length; i += 50) {
      const conda_packages = specs.slice(i, i + 50);
      const body = { project_id: 1, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'vm', conda_packages };
      expect([...Value.Errors(VmCreateBody, body)].map((e) => `${e.path} ${JSON.stringify(e.value)}: ${e.message}`)).toEqual([]);
    }
  });

  it('is what the portal searches without SIMPLEVM_CONDA_CATALOGUE', () => {
    expect(condaCatalogue({ condaCatalogue: null })).toBe(SHIPPED_CATALOGUE);
  });
});

describe('GET /api/conda/packages/', () => {
  it('answers a session and a key of any scope, under both prefixes; 401 without credentials', async () => {
    const key = await t.factory.key(user, { scopes: ['volume:read'] });
    for (const as of [user.session, { key: key.key }, { bearer: key.key }]) {
      for (const url of ['/api/conda/packages/?q=samtools', '/api/conda/packages?q=samtools', '/portal/api/conda/packages/?q=samtools']) {
        const res = await t.http.get(url, { as });
        expect(res.statusCode, url).toBe(200);
        const samtools = SHIPPED_CATALOGUE.find((p) => p.name === 'samtools');
        expect(res.data[0], url).toEqual({ name: 'samtools', versions: samtools?.versions, channel: 'bioconda' });
      }
    }
    for (const url of ['/api/conda/packages/', '/api/conda/packages/?q=samtools', '/portal/api/conda/packages/']) {
      const anonymous = await t.http.get(url);
      expect(anonymous.statusCode, url).toBe(401);
      expect(anonymous.data).toEqual({ detail: expect.any(String), code: 'not_authenticated' });
    }
    const badKey = await t.http.get('/api/conda/packages/', { as: { key: 'svm_not-a-key' } });
    expect(badKey.statusCode).toBe(401);
  });

  it('puts the exact name first, then names that begin with q, then the others, each group by name; ignoring case', async () => {
    const search = async (q: string) => {
      const res = await site.http.get(`/api/conda/packages/?q=${encodeURIComponent(q)}`, { as: siteUser.session });
      expect(res.statusCode, res.body).toBe(200);
      return res.data as Entry[];
    };
    expect(names(await search('tool'))).toEqual(['tool', 'Tool-Kit', 'toolbox', 'atool', 'xtool']);
    expect(names(await search('TOOL'))).toEqual(['tool', 'Tool-Kit', 'toolbox', 'atool', 'xtool']);
    expect(names(await search('tool-k'))).toEqual(['Tool-Kit']);
    expect(names(await search(' toolbox '))).toEqual(['toolbox']);
    expect(names(await search('oo'))).toEqual(['atool', 'tool', 'Tool-Kit', 'toolbox', 'xtool']);
    expect(await search('nothing-like-it')).toEqual([]);
    expect(await search('%_*')).toEqual([]);
    // Each package as the file lists it.
    expect((await search('toolbox'))[0]).toEqual({ name: 'toolbox', versions: ['1.2.3', '1.2.2'], channel: 'bioconda' });
    expect((await search('tool-kit'))[0]).toEqual({ name: 'Tool-Kit', versions: [], channel: 'conda-forge' });
  });

  it('orders the shipped catalogue so too: samtools first for "samtools", the bwa family for "bwa"', async () => {
    const search = async (q: string) => names((await t.http.get(`/api/conda/packages/?q=${q}`, { as: user.session })).data);
    expect(await search('bwa')).toEqual(['bwa', 'bwa-mem2']);
    expect((await search('STAR'))[0]).toBe('star');
    expect(await search('star')).toEqual(searchCondaCatalogue(SHIPPED_CATALOGUE, 'star').map((p) => p.name));
    const sam = await search('sam');
    expect(sam.slice(0, 3)).toEqual(['sambamba', 'samblaster', 'samtools']);
    expect(sam).toContain('pysam');
    expect(sam.indexOf('pysam')).toBeGreaterThan(sam.indexOf('samtools'));
  });

  it(`answers at most ${MAX_CONDA_RESULTS} packages`, async () => {
    const res = await site.http.get('/api/conda/packages/?q=pkg', { as: siteUser.session });
    expect(res.statusCode).toBe(200);
    expect(names(res.data)).toEqual(Array.from({ length: 50 }, (_, i) => `pkg${String(i).padStart(3, '0')}`));
    // The shipped catalogue has more than 50 names with an "a" in them.
    expect(searchCondaCatalogue(SHIPPED_CATALOGUE, 'a', Infinity).length).toBeGreaterThan(50);
    expect((await t.http.get('/api/conda/packages/?q=a', { as: user.session })).data).toHaveLength(50);
  });

  it('without q, or with an empty q, answers the first 50 packages by name', async () => {
    const all = await site.http.get('/api/conda/packages/', { as: siteUser.session });
    const empty = await site.http.get('/api/conda/packages/?q=', { as: siteUser.session });
    expect(all.statusCode).toBe(200);
    expect(empty.data).toEqual(all.data);
    const expected = SITE_PACKAGES.map((p) => p.name).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)).slice(0, 50);
    expect(names(all.data)).toEqual(expected);
    expect(names(all.data).slice(0, 3)).toEqual(['atool', 'pkg000', 'pkg001']);
    const shipped = await t.http.get('/api/conda/packages/', { as: user.session });
    expect(shipped.data).toHaveLength(50);
    expect(names(shipped.data)).toEqual(SHIPPED_CATALOGUE.map((p) => p.name).sort().slice(0, 50));
  });

  it('refuses a q of more than 100 characters (400), and a q given twice', async () => {
    const ok = await t.http.get(`/api/conda/packages/?q=${'a'.repeat(100)}`, { as: user.session });
    expect(ok.statusCode).toBe(200);
    expect(ok.data).toEqual([]);
    const long = await t.http.get(`/api/conda/packages/?q=${'a'.repeat(101)}`, { as: user.session });
    expect(long.statusCode).toBe(400);
    expect(long.data).toMatchObject({ code: 'invalid', detail: expect.any(String) });
    const twice = await t.http.get('/api/conda/packages/?q=a&q=b', { as: user.session });
    expect(twice.statusCode).toBe(400);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.http.get('/api/openapi.json')).data as { paths: Record<string, Record<string, { operationId?: string }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.paths['/api/conda/packages']?.get?.operationId).toBe('searchCondaPackages');
    expect(Object.keys(doc.components.schemas)).toContain('CondaCataloguePackage');
  });
});

describe('SIMPLEVM_CONDA_CATALOGUE', () => {
  it('replaces the shipped catalogue: none of the shipped packages is offered', async () => {
    const res = await site.http.get('/api/conda/packages/?q=samtools', { as: siteUser.session });
    expect(res.data).toEqual([]);
  });

  it('is checked when the app is built: a missing or invalid file is a ConfigError of one line naming it', async () => {
    const bad = (name: string, content: unknown | null) => {
      const file = content === null ? path.join(dir.dir, name) : writeFile(name, content);
      try {
        readCondaCatalogueFile(file);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        const message = (err as Error).message;
        expect(message.split('\n')).toHaveLength(1);
        expect(message).toContain(`SIMPLEVM_CONDA_CATALOGUE (${file}): `);
        return message;
      }
      throw new Error(`${name} was accepted`);
    };
    const entry = { name: 'ok', versions: ['1.0'], channel: 'bioconda' };
    expect(bad('missing.json', null)).toMatch(/no such file$/);
    expect(bad('broken.json', '[{"name": ')).toMatch(/is not valid JSON/);
    expect(bad('object.json', { name: 'x' })).toMatch(/must be a JSON array of packages/);
    expect(bad('not-object.json', ['samtools'])).toMatch(/entry 1: must be an object with name, versions and channel/);
    expect(bad('name.json', [entry, { ...entry, name: 'has space' }])).toMatch(/entry 2: "has space" is not a conda package name/);
    expect(bad('slash.json', [{ ...entry, name: '../x' }])).toMatch(/entry 1: "..\/x" is not a conda package name/);
    expect(bad('long.json', [{ ...entry, name: 'a'.repeat(101) }])).toMatch(/is not a conda package name/);
    expect(bad('newline.json', [{ ...entry, name: 'a\nb' }])).toMatch(/"a\\nb" is not a conda package name/);
    expect(bad('missing-name.json', [{ versions: [], channel: 'bioconda' }])).toMatch(/entry 1: "name" is missing/);
    expect(bad('missing-versions.json', [{ name: 'a', channel: 'bioconda' }])).toMatch(/entry 1: "versions" is missing/);
    expect(bad('versions-string.json', [{ ...entry, versions: '1.0' }])).toMatch(/entry 1: "versions" must be a list of versions/);
    expect(bad('version.json', [{ ...entry, versions: ['1.0', '1 0'] }])).toMatch(/entry 1: version "1 0" is not a conda version/);
    expect(bad('version-number.json', [{ ...entry, versions: [1.0] }])).toMatch(/entry 1: version 1 is not a conda version/);
    expect(bad('channel.json', [{ ...entry, channel: 'defaults' }])).toMatch(/entry 1: channel "defaults" is not one the portal installs from \(bioconda or conda-forge\)/);
    expect(bad('extra.json', [{ ...entry, summary: 'x' }])).toMatch(/entry 1: "summary" is not a field of a package/);
    expect(bad('twice.json', [entry, { ...entry, name: 'OK' }])).toMatch(/entry 2: the name "OK" appears twice/);
    // A good file is read as it is; an empty one offers nothing.
    expect(readCondaCatalogueFile(writeFile('good.json', [entry]))).toEqual([entry]);
    expect(readCondaCatalogueFile(writeFile('none.json', []))).toEqual([]);
  });

  it('stops the app from being built when the file is bad', async () => {
    const file = writeFile('start-bad.json', [{ name: 'samtools', versions: ['1.21'], channel: 'anaconda' }]);
    // On SQLite in memory whatever the test database: the portal never gets to close a database of its own.
    const built = buildTestApp({ SIMPLEVM_CONDA_CATALOGUE: file, DATABASE_URL: ':memory:' }, { worker: false });
    await expect(built).rejects.toBeInstanceOf(ConfigError);
    await expect(built).rejects.toThrow(`SIMPLEVM_CONDA_CATALOGUE (${file}): entry 1: channel "anaconda" is not one the portal installs from`);
    const missing = path.join(dir.dir, 'no-such-catalogue.json');
    await expect(buildTestApp({ SIMPLEVM_CONDA_CATALOGUE: missing, DATABASE_URL: ':memory:' }, { worker: false })).rejects.toThrow(`SIMPLEVM_CONDA_CATALOGUE (${missing}): no such file`);
  });

  it('stops `simplevm serve` at start with one line naming the file and what is wrong', async () => {
    const file = writeFile('serve-bad.json', [{ name: 'samtools', versions: '1.21', channel: 'bioconda' }]);
    const r = await runCli(['serve'], {
      env: { DATABASE_URL: path.join(dir.dir, 'serve.sqlite'), SIMPLEVM_PORT: '0', SIMPLEVM_LOG_LEVEL: 'silent', SIMPLEVM_CONDA_CATALOGUE: file },
    });
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`SIMPLEVM_CONDA_CATALOGUE (${file}): entry 1: "versions" must be a list of versions`);
  }, 60_000);
});
