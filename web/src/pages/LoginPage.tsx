// Local-account login. On success the shell sends the user on to the page they came from.
import { type FormEvent, useState } from 'react';
import { type ApiError, type Me, request } from '../api';
import { ErrorText, toApiError, useTitle } from '../ui';

export function LoginPage({ onLogin }: { onLogin: (me: Me) => void }) {
  useTitle('Log in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const expired = new URLSearchParams(window.location.search).has('next');

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
    <main className="login" id="main">
      <form className="card" onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <h1>SimpleVM portal</h1>
        {expired ? <p className="hint">Please log in to continue where you were.</p> : null}
        <label htmlFor="login-username">Username</label>
        <input id="login-username" name="username" autoComplete="username" autoFocus required value={username} onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor="login-password">Password</label>
        <input id="login-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <ErrorText error={error} id="login-error" />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p className="hint">
          API documentation: <a href="/portal/api/docs/">/portal/api/docs/</a>
        </p>
      </form>
    </main>
  );
}
