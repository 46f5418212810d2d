// Neutron v2.0 under /network: only GET /v2.0/networks (with a `name` filter), which the portal
// uses to turn SIMPLEVM_OS_NETWORK's name into an id.
import { type Ctx, type FakeOpenStack, PROJECT, type Reply, neutronError } from './server.js';

export function handleNeutron(fake: FakeOpenStack, ctx: Ctx): Reply {
  if (ctx.path.replace(/\/+$/, '') !== '/v2.0/networks' || ctx.method !== 'GET') return neutronError(404, 'HTTPNotFound', 'The resource could not be found.');
  const name = ctx.query.get('name');
  const networks = fake.networks
    .filter((n) => name === null || n.name === name)
    .map((n) => ({
      id: n.id, name: n.name, status: 'ACTIVE', admin_state_up: true, shared: false, subnets: [], tenant_id: PROJECT.id, project_id: PROJECT.id,
      mtu: 1450, 'router:external': false, availability_zones: ['nova'], tags: [], description: '', port_security_enabled: true,
    }));
  return { status: 200, body: { networks } };
}
