// The profile, with the API keys section of spec §6 (beta: hidden for users the beta gate excludes)
// and the user's own audit log.
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { type ApiError, type ApiKey, type ApiKeyCreated, type AuditEvent, type Scope, SCOPES, api } from '../api';
import { AuditLog } from '../AuditLog';
import { ProjectSelect } from '../ProjectSelect';
import { projectName, useSession } from '../session';
import { Dialog, Empty, ErrorText, LoadError, Loading, formatDate, toApiError, usePagedResource, useResource, useTitle } from '../ui';

const EXPIRY_DAYS = [30, 60, 90] as const;
/** The longest a rotated key may keep working beside its successor (KeyRotateBody.overlap_hours). */
const MAX_OVERLAP_HOURS = 168;

export function ProfilePage() {
  useTitle('Profile');
  const { me } = useSession();
  // For a user who is not a superuser the API answers only their own events (and those done to their keys and objects).
  const events = usePagedResource<AuditEvent>('/api/audit/', {});
  return (
    <>
      <h1>Profile</h1>
      <dl className="facts">
        <dt>Username</dt>
        <dd>{me.username}</dd>
        <dt>Role</dt>
        <dd>{me.is_superuser ? 'Superuser' : 'User'}</dd>
      </dl>
      {me.api_keys_enabled ? <ApiKeys onChange={() => void events.reload()} /> : null}
      <section className="audit-log" aria-labelledby="audit-log-title">
        <div className="page-head">
          <h2 id="audit-log-title">Your audit log</h2>
        </div>
        <p className="hint">What you did, and what was done to your keys and objects, newest first.</p>
        <AuditLog events={events} caption="Your audit events" emptyText="Nothing has been recorded yet." />
      </section>
    </>
  );
}

/** `onChange` is told after a key was made, rotated or deleted (each writes an audit event). */
function ApiKeys({ onChange }: { onChange: () => void }) {
  const { projects } = useSession();
  const keys = useResource(() => api.get<ApiKey[]>('/api/keys/'), []);
  const [formOpen, setFormOpen] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [deleting, setDeleting] = useState<ApiKey | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const generateButton = useRef<HTMLButtonElement>(null);

  const confirmDelete = async () => {
    if (!deleting) return;
    setDeleteBusy(true);
    setDeleteError(null);
    try {
      await api.del(`/api/keys/${deleting.id}/`);
      keys.setData((list) => list.filter((k) => k.id !== deleting.id));
      if (created?.id === deleting.id) setCreated(null);
      setDeleting(null);
      void keys.reload();
      onChange();
    } catch (e) {
      setDeleteError(toApiError(e));
    } finally {
      setDeleteBusy(false);
    }
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
            keys.setData((list) => [key, ...list.filter((k) => k.id !== key.id)]);
            onChange();
          }}
          projects={projects.data ?? []}
        />
      ) : null}
      {created ? <NewKeyNotice key={created.id} created={created} onDismiss={() => setCreated(null)} /> : null}
      {keys.loading && !keys.data ? <Loading what="API keys" /> : null}
      {keys.error && !keys.data ? <LoadError error={keys.error} retry={keys.reload} /> : null}
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
                      setDeleteError(null);
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
          busy={deleteBusy}
          error={deleteError}
          onCancel={() => setDeleting(null)}
          onSubmit={() => void confirmDelete()}
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
          onRotated={(key, overlapHours) => {
            setCreated(key);
            setRotating(null);
            keys.setData((list) => [key, ...list.filter((k) => k.id !== key.id && (overlapHours > 0 || k.id !== rotating.id))]);
            void keys.reload();
            onChange();
          }}
        />
      ) : null}
    </section>
  );
}

function NewKeyForm({ onCancel, onCreated, projects }: {
  onCancel: () => void;
  onCreated: (key: ApiKeyCreated) => void;
  projects: { id: number; name: string; description: string; role: 'admin' | 'member' | null }[];
}) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [ownOnly, setOwnOnly] = useState(true);
  const [days, setDays] = useState<number>(90);
  const [projectId, setProjectId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const ids = useId();

  const toggle = (scope: Scope, on: boolean) => setScopes((s) => (on ? SCOPES.filter((x) => x === scope || s.includes(x)) : s.filter((x) => x !== scope)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (scopes.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        name: name.trim(),
        scopes,
        own_objects_only: ownOnly,
        expires_at: new Date(Date.now() + days * 86_400_000).toISOString(),
      };
      if (projectId) body.project_id = Number(projectId);
      onCreated(await api.post<ApiKeyCreated>('/api/keys/', body));
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
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
  onRotated: (key: ApiKeyCreated, overlapHours: number) => void;
}) {
  const [hours, setHours] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const ids = useId();

  const rotate = async () => {
    const overlapHours = Number(hours);
    setBusy(true);
    setError(null);
    try {
      onRotated(await api.post<ApiKeyCreated>(`/api/keys/${apiKey.id}/rotate/`, { overlap_hours: overlapHours }), overlapHours);
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };

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
      onSubmit={() => void rotate()}
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
