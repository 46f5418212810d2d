// Neutron, only to turn SIMPLEVM_OS_NETWORK's name into the network id Nova needs.
import { NeutronNetworkList } from './schemas.js';
import type { OpenStackSession } from './session.js';

export class NeutronApi {
  constructor(private readonly s: OpenStackSession) {}

  async networksNamed(name: string): Promise<{ id: string; name: string }[]> {
    return (await this.s.request('network', 'GET', '/v2.0/networks', { query: { name }, schema: NeutronNetworkList })).body.networks;
  }
}
