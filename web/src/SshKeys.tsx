// The profile's SSH keys section (spec §9): the user's public keys (every VM they create gets them),
// a form to paste one or to have a key pair made, whose private key the browser downloads this once,
// and Delete with a confirmation.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import type { SshKey, SshKeyCreated } from './api';
import { sshKeysQuery, useCreateSshKey, useDeleteSshKey } from './queries';
import { Dialog, Empty, ErrorText, LoadError, Loading, formatDate } from './ui';

/** The most characters a key's name may have (SshKeyCreateBody.name). */
const MAX_NAME = 100;

/** A file name for a key's private half: its name, with anything a file system might mind replaced. */
export function keyFileName(name: string): string {
  const safe = [...name.trim()].map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : '_')).join('').replace(/^[.]+/, '').slice(0, 60);
  return `${safe || 'id_ed25519'}.key`;
}

/** A generated key pair whose private key the browser has been handed. */
interface Generated {
  name: string;
  fileName: string;
  /** The private key as a blob: URL, for the link that saves it again while the notice is shown. */
  url: string;
}

/** Hands the private key to the browser as a file download; returns the blob: URL (revoked later). */
function downloadPrivateKey(created: SshKeyCreated): Generated {
  const fileName = keyFileName(created.name);
  const url = URL.createObjectURL(new Blob([created.private_key ?? ''], { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  return { name: created.name, fileName, url };
}

export function SshKeys() {
  const keys = useQuery(sshKeysQuery);
  const remove = useDeleteSshKey();
  const [deleting, setDeleting] = useState<SshKey | null>(null);
  const [generated, setGenerated] = useState<Generated | null>(null);

  // The private key lives on in the blob: URL only while its notice is shown (a new one replaces it).
  useEffect(() => (generated ? () => URL.revokeObjectURL(generated.url) : undefined), [generated]);

  const confirmDelete = () => {
    if (!deleting) return;
    remove.mutate({ id: deleting.id }, { onSuccess: () => setDeleting(null) });
  };

  return (
    <section className="ssh-keys" aria-labelledby="ssh-keys-title">
      <div className="page-head">
        <h2 id="ssh-keys-title">SSH keys</h2>
      </div>
      <p className="hint">
        Every VM you create gets these public keys, so that you can log in with <code>ssh -i</code> and the matching private key.
      </p>
      {generated ? <GeneratedNotice generated={generated} onDismiss={() => setGenerated(null)} /> : null}
      {keys.isPending ? <Loading what="SSH keys" /> : null}
      {keys.error && !keys.data ? <LoadError error={keys.error} retry={() => void keys.refetch()} /> : null}
      {keys.data && keys.data.length === 0 ? (
        <Empty>
          <p>You have no SSH keys yet. Add your public key below, or generate a key pair.</p>
        </Empty>
      ) : null}
      {keys.data && keys.data.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">Your SSH keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.id} data-fingerprint={k.fingerprint}>
                <th scope="row">{k.name}</th>
                <td data-label="Type">{k.type}</td>
                <td data-label="Fingerprint">
                  <code className="fingerprint">{k.fingerprint}</code>
                </td>
                <td data-label="Added">{formatDate(k.created_at)}</td>
                <td className="row-actions">
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Delete SSH key ${k.name}`}
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
      <AddKeyForm onGenerated={(created) => setGenerated(downloadPrivateKey(created))} />
      {deleting ? (
        <Dialog
          title={`Delete SSH key ${deleting.name}?`}
          submitLabel="Delete key"
          danger
          busy={remove.isPending}
          error={remove.error}
          onCancel={() => setDeleting(null)}
          onSubmit={confirmDelete}
        >
          <p>
            VMs you create from now on will not get the key <code>{deleting.fingerprint}</code>. VMs that have it keep it.
          </p>
        </Dialog>
      ) : null}
    </section>
  );
}

/** Name and paste box; Add key sends the pasted key, Generate key pair has one made. */
function AddKeyForm({ onGenerated }: { onGenerated: (created: SshKeyCreated) => void }) {
  const [name, setName] = useState('');
  const [nameTouched, setNameTouched] = useState(false);
  const [publicKey, setPublicKey] = useState('');
  const create = useCreateSshKey();
  const { error } = create;
  const nameInput = useRef<HTMLInputElement>(null);
  const ids = useId();

  const reset = () => {
    setName('');
    setNameTouched(false);
    setPublicKey('');
  };

  // A pasted line's comment (you@laptop) is a fine name until the user types one.
  const onKeyChange = (value: string) => {
    setPublicKey(value);
    if (nameTouched) return;
    const words = value.trim().split(/[ \t]+/);
    setName(words.length > 2 ? words.slice(2).join(' ').slice(0, MAX_NAME) : '');
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name: name.trim(), public_key: publicKey }, { onSuccess: reset });
  };

  const generate = () => {
    // Only the name is needed: the browser checks it as it would on submit.
    if (!nameInput.current?.reportValidity()) return;
    create.mutate(
      { name: name.trim(), generate: true },
      {
        onSuccess: (created) => {
          reset();
          onGenerated(created);
        },
      },
    );
  };

  const fieldErrors = error?.errors ?? {};
  const nameError = fieldErrors.name?.join(' ');
  const keyError = fieldErrors.public_key?.join(' ');
  const otherError = error && !nameError && !keyError ? error : null;
  return (
    <form className="card form add-ssh-key" onSubmit={add} aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`}>Add key</h3>
      <div className="field">
        <label htmlFor={`${ids}-name`}>Name</label>
        <input
          id={`${ids}-name`}
          ref={nameInput}
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            setNameTouched(true);
          }}
          required
          maxLength={MAX_NAME}
          autoComplete="off"
          aria-invalid={nameError ? true : undefined}
          aria-describedby={nameError ? `${ids}-name-error` : undefined}
        />
        {nameError ? <ErrorText error={nameError} id={`${ids}-name-error`} /> : null}
      </div>
      <div className="field">
        <label htmlFor={`${ids}-key`}>Public key</label>
        <textarea
          id={`${ids}-key`}
          value={publicKey}
          onChange={(e) => onKeyChange(e.target.value)}
          required
          rows={4}
          maxLength={8000}
          spellCheck={false}
          autoComplete="off"
          placeholder="ssh-ed25519 AAAA… you@laptop"
          aria-invalid={keyError ? true : undefined}
          aria-describedby={[`${ids}-key-hint`, keyError ? `${ids}-key-error` : ''].filter(Boolean).join(' ')}
        />
        <p className="hint" id={`${ids}-key-hint`}>
          One line of a <code>.pub</code> file, such as <code>~/.ssh/id_ed25519.pub</code>: ssh-ed25519, ecdsa-sha2-nistp256/384/521, or ssh-rsa of at
          least 2048 bits. Never paste a private key.
        </p>
        {keyError ? <ErrorText error={keyError} id={`${ids}-key-error`} /> : null}
      </div>
      <ErrorText error={otherError} />
      <div className="actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending && create.variables?.generate !== true ? 'Adding…' : 'Add key'}
        </button>
        <button type="button" onClick={generate} disabled={create.isPending} aria-describedby={`${ids}-generate-hint`}>
          {create.isPending && create.variables?.generate === true ? 'Generating…' : 'Generate key pair'}
        </button>
      </div>
      <p className="hint" id={`${ids}-generate-hint`}>
        Generate key pair makes a new ed25519 key under the name above: the portal keeps its public key, and your browser downloads the private
        key, this once.
      </p>
    </form>
  );
}

/** Says where the private key went, that it will not be shown again, and how to use it. */
function GeneratedNotice({ generated, onDismiss }: { generated: Generated; onDismiss: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const path = `~/.ssh/${generated.fileName}`;
  return (
    <div className="new-key" role="region" aria-labelledby="new-ssh-key-title">
      <h3 id="new-ssh-key-title" ref={heading} tabIndex={-1}>
        Your new key pair “{generated.name}”
      </h3>
      <p className="warning">
        Your browser has downloaded the private key as <strong>{generated.fileName}</strong>. It will not be shown again: the portal does not
        keep it.
      </p>
      <p>
        Move it to <code>{path}</code>, make it readable by you alone (<code>chmod 600 {path}</code>), and log in to your VMs with{' '}
        <code>ssh -i {path}</code>.
      </p>
      <div className="actions">
        <a className="button" href={generated.url} download={generated.fileName}>
          Download {generated.fileName} again
        </a>
        <button type="button" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
