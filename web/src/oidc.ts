// Single sign-on (OpenID Connect) as the login page shows it: where its button goes, and the
// sentence for each way a login can fail. Whether the portal offers it is oidcQuery (queries.ts).
import type { OidcInfo } from './api';

/** Where the "Log in with …" button goes, returning to `next` afterwards. */
export function oidcLoginHref(info: OidcInfo, next: string | null): string {
  const base = info.login_url ?? '/api/auth/oidc/login';
  return next ? `${base}?next=${encodeURIComponent(next)}` : base;
}

/** The sentence for `/login?error=<reason>`, as the portal's callback sends it. */
export function oidcErrorMessage(reason: string, name: string): string {
  switch (reason) {
    case 'access_denied':
      return `The login with ${name} was cancelled.`;
    case 'invalid_state':
      return 'The login could not be verified: it took too long, or it was started in another window. Please try again.';
    case 'provider_unavailable':
      return `${name} cannot be reached right now. Please try again later.`;
    case 'account_inactive':
      return 'Your account is deactivated. Ask the portal\'s administrators.';
    case 'unavailable':
      return 'The portal cannot complete logins right now. Please try again later.';
    default:
      return `The login with ${name} failed. Please try again.`;
  }
}
