// Research environment templates (spec §9): the built-in list, or the site's own JSON file
// (SIMPLEVM_RESENV_FILE) in its place. Read once per file and kept: buildApp reads it at start, so a
// missing or invalid file stops the server with one line saying what is wrong (a ConfigError).
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PRINTABLE_PATTERN } from '../../../shared/contract.js';
import type { Config } from '../../config.js';
import { readJsonListSetting } from '../../json-setting.js';
import { oneLine } from '../../../shared/text.js';

export interface ResenvTemplate {
  /** The name VMs are created with (`research_environment_backend.template`). */
  template: string;
  title: string;
  description: string;
  /** The port the environment listens on inside the VM; the portal's proxy forwards to it. */
  port: number;
  /** An image whose tags include this one comes with the environment installed. */
  image_tag: string;
}

export const TEMPLATE_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

/**
 * What the portal offers when the site has no file of its own. As on SimpleVM, an image is tagged
 * with the template's own name (its API tutorial picks an image whose tags hold `vscode`,
 * `theiaide` or `guacamole`, then sends that name as the template); `theiaide` is SimpleVM's
 * name for Theia, kept beside `theia`.
 */
export const BUILT_IN_TEMPLATES: readonly ResenvTemplate[] = Object.freeze([
  { template: 'rstudio', title: 'RStudio', description: 'RStudio Server: the R IDE in the browser.', port: 8787, image_tag: 'rstudio' },
  { template: 'jupyterlab', title: 'JupyterLab', description: 'JupyterLab: notebooks, terminals and files for Python, R and more.', port: 8888, image_tag: 'jupyterlab' },
  { template: 'theia', title: 'Theia IDE', description: 'Eclipse Theia: an IDE for many languages in the browser.', port: 8080, image_tag: 'theia' },
  { template: 'theiaide', title: 'Theia IDE', description: 'Eclipse Theia, under SimpleVM\'s template name.', port: 8080, image_tag: 'theiaide' },
  { template: 'vscode', title: 'VS Code', description: 'Visual Studio Code in the browser (code-server).', port: 8080, image_tag: 'vscode' },
  { template: 'guacamole', title: 'Guacamole', description: 'Apache Guacamole: the VM\'s graphical desktop in the browser.', port: 8080, image_tag: 'guacamole' },
].map((t) => Object.freeze(t)));

const Line = (maxLength: number, minLength = 1) => Type.String({ minLength, maxLength, pattern: PRINTABLE_PATTERN });

/** One entry of SIMPLEVM_RESENV_FILE; a field the portal does not know is refused (a typo would otherwise go unnoticed). */
export const ResenvTemplateEntry = Type.Object(
  {
    template: Type.String({ pattern: TEMPLATE_NAME_PATTERN, description: 'Lower-case letters, digits, _ and -; up to 63 characters, starting with a letter or digit.' }),
    title: Line(100),
    description: Line(500, 0),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    image_tag: Line(255),
  },
  { additionalProperties: false },
);

export const ResenvFile = Type.Array(ResenvTemplateEntry, { description: 'SIMPLEVM_RESENV_FILE: the templates, replacing the built-in ones.' });

const byFile = new Map<string, readonly ResenvTemplate[]>();

/** The templates in force: the file's (read and checked once per path), or the built-in ones. */
export function resenvCatalogue(config: Pick<Config, 'resenvFile'>): readonly ResenvTemplate[] {
  const file = config.resenvFile;
  if (file === null) return BUILT_IN_TEMPLATES;
  let templates = byFile.get(file);
  if (!templates) {
    templates = readResenvFile(file);
    byFile.set(file, templates);
  }
  return templates;
}

export function findResenvTemplate(config: Pick<Config, 'resenvFile'>, name: string): ResenvTemplate | undefined {
  return resenvCatalogue(config).find((t) => t.template === name);
}

/** The template an image comes with: the first whose image_tag is among the image's tags, or null. */
export function resenvTemplateOfImage(config: Pick<Config, 'resenvFile'>, tags: readonly string[]): string | null {
  return resenvCatalogue(config).find((t) => tags.includes(t.image_tag))?.template ?? null;
}

/** Reads and checks a templates file; every refusal is a ConfigError of one line naming the file. */
export function readResenvFile(file: string): readonly ResenvTemplate[] {
  const { list: data, fail } = readJsonListSetting('SIMPLEVM_RESENV_FILE', file, 'templates: [{"template", "title", "description", "port", "image_tag"}, …]');
  const first = Value.Errors(ResenvFile, data).First();
  if (first) fail(describeError(first.path, first.message, first.value));
  const entries = data as ResenvTemplate[];
  for (const key of ['template', 'image_tag'] as const) {
    const seen = new Set<string>();
    for (const [i, entry] of entries.entries()) {
      if (seen.has(entry[key])) fail(`entry ${i + 1}: ${key} "${entry[key]}" appears twice; each must be unique`);
      seen.add(entry[key]);
    }
  }
  return Object.freeze(entries.map((e) => Object.freeze({ template: e.template, title: e.title, description: e.description, port: e.port, image_tag: e.image_tag })));
}

/** TypeBox's first complaint, as a sentence naming the entry (counted from 1) and its field. */
function describeError(path: string, message: string, value: unknown): string {
  const [index, field] = path.split('/').slice(1);
  const entry = `entry ${Number(index) + 1}`;
  if (index === undefined || field === undefined) return `${index === undefined ? 'the list' : entry}: must be an object with template, title, description, port and image_tag`;
  if (message === 'Unexpected property') return `${entry}: "${field}" is not a field of a template (they have template, title, description, port and image_tag)`;
  if (value === undefined) return `${entry}: "${field}" is missing`;
  if (field === 'template' && typeof value === 'string') {
    return `${entry}: ${JSON.stringify(value.slice(0, 80))} is not a template name (lower-case letters, digits, _ and -, up to 63 characters, starting with a letter or digit)`;
  }
  if (field === 'port') return `${entry}: port ${JSON.stringify(value)} is not a port number (a whole number from 1 to 65535)`;
  if (typeof value === 'string') {
    if (value === '') return `${entry}: "${field}" must not be empty`;
    if (message.includes('match')) return `${entry}: "${field}" must be one line, without control characters`;
    if (message.includes('less or equal')) return `${entry}: "${field}" is too long (${oneLine(message.replace(/^Expected string length /, ''))})`;
  }
  return `${entry}: "${field}" ${oneLine(message).replace(/^Expected/, 'expected')}`;
}

