// The API keys section of spec §6 (table, Generate form, the new key shown once, Rotate, Delete),
// shared by the profile (all the user's keys) and a project's API Keys tab (the user's keys bound to
// that project, where every new key is bound to it), so the two never drift apart.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { SCOPES, type Scope } from '../../src/shared/contract';
import type { ApiKey, ApiKeyCreated, ProjectSummary } from './api';
import { ProjectSelect } from './ProjectSelect';
import { apiKeysQuery, projectsQuery, useCreateKey, useDeleteKey, useRotateKey } from './queries';
import { projectName, useSession } from './session';
import { CopyButton, Dialog, Empty, ErrorText, LoadError, Loading, formatDate } from './ui';

const EXPIRY_DAYS = [30, 60, 90] as const;
const DAY_MS = 86_400_000;

/** A local calendar day as <input type="date"> writes it: yyyy-mm-dd. */
function dayValue(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The end of a local calendar day (yyyy-mm-dd), 23:59:59, when a key given that date expires. */
function endOfDay(day: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d, 23, 59, 59);
}

/** The days a key may be given as its expiry date: from today to the last day that ends within `maxDays`. */
function expiryDates(maxDays: number, now = new Date()): { min: string; max: string } {
  return { min: dayValue(now), max: dayValue(new Date(now.getFullYear(), now.getMonth(), now.getDate() + maxDays - 1)) };
}

function expiryDateProblem(day: string, dates: { min: string; max: string }, maxDays: number): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return 'Choose the day the key expires.';
  // yyyy-mm-dd compares as the days do.
  if (day < dates.min || day > dates.max) {
    const shown = (d: string) => new Date(`${d}T12:00`).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
    return `Choose a day from ${shown(dates.min)} to ${shown(dates.max)}: a key lives at most ${maxDays} days.`;
  }
  return null;
}

/** The longest a rotated key may keep working beside its successor (KeyRotateBody.overlap_hours). */
const MAX_OVERLAP_HOURS = 168;

/** The project a section's keys are bound to. */
export interface BoundProject {
  id: number;
  name: string;
}

/** What a user the beta gate excludes sees where the section would be (spec §6): it says so, rather than vanishing. */
export function ApiKeysUnavailable() {
  return (
    <section className="api-keys" aria-labelledby="api-keys-title">
      <div className="page-head">
        <h2 id="api-keys-title">
          API keys <span className="badge-beta">BETA</span>
        </h2>
      </div>
      <p className="empty">API keys are not available to you yet.</p>
    </section>
  );
}

/**
 * The user's API keys: all of them, or with `project` those bound to it (and new ones are bound to
 * it). Only for users the beta gate lets in; the page decides what the others see.
 */
export function ApiKeys({ project }: { project?: BoundProject }) {
  // The profile names each bound key's project and offers the projects in its form; a project's tab needs neither.
  const projects = useQuery({ ...projectsQuery, enabled: project === undefined });
  const keys = useQuery(apiKeysQuery(project?.id));
  const remove = useDeleteKey();
  const [formOpen, setFormOpen] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [deleting, setDeleting] = useState<ApiKey | null>(null);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const generateButton = useRef<HTMLButtonElement>(null);

  const confirmDelete = () => {
    if (!deleting) return;
    remove.mutate(
      { id: deleting.id },
      {
        onSuccess: () => {
          if (created?.id === deleting.id) setCreated(null);
          setDeleting(null);
        },
      },
    );
  };

  return (
    <section className="api-keys" aria-labelledby="api-keys-title">
      <div className="page-head">
        <h2 id="api-keys-title">
          API keys <span className="badge-beta">BETA</span>
        </h2>
        <button
          type="button"
          ref={generateButton}
          className="primary"
          aria-expanded={formOpen}
          aria-controls="new-key-form"
          onClick={() => setFormOpen((o) => !o)}
        >
          Generate new API key
        </button>
      </div>
      <p className="hint">
        {project ? <>Keys made here reach the project {project.name} only. </> : null}A key acts as you, limited to the scopes you choose. Send it
        as the <code>X-API-KEY</code> header. See the <a href="/portal/api/docs/">API documentation</a>.
      </p>
      {formOpen ? (
        <NewKeyForm
          onCancel={() => {
            setFormOpen(false);
            generateButton.current?.focus();
          }}
          onCreated={(key) => {
            setCreated(key);
            setFormOpen(false);
          }}
          projects={projects.data ?? []}
          project={project}
        />
      ) : null}
      {created ? <NewKeyNotice key={created.id} created={created} onDismiss={() => setCreated(null)} /> : null}
      {keys.isPending ? <Loading what="API keys" /> : null}
      {keys.error && !keys.data ? <LoadError error={keys.error} retry={() => void keys.refetch()} /> : null}
      {keys.data && keys.data.length === 0 ? (
        <Empty>
          <p>{project ? 'You have no API keys for this project.' : 'You have no API keys.'}</p>
        </Empty>
      ) : null}
      {keys.data && keys.data.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">{project ? `Your API keys for ${project.name}` : 'Your API keys'}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Scopes</th>
              <th scope="col">Own objects only</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.id} data-key-prefix={k.prefix}>
                <th scope="row">
                  {k.name}
                  {/* On a project's tab every key is bound to it; saying so on each row would be noise. */}
                  {k.project_id !== null && !project ? <span className="hint"> (project {projectName(projects.data, k.project_id)} only)</span> : null}
                </th>
                <td data-label="Prefix">
                  <code>{k.prefix}</code>
                </td>
                <td data-label="Scopes">
                  <ul className="scopes">
                    {k.scopes.map((s) => (
                      <li key={s}>{s}</li>
                    ))}
                  </ul>
                </td>
                <td data-label="Own objects only">{k.own_objects_only ? 'Yes' : 'No'}</td>
                <td data-label="Expires">{formatDate(k.expires_at)}</td>
                <td data-label="Last used">{formatDate(k.last_used_at)}</td>
                <td className="row-actions">
                  <button type="button" aria-label={`Rotate ${k.name} (${k.prefix})`} onClick={() => setRotating(k)}>
                    Rotate
                  </button>
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Delete ${k.name} (${k.prefix})`}
                    onClick={() => {
                      remove.reset();
                      setDeleting(k);
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {deleting ? (
        <Dialog
          title={`Delete API key ${deleting.name}?`}
          submitLabel="Delete key"
          danger
          busy={remove.isPending}
          error={remove.error}
          onCancel={() => setDeleting(null)}
          onSubmit={confirmDelete}
        >
          <p>
            Anything that uses the key <code>{deleting.prefix}</code> stops working at once. This cannot be undone.
          </p>
        </Dialog>
      ) : null}
      {rotating ? (
        <RotateKeyDialog
          apiKey={rotating}
          onCancel={() => setRotating(null)}
          onRotated={(key) => {
            setCreated(key);
            setRotating(null);
          }}
        />
      ) : null}
    </section>
  );
}

function NewKeyForm({ onCancel, onCreated, projects, project }: {
  onCancel: () => void;
  onCreated: (key: ApiKeyCreated) => void;
  projects: ProjectSummary[];
  /** Set on a project's tab: the key is bound to it, and there is nothing to choose. */
  project: BoundProject | undefined;
}) {
  const { me } = useSession();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [ownOnly, setOwnOnly] = useState(true);
  // The choices of 30, 60 and 90 days that the portal's longest lifetime (SIMPLEVM_API_KEY_MAX_DAYS) allows, and a date up to it.
  const maxDays = me.api_key_max_days;
  const dayChoices = EXPIRY_DAYS.filter((d) => d <= maxDays);
  const [expiry, setExpiry] = useState<number | 'date'>(dayChoices.at(-1) ?? 'date');
  const dates = expiryDates(maxDays);
  const [date, setDate] = useState(dates.max);
  const dateError = expiry === 'date' ? expiryDateProblem(date, dates, maxDays) : null;
  const [projectId, setProjectId] = useState('');
  const create = useCreateKey();
  const { error } = create;
  // Still busy once the key is made, until the form closes.
  const busy = create.isPending || create.isSuccess;
  const ids = useId();
  // SIMPLEVM_API_KEY_PROJECT=required: the portal refuses a key bound to no project, so the form
  // asks for one before it sends anything (the server's 400 still shows beside the field).
  const projectRequired = me.api_key_project_required;

  const toggle = (scope: Scope, on: boolean) => setScopes((s) => (on ? SCOPES.filter((x) => x === scope || s.includes(x)) : s.filter((x) => x !== scope)));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (scopes.length === 0 || dateError) return;
    const now = Date.now();
    // The end of the chosen day, or the whole lifetime where a change of clocks (DST) would take it past the longest.
    const expiresAt = expiry === 'date' ? Math.min(endOfDay(date).getTime(), now + maxDays * DAY_MS) : now + expiry * DAY_MS;
    const boundTo = project ? project.id : projectId ? Number(projectId) : null;
    create.mutate(
      {
        name: name.trim(),
        scopes,
        own_objects_only: ownOnly,
        // Always sent, never left to the server's default: one of the choices is always ticked, and
        // a portal with SIMPLEVM_API_KEY_EXPIRY=required refuses a key without it.
        expires_at: new Date(expiresAt).toISOString(),
        ...(boundTo !== null ? { project_id: boundTo } : {}),
      },
      { onSuccess: onCreated },
    );
  };

  const fieldErrors = error?.errors ?? {};
  const projectError = fieldErrors.project_id?.join(' ');
  const expiryError = fieldErrors.expires_at?.join(' ');
  return (
    <form id="new-key-form" className="card form" onSubmit={submit} aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`}>New API key</h3>
      <div className="field">
        <label htmlFor={`${ids}-name`}>Name</label>
        <input id={`${ids}-name`} value={name} onChange={(e) => setName(e.target.value)} required maxLength={50} autoComplete="off" autoFocus />
        {fieldErrors.name ? <ErrorText error={fieldErrors.name.join(' ')} /> : null}
      </div>
      <fieldset>
        <legend>Scopes</legend>
        <div className="checks">
          {SCOPES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => toggle(s, e.target.checked)} />
              {s}
            </label>
          ))}
        </div>
        {fieldErrors.scopes ? <ErrorText error={fieldErrors.scopes.join(' ')} /> : null}
      </fieldset>
      <div className="field">
        <label className="check">
          <input type="checkbox" checked={ownOnly} onChange={(e) => setOwnOnly(e.target.checked)} aria-describedby={`${ids}-own-hint`} />
          Own objects only
        </label>
        <p className="hint" id={`${ids}-own-hint`}>
          The key sees and acts only on VMs, volumes and snapshots you created. Untick it to reach everything you can reach.
        </p>
      </div>
      <fieldset aria-describedby={[`${ids}-expiry-hint`, expiryError ? `${ids}-expiry-error` : ''].filter(Boolean).join(' ')}>
        <legend>Expires in</legend>
        <div className="checks">
          {dayChoices.map((d) => (
            <label key={d} className="check">
              <input type="radio" name={`${ids}-expiry`} value={d} checked={expiry === d} onChange={() => setExpiry(d)} required={me.api_key_expiry_required} />
              {d} days
            </label>
          ))}
          <label className="check">
            <input type="radio" name={`${ids}-expiry`} value="date" checked={expiry === 'date'} onChange={() => setExpiry('date')} />
            On a date
          </label>
        </div>
        <p className="hint" id={`${ids}-expiry-hint`}>
          A key lives at most {maxDays} days.
        </p>
        {expiry === 'date' ? (
          <div className="field expiry-date">
            <label htmlFor={`${ids}-date`}>Expiry date</label>
            <input
              id={`${ids}-date`}
              type="date"
              min={dates.min}
              max={dates.max}
              value={date}
              onChange={(e) => setDate(e.target.value)}
              required
              aria-invalid={dateError ? true : undefined}
              aria-describedby={[`${ids}-date-hint`, dateError ? `${ids}-date-error` : ''].filter(Boolean).join(' ')}
            />
            <p className="hint" id={`${ids}-date-hint`}>
              The key works until the end of that day, your time.
            </p>
            {dateError ? <ErrorText error={dateError} id={`${ids}-date-error`} /> : null}
          </div>
        ) : null}
        {expiryError ? <ErrorText error={expiryError} id={`${ids}-expiry-error`} /> : null}
      </fieldset>
      <div className="field">
        {project ? (
          <p>
            Limited to the project <strong>{project.name}</strong>.
          </p>
        ) : (
          <>
            <ProjectSelect
              id={`${ids}-project`}
              label={projectRequired ? 'Project' : 'Limit to project'}
              projects={projects}
              value={projectId}
              onChange={setProjectId}
              // With a project required, the empty choice is only a prompt: `required` makes the browser refuse it.
              anyLabel={projectRequired ? 'Choose a project' : 'All my projects'}
              required={projectRequired}
              describedBy={[projectRequired ? `${ids}-project-hint` : '', projectError ? `${ids}-project-error` : ''].filter(Boolean).join(' ') || undefined}
              invalid={projectError !== undefined}
            />
            {projectRequired ? (
              <p className="hint" id={`${ids}-project-hint`}>
                This portal binds every API key to one project.
                {projects.length === 0 ? ' You are not a member of any project yet, so you cannot make a key.' : ''}
              </p>
            ) : null}
            {projectError ? <ErrorText error={projectError} id={`${ids}-project-error`} /> : null}
          </>
        )}
      </div>
      <ErrorText error={error} />
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || scopes.length === 0 || dateError !== null} aria-describedby={scopes.length === 0 ? `${ids}-need-scope` : undefined}>
          {busy ? 'Generating…' : 'Generate'}
        </button>
        {scopes.length === 0 ? (
          <span className="hint" id={`${ids}-need-scope`}>
            Tick at least one scope.
          </span>
        ) : null}
      </div>
    </form>
  );
}

/** Asks how long the old key may keep working, then makes its successor. */
function RotateKeyDialog({ apiKey, onCancel, onRotated }: {
  apiKey: ApiKey;
  onCancel: () => void;
  onRotated: (key: ApiKeyCreated) => void;
}) {
  const [hours, setHours] = useState('0');
  const rotation = useRotateKey();
  const { error } = rotation;
  // Still busy once the successor is made, until the dialog closes.
  const busy = rotation.isPending || rotation.isSuccess;
  const ids = useId();

  const rotate = () => rotation.mutate({ id: apiKey.id, overlap_hours: Number(hours) }, { onSuccess: onRotated });

  const fieldError = error?.errors?.overlap_hours;
  const valid = /^\d{1,3}$/.test(hours.trim()) && Number(hours) <= MAX_OVERLAP_HOURS;
  return (
    <Dialog
      title={`Rotate API key ${apiKey.name}?`}
      submitLabel={busy ? 'Rotating…' : 'Rotate key'}
      busy={busy}
      error={error}
      submitDisabled={!valid}
      onCancel={onCancel}
      onSubmit={rotate}
    >
      <p>
        A new key with the same scopes and settings replaces <code>{apiKey.prefix}</code>. It is shown once.
      </p>
      <label htmlFor={`${ids}-hours`}>Hours the old key keeps working</label>
      <input
        id={`${ids}-hours`}
        type="number"
        inputMode="numeric"
        min={0}
        max={MAX_OVERLAP_HOURS}
        step={1}
        required
        value={hours}
        onChange={(e) => setHours(e.target.value)}
        aria-describedby={`${ids}-hint`}
        aria-invalid={!valid || fieldError ? true : undefined}
      />
      <p className="hint" id={`${ids}-hint`}>
        0 stops the old key now. Up to {MAX_OVERLAP_HOURS} (a week) gives scripts time to switch to the new key.
      </p>
      {fieldError ? <ErrorText error={fieldError.join(' ')} /> : null}
    </Dialog>
  );
}

/** The new key, shown this once, with a curl line that tries it. */
function NewKeyNotice({ created, onDismiss }: { created: ApiKeyCreated; onDismiss: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  // Focus the key once it is shown, also after a dialog (Rotate) hands focus back to its button.
  useEffect(() => input.current?.focus(), []);
  // Double quotes: the same line works in a POSIX shell, PowerShell and cmd.exe.
  const curl = `curl -H "X-API-KEY: ${created.key}" ${window.location.origin}/api/auth/me`;
  return (
    <div className="new-key" role="region" aria-labelledby="new-key-title">
      <h3 id="new-key-title">Your new API key “{created.name}”</h3>
      <p className="warning">Copy it now: it will not be shown again. The portal keeps only a digest of it.</p>
      <div className="row">
        <label htmlFor="new-key-value" className="visually-hidden">
          New API key
        </label>
        <input id="new-key-value" ref={input} readOnly value={created.key} className="key-value" spellCheck={false} onFocus={(e) => e.target.select()} />
        {/* Without clipboard access the key is selected, so Ctrl+C copies it. */}
        <CopyButton text={created.key} label="Copy API key" primary onFailed={() => input.current?.select()} />
        <button type="button" onClick={onDismiss}>
          Done
        </button>
      </div>
      <p className="hint" id="new-key-curl-hint">
        Try it: this asks the portal whom the key acts for.
      </p>
      <div className="copy-line">
        <code data-testid="new-key-curl" aria-describedby="new-key-curl-hint">
          {curl}
        </code>
        <CopyButton text={curl} label="Copy curl command" />
      </div>
    </div>
  );
}
