// The profile, with the API keys section of spec §6 (beta: hidden for users the beta gate excludes)
// and the user's own audit log.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { SCOPES, type Scope } from '../../../src/shared/contract';
import type { ApiKey, ApiKeyCreated, ProjectSummary } from '../api';
import { AuditLog } from '../AuditLog';
import { ProjectSelect } from '../ProjectSelect';
import { apiKeysQuery, auditPageQuery, projectsQuery, useCreateKey, useDeleteKey, useRotateKey } from '../queries';
import { projectName, useSession } from '../session';
import { Dialog, Empty, ErrorText, LoadError, Loading, formatDate, usePageParam, useTitle } from '../ui';

const EXPIRY_DAYS = [30, 60, 90] as const;
/** The longest a rotated key may keep working beside its successor (KeyRotateBody.overlap_hours). */
const MAX_OVERLAP_HOURS = 168;

export function ProfilePage() {
  useTitle('Profile');
  const { me } = useSession();
  // For a user who is not a superuser the API answers only their own events (and those done to their keys and objects).
  const page = usePageParam();
  const events = useQuery(auditPageQuery({}, page));
  return (
    <>
      <h1>Profile</h1>
      <dl className="facts">
        <dt>Username</dt>
        <dd>{me.username}</dd>
        <dt>Role</dt>
        <dd>{me.is_superuser ? 'Superuser' : 'User'}</dd>
      </dl>
      {/* Key writes refresh the log below too: each writes an audit event (queries.ts). */}
      {me.api_keys_enabled ? <ApiKeys /> : null}
      <section className="audit-log" aria-labelledby="audit-log-title">
        <div className="page-head">
          <h2 id="audit-log-title">Your audit log</h2>
        </div>
        <p className="hint">What you did, and what was done to your keys and objects, newest first.</p>
        <AuditLog events={events} page={page} caption="Your audit events" emptyText="Nothing has been recorded yet." />
      </section>
    </>
  );
}

function ApiKeys() {
  const projects = useQuery(projectsQuery);
  const keys = useQuery(apiKeysQuery);
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
        A key acts as you, limited to the scopes you choose. Send it as the <code>X-API-KEY</code> header. See the{' '}
        <a href="/portal/api/docs/">API documentation</a>.
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
        />
      ) : null}
      {created ? <NewKeyNotice key={created.id} created={created} onDismiss={() => setCreated(null)} /> : null}
      {keys.isPending ? <Loading what="API keys" /> : null}
      {keys.error && !keys.data ? <LoadError error={keys.error} retry={() => void keys.refetch()} /> : null}
      {keys.data && keys.data.length === 0 ? (
        <Empty>
          <p>You have no API keys.</p>
        </Empty>
      ) : null}
      {keys.data && keys.data.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">Your API keys</caption>
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
                  {k.project_id !== null ? <span className="hint"> (project {projectName(projects.data, k.project_id)} only)</span> : null}
                </th>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>
                  <ul className="scopes">
                    {k.scopes.map((s) => (
                      <li key={s}>{s}</li>
                    ))}
                  </ul>
                </td>
                <td>{k.own_objects_only ? 'Yes' : 'No'}</td>
                <td>{formatDate(k.expires_at)}</td>
                <td>{formatDate(k.last_used_at)}</td>
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

function NewKeyForm({ onCancel, onCreated, projects }: {
  onCancel: () => void;
  onCreated: (key: ApiKeyCreated) => void;
  projects: ProjectSummary[];
}) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [ownOnly, setOwnOnly] = useState(true);
  const [days, setDays] = useState<number>(90);
  const [projectId, setProjectId] = useState('');
  const create = useCreateKey();
  const { error } = create;
  // Still busy once the key is made, until the form closes.
  const busy = create.isPending || create.isSuccess;
  const ids = useId();

  const toggle = (scope: Scope, on: boolean) => setScopes((s) => (on ? SCOPES.filter((x) => x === scope || s.includes(x)) : s.filter((x) => x !== scope)));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (scopes.length === 0) return;
    create.mutate(
      {
        name: name.trim(),
        scopes,
        own_objects_only: ownOnly,
        expires_at: new Date(Date.now() + days * 86_400_000).toISOString(),
        ...(projectId ? { project_id: Number(projectId) } : {}),
      },
      { onSuccess: onCreated },
    );
  };

  const fieldErrors = error?.errors ?? {};
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
      <fieldset>
        <legend>Expires in</legend>
        <div className="checks">
          {EXPIRY_DAYS.map((d) => (
            <label key={d} className="check">
              <input type="radio" name={`${ids}-expiry`} value={d} checked={days === d} onChange={() => setDays(d)} />
              {d} days
            </label>
          ))}
        </div>
        {fieldErrors.expires_at ? <ErrorText error={fieldErrors.expires_at.join(' ')} /> : null}
      </fieldset>
      <div className="field">
        <ProjectSelect id={`${ids}-project`} label="Limit to project" projects={projects} value={projectId} onChange={setProjectId} anyLabel="All my projects" />
        {fieldErrors.project_id ? <ErrorText error={fieldErrors.project_id.join(' ')} /> : null}
      </div>
      <ErrorText error={error} />
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || scopes.length === 0} aria-describedby={scopes.length === 0 ? `${ids}-need-scope` : undefined}>
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

/** The new key, shown this once. */
function NewKeyNotice({ created, onDismiss }: { created: ApiKeyCreated; onDismiss: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const input = useRef<HTMLInputElement>(null);
  // Focus the key once it is shown, also after a dialog (Rotate) hands focus back to its button.
  useEffect(() => input.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('yes');
    } catch {
      // Without clipboard access, select the key so Ctrl+C copies it.
      input.current?.select();
      setCopied('failed');
    }
  };
  return (
    <div className="new-key" role="region" aria-labelledby="new-key-title">
      <h3 id="new-key-title">Your new API key “{created.name}”</h3>
      <p className="warning">Copy it now: it will not be shown again. The portal keeps only a digest of it.</p>
      <div className="row">
        <label htmlFor="new-key-value" className="visually-hidden">
          New API key
        </label>
        <input id="new-key-value" ref={input} readOnly value={created.key} className="key-value" spellCheck={false} onFocus={(e) => e.target.select()} />
        <button type="button" className="primary" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" onClick={onDismiss}>
          Done
        </button>
      </div>
      <p role="status" className="hint">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Could not copy; the key is selected, press Ctrl+C.' : ''}
      </p>
    </div>
  );
}
