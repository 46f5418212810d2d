// Login: with the single sign-on provider ("Log in with …") when the portal offers it, and with a
// local account unless the portal switched passwords off. On success the shell sends the user on
// to the page they came from; a failed single sign-on comes back here with `?error=<reason>`.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useSearchParams } from 'react-router';
import { oidcErrorMessage, oidcLoginHref } from '../oidc';
import { oidcQuery, useLogin } from '../queries';
import { ErrorText, Loading, useTitle } from '../ui';

/** `onLogin` is told after a password login; the session (meQuery) is set by then. */
export function LoginPage({ onLogin }: { onLogin: () => void }) {
  useTitle('Log in');
  const [params] = useSearchParams();
  const expired = params.has('next');
  const ssoError = params.get('error');
  const { data: sso } = useQuery(oidcQuery);

  if (!sso) return <main className="centered"><Loading what="the login page" /></main>;
  const ssoName = sso.name ?? 'single sign-on';

  return (
    <main className="login" id="main">
      <div className="card">
        <h1>SimpleVM portal</h1>
        {expired ? <p className="hint">Please log in to continue where you were.</p> : null}
        {ssoError ? <ErrorText error={oidcErrorMessage(ssoError, ssoName)} id="sso-error" /> : null}
        {sso.enabled ? (
          <a className="button primary sso" style={{ justifyContent: 'center' }} href={oidcLoginHref(sso, params.get('next'))}>
            Log in with {ssoName}
          </a>
        ) : null}
        {sso.enabled && sso.local_login ? <p className="hint or">or with a local account:</p> : null}
        {sso.local_login ? <LocalLogin onLogin={onLogin} /> : null}
        <p className="hint">
          API documentation: <a href="/portal/api/docs/">/portal/api/docs/</a>
        </p>
      </div>
    </main>
  );
}

function LocalLogin({ onLogin }: { onLogin: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useLogin();
  const error = login.error;
  // Still busy once it succeeded with a session, until the shell has moved on to the page.
  const busy = login.isPending || (login.isSuccess && login.data !== null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ username, password }, { onSuccess: onLogin });
  };

  return (
    // display: contents lays the fields out in the card's column, as the whole card was one form.
    <form className="local-login" style={{ display: 'contents' }} onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
      <label htmlFor="login-username">Username</label>
      <input id="login-username" name="username" autoComplete="username" autoFocus required value={username} onChange={(e) => setUsername(e.target.value)} />
      <label htmlFor="login-password">Password</label>
      <input id="login-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      <ErrorText error={error} id="login-error" />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
    </form>
  );
}
