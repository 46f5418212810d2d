// Login: with the single sign-on provider ("Log in with …") when the portal offers it, and with a
// local account unless the portal switched passwords off. On success the shell sends the user on
// to the page they came from; a failed single sign-on comes back here with `?error=<reason>`.
import { type FormEvent, useEffect, useState } from 'react';
import { type ApiError, type Me, request } from '../api';
import { type OidcInfo, fetchOidcInfo, oidcErrorMessage, oidcLoginHref } from '../oidc';
import { ErrorText, Loading, toApiError, useTitle } from '../ui';

export function LoginPage({ onLogin }: { onLogin: (me: Me) => void }) {
  useTitle('Log in');
  const params = new URLSearchParams(window.location.search);
  const expired = params.has('next');
  const ssoError = params.get('error');
  const [sso, setSso] = useState<OidcInfo | null>(null);

  useEffect(() => {
    let live = true;
    void fetchOidcInfo().then((info) => live && setSso(info));
    return () => {
      live = false;
    };
  }, []);

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

function LocalLogin({ onLogin }: { onLogin: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await request<{ user: { username: string; is_superuser: boolean }; csrf_token: string }>(
        'POST', '/api/auth/login', { username, password }, { quiet401: true },
      );
      // The login answer has the user and token; /me adds what the pages need (the beta gate).
      const me = await request<Me>('GET', '/api/auth/me', undefined, { quiet401: true });
      onLogin({ ...me, csrf_token: me.csrf_token ?? r.csrf_token });
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
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
