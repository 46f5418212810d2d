// List your VMs with the typed client (`simplevm/client`), following the pages of the list.
// Run it in a checkout: SIMPLEVM_URL=http://127.0.0.1:8000 SIMPLEVM_API_KEY=svm_… npx tsx examples/list-vms.ts
import { createClient } from 'simplevm/client';

const client = createClient({
  baseUrl: process.env.SIMPLEVM_URL ?? 'http://127.0.0.1:8000',
  apiKey: process.env.SIMPLEVM_API_KEY, // a key with the vm:read scope
});

let count = 0;
for (let page = 1; ; page++) {
  // Typed by the portal's OpenAPI document: the path, the query, and `data` (a page of VMs).
  const { data, error, response } = await client.GET('/api/vms', { params: { query: { page, page_size: 100 } } });
  if (error) {
    console.error(`simplevm: ${error.detail} (HTTP ${response.status})`);
    process.exit(1);
  }
  for (const vm of data.results) {
    console.log(`${vm.name}\t${vm.status}\t${vm.fixed_ip ?? '-'}\t${vm.openstack_id}`);
  }
  count += data.results.length;
  if (!data.next) break;
}
console.log(`${count} VMs`);
