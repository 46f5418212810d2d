// The conda package catalogue (spec §10): the shipped list (conda.catalogue-data.ts), or the site's
// own JSON file (SIMPLEVM_CONDA_CATALOGUE) in its place, and the search that GET /api/conda/packages/
// answers from it. Read once per file and kept: buildApp reads it at start, so a missing or invalid
// file stops the server with one line saying what is wrong (a ConfigError).
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CONDA_NAME_PATTERN, CONDA_VERSION_PATTERN } from '../../../shared/contract.js';
import type { Config } from '../../config.js';
import { readJsonListSetting } from '../../json-setting.js';
import { oneLine } from '../../../shared/text.js';
import { SHIPPED_CONDA_PACKAGES, type ShippedCondaPackage } from './conda.catalogue-data.js';

export type CondaCatalogueEntry = Readonly<ShippedCondaPackage>;

export const CONDA_CHANNELS = ['bioconda', 'conda-forge'] as const;
/** The most packages one search answers. */
export const MAX_CONDA_RESULTS = 50;
/** The most versions an entry of a site's file may list. */
const MAX_VERSIONS = 100;

/** One entry of SIMPLEVM_CONDA_CATALOGUE; a field the portal does not know is refused (a typo would otherwise go unnoticed). */
export const CondaCatalogueFileEntry = Type.Object(
  {
    name: Type.String({ pattern: CONDA_NAME_PATTERN, description: 'Letters, digits, _ . + -; up to 100 characters.' }),
    versions: Type.Array(Type.String({ pattern: CONDA_VERSION_PATTERN }), { maxItems: MAX_VERSIONS, description: 'Versions to offer, newest first; may be empty (then only the latest).' }),
    channel: Type.Union(CONDA_CHANNELS.map((c) => Type.Literal(c))),
  },
  { additionalProperties: false },
);

export const CondaCatalogueFile = Type.Array(CondaCatalogueFileEntry, { description: 'SIMPLEVM_CONDA_CATALOGUE: the packages, replacing the shipped catalogue.' });

const freeze = (e: ShippedCondaPackage): CondaCatalogueEntry => Object.freeze({ name: e.name, versions: Object.freeze([...e.versions]), channel: e.channel });

/** What the portal offers when the site has no file of its own. */
export const SHIPPED_CATALOGUE: readonly CondaCatalogueEntry[] = Object.freeze(SHIPPED_CONDA_PACKAGES.map(freeze));

const byFile = new Map<string, readonly CondaCatalogueEntry[]>();

/** The catalogue in force: the file's (read and checked once per path), or the shipped one. */
export function condaCatalogue(config: Pick<Config, 'condaCatalogue'>): readonly CondaCatalogueEntry[] {
  const file = config.condaCatalogue;
  if (file === null) return SHIPPED_CATALOGUE;
  let entries = byFile.get(file);
  if (!entries) {
    entries = readCondaCatalogueFile(file);
    byFile.set(file, entries);
  }
  return entries;
}

/**
 * Up to `limit` packages whose name contains `q`, ignoring case: the exact name first, then names
 * that begin with it, then the others, each group by name. An empty `q` matches every package.
 */
export function searchCondaCatalogue(catalogue: readonly CondaCatalogueEntry[], q: string, limit = MAX_CONDA_RESULTS): CondaCatalogueEntry[] {
  const needle = q.trim().toLowerCase();
  const ranked: { rank: number; key: string; entry: CondaCatalogueEntry }[] = [];
  for (const entry of catalogue) {
    const key = entry.name.toLowerCase();
    const at = key.indexOf(needle);
    if (at === -1) continue;
    ranked.push({ rank: key === needle ? 0 : at === 0 ? 1 : 2, key, entry });
  }
  ranked.sort((a, b) => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return ranked.slice(0, limit).map((r) => r.entry);
}

/** Reads and checks a catalogue file; every refusal is a ConfigError of one line naming the file. */
export function readCondaCatalogueFile(file: string): readonly CondaCatalogueEntry[] {
  const { list: data, fail } = readJsonListSetting('SIMPLEVM_CONDA_CATALOGUE', file, 'packages: [{"name", "versions", "channel"}, …]');
  const first = Value.Errors(CondaCatalogueFile, data).First();
  if (first) fail(describeError(first.path, first.message, first.value));
  const entries = data as ShippedCondaPackage[];
  // conda's names are case-insensitive: two entries differing only in case would be one package.
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const key = entry.name.toLowerCase();
    if (seen.has(key)) fail(`entry ${i + 1}: the name "${entry.name}" appears twice; each package must be listed once`);
    seen.add(key);
  }
  return Object.freeze(entries.map(freeze));
}

/** TypeBox's first complaint, as a sentence naming the entry (counted from 1) and its field. */
function describeError(path: string, message: string, value: unknown): string {
  const [index, field, item] = path.split('/').slice(1);
  const entry = `entry ${Number(index) + 1}`;
  if (index === undefined || field === undefined) return `${index === undefined ? 'the list' : entry}: must be an object with name, versions and channel`;
  if (message === 'Unexpected property') return `${entry}: "${field}" is not a field of a package (they have name, versions and channel)`;
  if (value === undefined) return `${entry}: "${field}" is missing`;
  if (field === 'name') {
    return typeof value === 'string'
      ? `${entry}: ${JSON.stringify(value.slice(0, 80))} is not a conda package name (letters, digits, _ . + -, up to 100 characters)`
      : `${entry}: "name" must be a string`;
  }
  if (field === 'channel') return `${entry}: channel ${shown(value)} is not one the portal installs from (${CONDA_CHANNELS.join(' or ')})`;
  if (field === 'versions') {
    if (item === undefined) return Array.isArray(value) ? `${entry}: at most ${MAX_VERSIONS} versions` : `${entry}: "versions" must be a list of versions, newest first`;
    return `${entry}: version ${shown(value)} is not a conda version (up to 64 letters, digits and _ . + * ! -)`;
  }
  return `${entry}: "${field}" ${oneLine(message).replace(/^Expected/, 'expected')}`;
}

/** A value as a file had it, in at most about 80 characters. */
const shown = (value: unknown) => String(JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : value)).slice(0, 82);
