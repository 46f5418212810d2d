// What crosses the research environment proxy and what does not, as pure rules (no I/O): the
// portal's credentials never reach a VM, a VM never sets the portal's cookies, and the environment's
// redirects and cookies are moved under /resenv/{openstack_id}/, where the browser sees it.
import type { ResenvTarget } from './resenv.service.js';

/** Every cookie of the portal (session, pending single sign-on, grant) begins so: none goes to a VM, none may come from one. */
export const PORTAL_COOKIE_PREFIX = 'simplevm_';

/** On the environments' own host (SIMPLEVM_RESENV_URL): the cookie that admits a browser to one VM's environment. */
export const RESENV_GRANT_COOKIE = `${PORTAL_COOKIE_PREFIX}resenv`;

/** On the environments' own host: where a ticket from the portal's host is redeemed, /resenv/{openstack_id}/__simplevm_ticket. */
export const RESENV_TICKET_PATH = '__simplevm_ticket';

/**
 * Request headers that never reach a VM: the portal's credentials (an API key, the CSRF token), and
 * what a client may claim about forwarding (the proxy writes its own X-Forwarded-* below).
 */
const NEVER_FORWARDED = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'x-csrf-token',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip',
]);

const isPortalCookie = (name: string) => name.trim().toLowerCase().startsWith(PORTAL_COOKIE_PREFIX);
const cookieName = (pair: string) => pair.split('=', 1)[0];

/** A Cookie header without the portal's cookies; undefined when none is left. */
export function withoutPortalCookies(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const pairs = (Array.isArray(header) ? header.join('; ') : header)
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !isPortalCookie(cookieName(pair)));
  return pairs.length ? pairs.join('; ') : undefined;
}

/** What the VM is told about the browser's request, as a reverse proxy tells it. */
export interface Forwarding {
  clientIp: string;
  proto: string;
  host: string;
  /** Where the portal serves the environment: /resenv/{openstack_id}. */
  prefix: string;
}

type Headers = Record<string, string | string[] | number | undefined>;

/** The request headers sent on to the VM: the browser's, less the portal's credentials, plus X-Forwarded-*. */
export function upstreamRequestHeaders(headers: Headers, fwd: Forwarding): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || lower === 'cookie' || NEVER_FORWARDED.has(lower)) continue;
    // A page reached through a ticket's redirect may name it in its Referer; the ticket is the portal's.
    if (lower === 'referer' && String(value).includes(RESENV_TICKET_PATH)) continue;
    out[name] = value;
  }
  const cookie = withoutPortalCookies(headers.cookie as string | string[] | undefined);
  if (cookie !== undefined) out.cookie = cookie;
  out['x-forwarded-for'] = fwd.clientIp;
  out['x-forwarded-proto'] = fwd.proto;
  out['x-forwarded-host'] = fwd.host;
  out['x-forwarded-prefix'] = fwd.prefix;
  return out;
}

/**
 * The portal's path for a path of the VM's environment: within the user path it moves under the
 * mount (`/rstudio/x` → `/resenv/{id}/x` for user path `/rstudio/`); elsewhere there is none (null).
 */
export function portalPath(path: string, target: Pick<ResenvTarget, 'pathPrefix' | 'mount'>): string | null {
  const cut = path.search(/[?#]/);
  const pathname = cut === -1 ? path : path.slice(0, cut);
  const rest = cut === -1 ? '' : path.slice(cut);
  const { pathPrefix, mount } = target;
  if (!pathname.startsWith('/')) return null;
  if (pathPrefix === '') return `${mount}${pathname}${rest}`;
  if (pathname === pathPrefix) return `${mount}/${rest}`;
  return pathname.startsWith(`${pathPrefix}/`) ? `${mount}${pathname.slice(pathPrefix.length)}${rest}` : null;
}

/**
 * An environment's redirect as the browser must follow it: a path, or a URL on the VM's own
 * address, within the user path goes under the mount; a relative one (resolved by the browser
 * against the portal's address) and one to another site are left as they are.
 */
export function portalLocation(location: string, target: ResenvTarget): string {
  let path: string;
  if (location.startsWith('/') && !location.startsWith('//')) {
    path = location;
  } else {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return location;
    }
    if (url.origin !== target.origin) return location;
    path = `${url.pathname}${url.search}${url.hash}`;
  }
  return portalPath(path, target) ?? location;
}

/**
 * An environment's Set-Cookie as the portal passes it on, or null to drop it: never one of the
 * portal's own cookies (a VM could otherwise replace the user's session); no Domain (the VM's
 * address is not the portal's); its Path moved under the mount, so that two VMs' environments (two
 * JupyterLabs, each with its `_xsrf`) keep their cookies apart.
 */
export function portalSetCookie(value: string, target: ResenvTarget): string | null {
  const [pair, ...attributes] = value.split(';');
  if (isPortalCookie(cookieName(pair))) return null;
  const kept: string[] = [pair.trim()];
  for (const raw of attributes) {
    const attribute = raw.trim();
    const at = attribute.indexOf('=');
    const name = (at === -1 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    if (name === 'domain' || attribute === '') continue;
    if (name === 'path') {
      const path = attribute.slice(at + 1).trim();
      kept.push(`Path=${(path.startsWith('/') ? portalPath(path, target) : null) ?? `${target.mount}/`}`);
    } else {
      kept.push(attribute);
    }
  }
  return kept.join('; ');
}

/**
 * The frame rule on an environment's own answers. The portal's pages may not be framed at all
 * (`frame-ancestors 'none'`, X-Frame-Options DENY), but environments frame their own pages: RStudio's
 * help and viewer panes, VS Code's webviews, JupyterLab's PDF and HTML viewers. `'self'` allows
 * exactly that, the portal's origin, and still keeps every other site from framing (clickjacking) an
 * environment. Nothing is lost by it: a page on the portal's origin could already reach the same
 * environment with the user's cookie without framing it.
 */
export const RESENV_FRAME_RULE = "frame-ancestors 'self'";

/**
 * The security headers of an environment's answer, replacing the portal's (which app.ts sets on
 * every answer) where the environment needs another: the portal's Content-Security-Policy allows
 * only its own scripts and no inline ones, which would stop RStudio, JupyterLab and the others
 * from running at all, so it gives way to the environment's own policy (when it sends one) plus
 * the frame rule above; X-Frame-Options goes from DENY to SAMEORIGIN to match. Everything else the
 * portal sends stays: nosniff, the same-origin referrer policy, the cross-origin isolation headers.
 */
export function proxiedSecurityHeaders(upstreamCsp: string | string[] | undefined): Record<string, string | string[]> {
  const own = upstreamCsp === undefined ? [] : Array.isArray(upstreamCsp) ? upstreamCsp : [upstreamCsp];
  return {
    'content-security-policy': own.length ? [...own, RESENV_FRAME_RULE] : RESENV_FRAME_RULE,
    'x-frame-options': 'SAMEORIGIN',
  };
}
