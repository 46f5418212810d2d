// A setting that names a JSON file holding a list (SIMPLEVM_RESENV_FILE, SIMPLEVM_CONDA_CATALOGUE):
// read once at start, and every refusal a ConfigError of one line naming the setting and the file.
import { readFileSync } from 'node:fs';
import { oneLine } from '../shared/text.js';
import { ConfigError } from './config.js';

/** `fail` for what the caller checks next (the entries), in the same words. */
export type Refuse = (why: string) => never;

/** The file's JSON array; `shape` says what it should hold, e.g. `packages: [{"name", "versions", "channel"}, …]`. */
export function readJsonListSetting(setting: string, file: string, shape: string): { list: unknown[]; fail: Refuse } {
  const fail: Refuse = (why) => {
    throw new ConfigError(`${setting} (${file}): ${why}`);
  };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? String(err)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    fail(`is not valid JSON (${oneLine((err as Error).message)})`);
  }
  if (!Array.isArray(data)) fail(`must be a JSON array of ${shape}`);
  return { list: data as unknown[], fail };
}
