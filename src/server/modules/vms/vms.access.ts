// How to get into a VM (spec §9 "Access"): the ssh line, through the site's gateway when it has
// one, and the research environment through the portal's own proxy.
import { isIPv4 } from 'node:net';
import type { Config } from '../../config.js';
import type { VmView } from './vms.repository.js';

export interface VmAccess {
  ssh: { user: string; host: string; port: number; command: string } | null;
  research_environment: { template: string; url: string } | null;
}

/** A VM as the API shows it. */
export type VmOutView = Omit<VmView, 'resenv_user_path' | 'login_user'> & { access: VmAccess | null };

/** Statuses of a VM that has been ACTIVE and still exists: it can be got into (again). */
const REACHABLE = new Set(['ACTIVE', 'REBOOT', 'HARD_REBOOT', 'SHUTOFF']);

/**
 * SimpleVM's gateways forward port base + 256 × the third + the fourth octet of a VM's fixed IPv4
 * address to its port 22; null when the address is not IPv4 or the port would pass 65535.
 */
export function gatewayPort(base: number, fixedIp: string): number | null {
  if (!isIPv4(fixedIp)) return null;
  const [, , third, fourth] = fixedIp.split('.').map(Number);
  const port = base + 256 * third + fourth;
  return port <= 65535 ? port : null;
}

function sshAccess(config: Pick<Config, 'sshGateway' | 'sshPortBase'>, user: string, fixedIp: string | null): VmAccess['ssh'] {
  if (fixedIp === null) return null;
  let host = fixedIp;
  let port = 22;
  if (config.sshGateway !== null) {
    const forwarded = gatewayPort(config.sshPortBase, fixedIp);
    if (forwarded === null) return null;
    host = config.sshGateway;
    port = forwarded;
  }
  const target = `${user}@${host.includes(':') ? `[${host}]` : host}`;
  return { user, host, port, command: `ssh -i ~/.ssh/id_ed25519${port === 22 ? '' : ` -p ${port}`} ${target}` };
}

export function accessOf(config: Pick<Config, 'sshGateway' | 'sshPortBase' | 'publicUrl'>, vm: VmView): VmAccess | null {
  if (!REACHABLE.has(vm.status)) return null;
  const env = vm.research_environment;
  return {
    ssh: sshAccess(config, vm.login_user, vm.fixed_ip),
    research_environment: env === null ? null : { template: env, url: `${config.publicUrl ?? ''}/resenv/${vm.openstack_id}/` },
  };
}

export function withAccess(config: Pick<Config, 'sshGateway' | 'sshPortBase' | 'publicUrl'>, vm: VmView): VmOutView {
  const { resenv_user_path: _path, login_user: _user, ...shown } = vm;
  return { ...shown, access: accessOf(config, vm) };
}
