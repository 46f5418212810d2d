// The New VM form's conda packages (spec §10): a search of the portal's catalogue as the user types,
// each suggestion added with one of its versions or the latest, and the chosen packages as chips to
// remove again. A package the catalogue does not list can be added too, by any name conda allows
// (`name` or `name=version`): the catalogue only suggests, the VM's first boot asks the channels.
import { useQuery } from '@tanstack/react-query';
import { type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { CONDA_NAME_PATTERN, CONDA_VERSION_PATTERN, MAX_CONDA_PACKAGES } from '../../src/shared/contract';
import type { CondaCataloguePackage } from './api';
import { condaPackagesQuery } from './queries';
import { ErrorText, LoadError } from './ui';

/** A package to install: its name, and the version to pin, or null for the latest. */
export interface CondaChoice {
  name: string;
  version: string | null;
}

/** The choice as POST /api/vms/ takes it: `name` or `name=version`. */
export const condaSpec = (c: CondaChoice): string => (c.version ? `${c.name}=${c.version}` : c.name);

const NAME = new RegExp(CONDA_NAME_PATTERN);
const VERSION = new RegExp(CONDA_VERSION_PATTERN);
/** How long typing must pause before the catalogue is searched. */
const SEARCH_DELAY_MS = 250;
/** The longest search the API takes. */
const MAX_QUERY = 100;
/** Suggestions shown at once; the rest come into view as the user types more of the name. */
const SHOWN = 10;

/** What the user typed as a package to add (`name`, `name=version` or `name==version`), or why it is not one. */
export function parseCondaSpec(text: string): CondaChoice | string {
  const spec = text.trim();
  const at = spec.indexOf('=');
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? null : spec.slice(at + 1).replace(/^=/, '');
  if (!NAME.test(name)) return 'Not a conda package name: use letters, digits and _ . + - (up to 100 characters).';
  if (version !== null && !VERSION.test(version)) return 'Not a version to pin: use letters, digits and _ . + * ! - (up to 64 characters), as in samtools=1.21.';
  return { name, version };
}

/** `value`, once it has stayed the same for `ms`. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function CondaPicker({ value, onChange, errors }: { value: CondaChoice[]; onChange: (next: CondaChoice[]) => void; errors?: string[] }) {
  const [text, setText] = useState('');
  /** The version chosen in each suggestion's list, by package name; '' (or none) for the latest. */
  const [versions, setVersions] = useState<Record<string, string>>({});
  const input = useRef<HTMLInputElement>(null);
  const typed = text.trim() === '' ? null : parseCondaSpec(text);
  const q = text.trim().split('=')[0].slice(0, MAX_QUERY);
  const settledQ = useSettled(q, SEARCH_DELAY_MS);
  const search = useQuery({ ...condaPackagesQuery(settledQ), enabled: settledQ !== '' });
  // The answer for what the box holds now (not one still on screen from before).
  const current = q !== '' && settledQ === q && search.data && !search.isPlaceholderData ? search.data : null;
  const suggestions = q === '' ? [] : (search.data ?? []);
  const full = value.length >= MAX_CONDA_PACKAGES;
  const chosen = (name: string) => value.some((c) => sameName(c.name, name));

  /** Adds a package, or sets the version of one already chosen; then the box is ready for the next. */
  const add = (choice: CondaChoice) => {
    const at = value.findIndex((c) => sameName(c.name, choice.name));
    if (at !== -1) onChange(value.map((c, i) => (i === at ? choice : c)));
    else if (!full) onChange([...value, choice]);
    setText('');
    input.current?.focus();
  };
  const addSuggestion = (p: CondaCataloguePackage) => add({ name: p.name, version: versions[p.name] || null });
  /** What the box holds as a package, under the catalogue's spelling of its name when it lists it. */
  const typedChoice = (): CondaChoice | null => {
    if (typed === null || typeof typed === 'string') return null;
    const listed = suggestions.find((p) => sameName(p.name, typed.name));
    return { name: listed?.name ?? typed.name, version: typed.version ?? (listed ? versions[listed.name] || null : null) };
  };
  // Offered as typed when the catalogue does not list it, or a version is typed along with it.
  const unlisted = typed !== null && typeof typed !== 'string' && current !== null && (typed.version !== null || !current.some((p) => sameName(p.name, typed.name)))
    ? typedChoice()
    : null;

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    // Enter adds what the box holds; it never sends the whole form.
    e.preventDefault();
    const choice = typedChoice();
    if (choice && (!full || chosen(choice.name))) add(choice);
  };

  return (
    <fieldset className="conda-packages">
      <legend>Conda packages</legend>
      <div className="field">
        <label htmlFor="new-vm-conda-search">Search conda packages</label>
        <input
          id="new-vm-conda-search"
          ref={input}
          type="search"
          value={text}
          maxLength={MAX_QUERY + 70}
          placeholder="samtools, or samtools=1.21"
          autoComplete="off"
          spellCheck={false}
          aria-invalid={typeof typed === 'string' ? true : undefined}
          aria-describedby="new-vm-conda-hint"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <p className="hint" id="new-vm-conda-hint">
          {typeof typed === 'string' ? (
            <span className="error" role="alert">
              {typed}
            </span>
          ) : (
            <>
              Optional. Installed at the first boot from bioconda and conda-forge into the conda environment <code>denbi</code> in the login user&apos;s home,
              before the first-boot script runs. Type a name to search the portal&apos;s list; a package it does not list can be added by its name. At most{' '}
              {MAX_CONDA_PACKAGES}.
            </>
          )}
        </p>
      </div>
      {search.error && q !== '' ? <LoadError error={search.error} retry={() => void search.refetch()} /> : null}
      {q !== '' && search.isPending && search.fetchStatus !== 'idle' ? (
        <p className="hint" role="status">
          Searching…
        </p>
      ) : null}
      {suggestions.length > 0 ? (
        <ul className="conda-suggestions" aria-label="Suggested conda packages">
          {suggestions.slice(0, SHOWN).map((p) => {
            const added = chosen(p.name);
            return (
              <li key={p.name} data-package={p.name}>
                <span className="conda-name">{p.name}</span>
                <span className="hint">{p.channel}</span>
                <select
                  aria-label={`Version of ${p.name}`}
                  value={versions[p.name] ?? ''}
                  disabled={added}
                  onChange={(e) => setVersions((v) => ({ ...v, [p.name]: e.target.value }))}
                >
                  <option value="">latest</option>
                  {p.versions.map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </select>
                <button type="button" aria-label={added ? `${p.name} added` : `Add ${p.name}`} disabled={added || full} onClick={() => addSuggestion(p)}>
                  {added ? 'Added' : 'Add'}
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      {suggestions.length > SHOWN ? <p className="hint">{suggestions.length - SHOWN}{suggestions.length >= 50 ? ' or more' : ''} more match: type more of the name.</p> : null}
      {current !== null && current.length === 0 && !unlisted ? <p className="hint">The portal&apos;s list has no package named like this.</p> : null}
      {unlisted ? (
        <p className="conda-unlisted">
          {current?.some((p) => sameName(p.name, unlisted.name)) ? null : <span className="hint">{unlisted.name} is not in the portal&apos;s list; it is installed if bioconda or conda-forge has it. </span>}
          <button type="button" disabled={full && !chosen(unlisted.name)} onClick={() => add(unlisted)}>
            Add {condaSpec(unlisted)}
          </button>
        </p>
      ) : null}
      {value.length > 0 ? (
        <>
          <ul className="chips" aria-label="Chosen conda packages">
            {value.map((c) => (
              <li key={c.name} data-package={c.name}>
                <code>{condaSpec(c)}</code>
                {c.version ? null : <span className="hint"> (latest)</span>}
                <button type="button" className="chip-remove" aria-label={`Remove ${c.name}`} onClick={() => onChange(value.filter((o) => o !== c))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <p className="hint" role="status">
            {value.length} of at most {MAX_CONDA_PACKAGES} packages{full ? ': remove one to add another.' : '.'}
          </p>
        </>
      ) : null}
      {errors?.length ? <ErrorText error={errors.join(' ')} /> : null}
    </fieldset>
  );
}
