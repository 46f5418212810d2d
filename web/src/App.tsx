// The shell: finds out whether a session is live, shows the login page when it is not (keeping
// the page the user was on, to return to after login), and otherwise the navigation and the page.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { type Me, type ProjectSummary, ApiError, api, request, setCsrfToken, setUnauthenticatedHandler } from './api';
import { fetchEndSessionUrl } from './oidc';
import { AuditPage } from './pages/AuditPage';
import { LoginPage } from './pages/LoginPage';
import { NewVmPage } from './pages/NewVmPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ProfilePage } from './pages/ProfilePage';
import { ProjectPage, ProjectsPage } from './pages/ProjectsPage';
import { VmsPage } from './pages/VmsPage';
import { VolumesPage } from './pages/VolumesPage';
import { Link, currentPath, navigate, useLocation } from './router';
import { type Session, SessionContext } from './session';
import { LoadError, Loading, toApiError, useResource } from './ui';

type State = { kind: 'checking' } | { kind: 'anonymous' } | { kind: 'failed'; error: ApiError } | { kind: 'in'; me: Me };

/** The login page's address that brings the user back to `path` afterwards. */
function loginPathFor(path: string): string {
  return path === '/' || path.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(path)}`;
}

/** Only paths of this app, never another site, are followed after login. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/vms';
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const location = useLocation();

  const checkSession = useCallback(async () => {
    setState({ kind: 'checking' });
    try {
      const me = await request<Me>('GET', '/api/auth/me', undefined, { quiet401: true });
      setCsrfToken(me.csrf_token ?? null);
      setState({ kind: 'in', me });
    } catch (e) {
      const error = toApiError(e);
      setState(error.status === 401 ? { kind: 'anonymous' } : { kind: 'failed', error });
    }
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrfToken(null);
      setState({ kind: 'anonymous' });
    });
    void checkSession();
  }, [checkSession]);

  // Logged out (or the session expired): the login page, remembering where the user was.
  useEffect(() => {
    if (state.kind === 'anonymous' && location.pathname !== '/login') navigate(loginPathFor(currentPath()), { replace: true });
    if (state.kind === 'in' && location.pathname === '/login') navigate(safeNext(location.params.get('next')), { replace: true });
    if (state.kind === 'in' && location.pathname === '/') navigate('/vms', { replace: true });
  }, [state.kind, location.path]); // location.path includes the query string, so `next` too

  const onLogin = useCallback((me: Me) => {
    setCsrfToken(me.csrf_token ?? null);
    setState({ kind: 'in', me });
  }, []);

  if (state.kind === 'checking') return <main className="centered"><Loading what="the portal" /></main>;
  if (state.kind === 'failed') return <main className="centered"><LoadError error={state.error} retry={checkSession} /></main>;
  if (state.kind === 'anonymous') return location.pathname === '/login' ? <LoginPage onLogin={onLogin} /> : null;
  return <LoggedIn me={state.me} onLogout={() => setState({ kind: 'anonymous' })} />;
}

function LoggedIn({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const { pathname } = useLocation();
  const projects = useResource(() => api.get<ProjectSummary[]>('/api/projects/'), []);
  const [logoutError, setLogoutError] = useState<ApiError | null>(null);

  const logout = useCallback(async () => {
    setLogoutError(null);
    // A single sign-on session ends at the provider too; its URL must be asked for while the session lives.
    const endSession = await fetchEndSessionUrl();
    try {
      await api.post('/api/auth/logout');
    } catch (e) {
      const error = toApiError(e);
      if (error.status !== 401) {
        setLogoutError(error);
        return;
      }
    }
    setCsrfToken(null);
    if (endSession) {
      window.location.assign(endSession);
      return;
    }
    navigate('/login', { replace: true });
    onLogout();
  }, [onLogout]);

  const session: Session = useMemo(() => ({ me, projects, logout }), [me, projects, logout]);

  let page;
  let match: RegExpMatchArray | null;
  if (pathname === '/vms' || pathname === '/vms/' || pathname === '/') page = <VmsPage />;
  else if (pathname === '/vms/new' || pathname === '/vms/new/') page = <NewVmPage />;
  else if (pathname === '/volumes' || pathname === '/volumes/') page = <VolumesPage />;
  else if (pathname === '/projects' || pathname === '/projects/') page = <ProjectsPage />;
  else if ((match = pathname.match(/^\/projects\/(\d+)\/?$/))) page = <ProjectPage id={Number(match[1])} />;
  else if (pathname === '/profile' || pathname === '/profile/') page = <ProfilePage />;
  else if (pathname === '/admin/audit' || pathname === '/admin/audit/') page = <AuditPage />;
  else if (pathname === '/login') page = <Loading what="your page" />;
  else page = <NotFoundPage />;

  const nav: [string, string][] = [
    ['/vms', 'VMs'],
    ['/volumes', 'Volumes'],
    ['/projects', 'Projects'],
    ['/profile', 'Profile'],
  ];
  // Only superusers see everyone's events; the page itself refuses others too.
  if (me.is_superuser) nav.push(['/admin/audit', 'Audit log']);

  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/vms" className="brand">
          SimpleVM
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={pathname === href || pathname.startsWith(`${href}/`) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {me.username}
            {me.is_superuser ? <span className="tag">superuser</span> : null}
          </span>
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
          {logoutError ? <span className="error" role="alert">{logoutError.detail}</span> : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </SessionContext.Provider>
  );
}
