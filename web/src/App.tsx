// The shell: finds out whether a session is live (meQuery), sends a visitor to the login page
// (keeping the page they asked for, to return to after login), and otherwise shows the navigation
// and the page the address names.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react';
import { Link, NavLink, Navigate, Outlet, Route, Routes, useLocation, useNavigationType, useSearchParams } from 'react-router';
import type { Me } from './api';
import { AuditPage } from './pages/AuditPage';
import { LoginPage } from './pages/LoginPage';
import { NewVmPage } from './pages/NewVmPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ProfilePage } from './pages/ProfilePage';
import { ProjectPage, ProjectsPage } from './pages/ProjectsPage';
import { VmPage } from './pages/VmPage';
import { VmsPage } from './pages/VmsPage';
import { VolumesPage } from './pages/VolumesPage';
import { meQuery, useLogout } from './queries';
import { type Session, SessionContext } from './session';
import { LoadError, Loading } from './ui';

/** The login page's address that brings the user back to `path` afterwards. */
function loginPathFor(path: string): string {
  return path === '/' || path.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(path)}`;
}

/** Only paths of this app, never another site, are followed after login. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/vms';
}

export function App() {
  const me = useQuery(meQuery);
  // Set when the user logs out in this tab: the login page then has no `next`, as there is nothing
  // to resume (a session that expires keeps it). Cleared by the next login.
  const [loggedOut, setLoggedOut] = useState(false);

  if (me.isPending) return <main className="centered"><Loading what="the portal" /></main>;
  if (me.isLoadingError) {
    return <main className="centered">{me.isFetching ? <Loading what="the portal" /> : <LoadError error={me.error} retry={() => void me.refetch()} />}</main>;
  }
  const session = me.data;

  return (
    <>
      <ScrollToTop />
      <Routes>
        <Route path="/login" element={session ? <AfterLogin /> : <LoginPage onLogin={() => setLoggedOut(false)} />} />
        <Route element={session ? <Shell me={session} onLoggedOut={() => setLoggedOut(true)} /> : <ToLogin loggedOut={loggedOut} />}>
          <Route index element={<Navigate to="/vms" replace />} />
          <Route path="vms" element={<VmsPage />} />
          <Route path="vms/new" element={<NewVmPage />} />
          <Route path="vms/:openstackId" element={<VmPage />} />
          <Route path="volumes" element={<VolumesPage />} />
          <Route path="projects" element={<ProjectsPage />} />
          <Route path="projects/:id" element={<ProjectPage />} />
          <Route path="profile" element={<ProfilePage />} />
          <Route path="admin/audit" element={<AuditPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </>
  );
}

/** Logged out (or the session expired): the login page, remembering where the user was. */
function ToLogin({ loggedOut }: { loggedOut: boolean }) {
  const { pathname, search } = useLocation();
  return <Navigate to={loggedOut ? '/login' : loginPathFor(pathname + search)} replace />;
}

/** Pages the portal serves itself, outside this app: a VM's research environment (/resenv/{id}/…). */
const isServerPage = (path: string) => path.startsWith('/resenv/');

/** Logged in on the login page: on to the page the user asked for. */
function AfterLogin() {
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const server = isServerPage(next);
  // The app's router cannot show a research environment: the browser loads it from the portal, once
  // (StrictMode runs an effect twice, and a second load would restart the first).
  const left = useRef(false);
  useEffect(() => {
    if (!server || left.current) return;
    left.current = true;
    window.location.replace(next);
  }, [server, next]);
  return server ? <main className="centered"><Loading what="the research environment" /></main> : <Navigate to={next} replace />;
}

/** A page reached by a link or a form starts at its top; on Back and Forward the browser keeps its place. */
function ScrollToTop() {
  const { key } = useLocation();
  const type = useNavigationType();
  useEffect(() => {
    if (type === 'PUSH') window.scrollTo(0, 0);
  }, [key, type]);
  return null;
}

function Shell({ me, onLoggedOut }: { me: Me; onLoggedOut: () => void }) {
  const queryClient = useQueryClient();
  const logout = useLogout();
  const session: Session = useMemo(() => ({ me }), [me]);

  const logOut = () =>
    logout.mutate(undefined, {
      onSuccess: (endSession) => {
        // A single sign-on session ends at the provider as well, which sends the browser back to /login.
        if (endSession) {
          window.location.assign(endSession);
          return;
        }
        onLoggedOut();
        queryClient.setQueryData(meQuery.queryKey, null);
      },
    });

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
        <Link to="/vms" className="brand">
          SimpleVM
        </Link>
        {/* Nothing here is a real VM: said on every page, so that nobody mistakes it for the cloud they use. */}
        {me.cloud === 'simulated' ? (
          <span className="sim-mark" data-testid="simulated-cloud">
            Simulated cloud
          </span>
        ) : null}
        <Menu me={me} nav={nav} onLogOut={logOut} logOutError={logout.error?.detail ?? null} />
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </SessionContext.Provider>
  );
}

/**
 * The navigation and the user's name with Log out. On a wide screen they are always shown; on a
 * phone (styles.css) they fold behind the Menu button, a disclosure: Enter or Space opens and closes
 * it, Escape closes it and puts focus back on the button, and following a link closes it.
 */
function Menu({ me, nav, onLogOut, logOutError }: { me: Me; nav: [string, string][]; onLogOut: () => void; logOutError: string | null }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  // Every navigation closes it, also a link to the page already shown.
  const { key } = useLocation();
  useEffect(() => setOpen(false), [key]);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || !open) return;
    e.preventDefault();
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div className="menu-area" onKeyDown={onKeyDown}>
      <button ref={button} type="button" className="menu-button" aria-expanded={open} aria-controls="main-menu" onClick={() => setOpen((o) => !o)}>
        <span className="menu-icon" aria-hidden="true" />
        Menu
      </button>
      <div id="main-menu" className={open ? 'menu open' : 'menu'}>
        <nav aria-label="Main">
          <ul>
            {nav.map(([to, label]) => (
              <li key={to}>
                {/* aria-current="page" on this page and the pages under it (/vms/new). */}
                <NavLink to={to}>{label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {me.username}
            {me.is_superuser ? <span className="tag">superuser</span> : null}
          </span>
          <button type="button" onClick={onLogOut}>
            Log out
          </button>
          {logOutError ? <span className="error" role="alert">{logOutError}</span> : null}
        </div>
      </div>
    </div>
  );
}
