// The profile's Change password form (spec §6): the current password, the new one twice. The form
// checks what it can before sending (at least 12 characters, the two new ones alike); the portal
// checks the current password, and its refusals show by the field they concern. The session that
// asked goes on; the portal ends the user's other sessions.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useId, useRef, useState } from 'react';
import { oidcQuery, useChangePassword } from './queries';
import { useSession } from './session';
import { ErrorText } from './ui';

/** The shortest new password the portal takes (PasswordChangeBody.new_password). */
export const MIN_PASSWORD_LENGTH = 12;

type Field = 'current' | 'next' | 'repeat';

/** What the form itself finds wrong before anything is sent, by field. */
function problems(current: string, next: string, repeat: string): Partial<Record<Field, string>> {
  const found: Partial<Record<Field, string>> = {};
  if (current.length === 0) found.current = 'Enter your current password.';
  if (next.length < MIN_PASSWORD_LENGTH) found.next = `The new password needs at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (repeat !== next) found.repeat = 'The two new passwords are not the same.';
  return found;
}

export function ChangePassword() {
  const { me } = useSession();
  const sso = useQuery(oidcQuery);
  const change = useChangePassword();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  // The form's own findings, shown once the user has tried to send it.
  const [checked, setChecked] = useState<Partial<Record<Field, string>>>({});
  const [done, setDone] = useState(false);
  const inputs = { current: useRef<HTMLInputElement>(null), next: useRef<HTMLInputElement>(null), repeat: useRef<HTMLInputElement>(null) };
  const ids = useId();

  // With passwords switched off (SIMPLEVM_LOCAL_LOGIN=false) a password would never be used.
  if (sso.data && !sso.data.local_login) {
    return (
      <section className="password" aria-labelledby={`${ids}-title`}>
        <h2 id={`${ids}-title`}>Password</h2>
        <p className="empty">This portal logs you in through single sign-on: there is no password to change here.</p>
      </section>
    );
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    const found = problems(current, next, repeat);
    setChecked(found);
    const first = (['current', 'next', 'repeat'] as const).find((f) => found[f]);
    if (first) {
      inputs[first].current?.focus();
      return;
    }
    change.mutate(
      { current_password: current, new_password: next },
      {
        onSuccess: () => {
          setCurrent('');
          setNext('');
          setRepeat('');
          setDone(true);
        },
        onError: (error) => {
          if (error.errors?.current_password) inputs.current.current?.focus();
          else if (error.errors?.new_password) inputs.next.current?.focus();
        },
      },
    );
  };

  const fieldErrors = change.error?.errors ?? {};
  const errorOf: Record<Field, string | undefined> = {
    current: checked.current ?? fieldErrors.current_password?.join(' '),
    next: checked.next ?? fieldErrors.new_password?.join(' '),
    repeat: checked.repeat,
  };
  // A refusal that concerns no field (too many attempts, a lost connection) shows under the form.
  const otherError = change.error && !fieldErrors.current_password && !fieldErrors.new_password ? change.error : null;

  const field = (name: Field, label: string, value: string, set: (v: string) => void, autoComplete: string, hint?: string) => (
    <div className="field">
      <label htmlFor={`${ids}-${name}`}>{label}</label>
      <input
        id={`${ids}-${name}`}
        ref={inputs[name]}
        type="password"
        value={value}
        onChange={(e) => {
          set(e.target.value);
          setDone(false);
          // A finding goes once the field changes; the form looks again on the next try.
          if (checked[name]) setChecked((c) => ({ ...c, [name]: undefined }));
        }}
        autoComplete={autoComplete}
        maxLength={1024}
        aria-invalid={errorOf[name] ? true : undefined}
        aria-describedby={[hint ? `${ids}-${name}-hint` : '', errorOf[name] ? `${ids}-${name}-error` : ''].filter(Boolean).join(' ') || undefined}
      />
      {hint ? (
        <p className="hint" id={`${ids}-${name}-hint`}>
          {hint}
        </p>
      ) : null}
      {errorOf[name] ? <ErrorText error={errorOf[name]} id={`${ids}-${name}-error`} /> : null}
    </div>
  );

  return (
    <section className="password" aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`}>Change password</h2>
      {/* The form checks the fields itself, and says what is wrong beside each one. */}
      <form className="card form" onSubmit={submit} noValidate aria-labelledby={`${ids}-title`}>
        {/* For password managers: whose password this is. */}
        <input type="text" name="username" autoComplete="username" value={me.username} readOnly hidden />
        {field('current', 'Current password', current, setCurrent, 'current-password')}
        {field('next', 'New password', next, setNext, 'new-password', `At least ${MIN_PASSWORD_LENGTH} characters.`)}
        {field('repeat', 'Repeat the new password', repeat, setRepeat, 'new-password')}
        <ErrorText error={otherError} />
        <div className="actions">
          <button type="submit" className="primary" disabled={change.isPending}>
            {change.isPending ? 'Changing…' : 'Change password'}
          </button>
        </div>
        <p role="status" className="success">
          {done ? 'Your password has been changed. You stay logged in here; your other sessions have ended.' : ''}
        </p>
      </form>
    </section>
  );
}
