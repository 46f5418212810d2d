// Where a research environment is: the VM the caller may see, ACTIVE, made with a template that the
// catalogue still has, and with an address, gives the upstream the portal's proxy forwards to.
//
// With SIMPLEVM_RESENV_URL, environments are served on a host of their own, where the portal's
// session cookie is not sent and its API is not served. A browser crosses over with a one-time
// ticket (made on the portal's host for a session that may open the environment), which the
// environments' host exchanges for a grant: a cookie for that VM's path, good while the session lasts.
import { isIP } from 'node:net';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { randomToken, sha256Hex } from '../../auth/tokens.js';
import type { AppContext } from '../../context.js';
import { notFound } from '../../errors.js';
import { findResenvTemplate } from './resenv.catalogue.js';
import {
  deleteExpiredResenvPasses, findResenvGrantUser, findResenvVm, insertResenvGrant, insertResenvTicket, liveSessionExpiry, useResenvTicket,
} from './resenv.repository.js';

/** Where the portal serves VMs' environments: /resenv/{openstack_id}/… */
export const RESENV_MOUNT = '/resenv';

export interface ResenvTarget {
  /** The environment's origin inside the cloud: `http://{fixed_ip}:{port}`. */
  origin: string;
  /** The VM's user path without its last slash: '' for `/`, `/rstudio` for `/rstudio/`. */
  pathPrefix: string;
  /** Where the portal serves it, without the last slash: `/resenv/{openstack_id}`. */
  mount: string;
}

/** One answer for every reason there is nothing to open, so that it tells nothing about the VM. */
const NOTHING_HERE = 'No research environment here.';

/**
 * The user path as the proxy prefixes it: '' or `/seg/…` (no last slash); null when it is not one
 * the VM API would have stored (only letters, digits and . _ ~ -, no . or .. segments).
 */
export function pathPrefixOf(userPath: string | null): string | null {
  const segments = (userPath ?? '/').split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..' || !/^[\w.~-]+$/.test(s))) return null;
  return segments.map((s) => `/${s}`).join('');
}

/** `http://address:port`, with an IPv6 address in brackets; null when `ip` is not an address at all. */
export function originOf(ip: string | null, port: number): string | null {
  if (ip === null) return null;
  const version = isIP(ip);
  if (version === 0) return null;
  return `http://${version === 6 ? `[${ip}]` : ip}:${port}`;
}

/** The environment of VM `openstackId` for a web session's user; not_found for anything else. */
export async function resenvTarget(ctx: Pick<AppContext, 'db' | 'config'>, p: Principal, openstackId: string): Promise<ResenvTarget> {
  const vm = await findResenvVm(ctx.db.kysely, reachOf(p), openstackId);
  if (!vm || vm.status !== 'ACTIVE' || vm.resenv_template === null) throw notFound(NOTHING_HERE);
  const template = findResenvTemplate(ctx.config, vm.resenv_template);
  const origin = template ? originOf(vm.fixed_ip, template.port) : null;
  const pathPrefix = pathPrefixOf(vm.resenv_user_path);
  if (origin === null || pathPrefix === null) throw notFound(NOTHING_HERE);
  return { origin, pathPrefix, mount: `${RESENV_MOUNT}/${encodeURIComponent(openstackId)}` };
}

/** How long a ticket from the portal's host to the environments' host may take to be redeemed. */
export const RESENV_TICKET_MS = 60_000;

/**
 * A one-time ticket to VM `openstackId`'s environment on the environments' host, for the session
 * of `p` (whom resenvTarget has admitted). Only the ticket's digest is stored.
 */
export async function issueResenvTicket(ctx: Pick<AppContext, 'db'>, p: Principal, openstackId: string): Promise<string> {
  if (!p.sessionId) throw notFound(NOTHING_HERE);
  const ticket = randomToken();
  const now = new Date();
  await insertResenvTicket(ctx.db.kysely, {
    digest: sha256Hex(ticket), userId: p.user.id, sessionId: p.sessionId, vmId: openstackId,
    createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + RESENV_TICKET_MS).toISOString(),
  });
  await deleteExpiredResenvPasses(ctx.db.kysely, now.toISOString());
  return ticket;
}

/**
 * Redeems a ticket for VM `openstackId`: once, within its minute, while its session lasts. Gives
 * the grant's token (for the cookie, its digest stored) and when it ends (with the session), or
 * null. The ticket is looked up by the digest of what the browser sent: the secret itself is never
 * compared, so the lookup's timing tells nothing about it.
 */
export async function redeemResenvTicket(ctx: Pick<AppContext, 'db'>, ticket: string, openstackId: string): Promise<{ token: string; expiresAt: Date } | null> {
  const now = new Date().toISOString();
  return ctx.db.kysely.transaction().execute(async (trx) => {
    const used = await useResenvTicket(trx, sha256Hex(ticket), openstackId, now);
    if (!used) return null;
    const expiresAt = await liveSessionExpiry(trx, used.session_id, used.user_id, now);
    if (expiresAt === undefined) return null;
    const token = randomToken();
    await insertResenvGrant(trx, { digest: sha256Hex(token), userId: used.user_id, sessionId: used.session_id, vmId: openstackId, createdAt: now, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  });
}

/**
 * Who a grant cookie speaks for at VM `openstackId`, as a web session would: null when there is no
 * such grant, it is for another VM, or its session has ended (logout, expiry, a password change).
 * Whether that user may still see the VM is resenvTarget's question, asked afresh on every request.
 */
export async function resenvGrantPrincipal(ctx: Pick<AppContext, 'db'>, token: string, openstackId: string, ip: string): Promise<Principal | null> {
  const row = await findResenvGrantUser(ctx.db.kysely, sha256Hex(token), openstackId, new Date().toISOString());
  if (!row) return null;
  return {
    user: { id: row.user_id, username: row.username, isSuperuser: row.is_superuser === 1 },
    via: 'session',
    key: null,
    sessionId: row.session_id,
    csrfToken: null,
    ip,
  };
}
