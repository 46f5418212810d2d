// Single sign-on (OpenID Connect) as the web app sees it: whether the portal offers it and with
// which label, the sentence for each way a login can fail, and the provider's end-session URL.
import { request } from './api';

export interface OidcInfo {
  enabled: boolean;
  name: string | null;
  login_url: string | null;
  local_login: boolean;
}

/** What the login page assumes when the portal cannot say: password login, no single sign-on. */
export const NO_OIDC: OidcInfo = { enabled: false, name: null, login_url: null, local_login: true };

export async function fetchOidcInfo(): Promise<OidcInfo> {
  try {
    return await request<OidcInfo>('GET', '/api/auth/oidc', undefined, { quiet401: true });
  } catch {
    return NO_OIDC;
  }
}

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

/**
 * The provider's end-session URL for the current session, asked before logging out (the portal
 * forgets it with the session); null for a password login, or when it cannot be had.
 */
export async function fetchEndSessionUrl(): Promise<string | null> {
  try {
    return (await request<{ url: string | null }>('GET', '/api/auth/oidc/end-session', undefined, { quiet401: true })).url;
  } catch {
    return null;
  }
}
