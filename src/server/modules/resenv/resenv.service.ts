// Where a research environment is: the VM the caller may see, ACTIVE, made with a template that the
// catalogue still has, and with an address, gives the upstream the portal's proxy forwards to.
import { isIP } from 'node:net';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import { notFound } from '../../errors.js';
import { findResenvTemplate } from './resenv.catalogue.js';
import { findResenvVm } from './resenv.repository.js';

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
