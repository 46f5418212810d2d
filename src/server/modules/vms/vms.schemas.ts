import { Type } from '@sinclair/typebox';
import { VM_NAME_PATTERN } from '../../../shared/contract.js';
import { Name, Page, PageQuery } from '../shared.schemas.js';


export const VmOut = Type.Object(
  {
    openstack_id: Type.String(),
    name: Type.String(),
    project_id: Type.Integer(),
    owner: Type.String({ description: 'Username of the VM\'s creator.' }),
    image_name: Type.String(),
    flavor_name: Type.String(),
    status: Type.String({ description: 'Nova status: BUILD, ACTIVE, SHUTOFF, REBOOT, HARD_REBOOT, ERROR, DELETED.' }),
    task_state: Type.Union([Type.String(), Type.Null()], { description: 'Set while a transition runs (spawning, powering-off, powering-on, rebooting, rebooting_hard, deleting).' }),
    fixed_ip: Type.Union([Type.String(), Type.Null()]),
    fault: Type.Union([Type.String(), Type.Null()], { description: 'Why the VM is in ERROR, when it is.' }),
    volumes: Type.Array(Type.String(), { description: 'openstack_ids of the attached volumes.' }),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'Vm' },
);

export const VmPage = Page(Type.Ref('Vm'), 'VmPage');

export const VmListQuery = Type.Object({
  ...PageQuery,
  project_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  status: Type.Optional(Type.String({ maxLength: 32, description: 'Exact status; DELETED VMs are listed only with status=DELETED.' })),
  text: Type.Optional(Type.String({ maxLength: 255, description: 'Name or openstack_id contains (case-insensitive). Empty: no filter.' })),
  owner: Type.Optional(Type.String({ maxLength: 150, description: 'The VM\'s owner, by username (exact). Empty: no filter.' })),
  openstack_id: Type.Optional(Type.String({ maxLength: 255, description: 'The VM\'s openstack_id (exact): a page of one VM, or none. Empty: no filter.' })),
});

export const VmCreateBody = Type.Object(
  {
    project_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    image_name: Name(255, 'An image of the project (GET /api/projects/{id}/images/), or one of its active snapshots.'),
    flavor_name: Name(100, 'A flavor of the project (GET /api/projects/{id}/flavors/).'),
    vm_name: Type.String({ pattern: VM_NAME_PATTERN, description: '1–63 characters: letters, digits, dot, dash, underscore; starting with a letter or digit.' }),
  },
  { $id: 'VmCreateBody' },
);

export const VmActionBody = Type.Object(
  {
    os_action: Type.Union([Type.Literal('stop'), Type.Literal('resume'), Type.Literal('reboot')], { description: 'stop (ACTIVE → SHUTOFF), resume (SHUTOFF → ACTIVE) or reboot (ACTIVE).' }),
    reboot_type: Type.Optional(Type.Union([Type.Literal('SOFT'), Type.Literal('HARD')], { default: 'SOFT' })),
  },
  { $id: 'VmActionBody' },
);
