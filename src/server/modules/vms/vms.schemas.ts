import { Type } from '@sinclair/typebox';
import { VM_NAME_PATTERN } from '../../../shared/contract.js';
import { Name, Page, PageQuery } from '../shared.schemas.js';

/** At most 64 KiB of first-boot script (spec §8); counted in UTF-8 bytes by the service. */
export const MAX_SCRIPT_BYTES = 64 * 1024;
export const MAX_LAUNCH_VOLUMES = 10;
const RESENV_TEMPLATE_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';
/** A path on the VM: segments of safe characters, no `..` (checked by the service), no spaces. */
const USER_PATH_PATTERN = '^[A-Za-z0-9._~/-]*$';
const MOUNT_PATH_PATTERN = '^/[A-Za-z0-9._/-]+$';


export const VmAccess = Type.Object({
  ssh: Type.Union([
    Type.Object({
      user: Type.String({ description: 'The login user: the image\'s default_user, else ubuntu.' }),
      host: Type.String({ description: 'The site\'s SSH gateway (SIMPLEVM_SSH_GATEWAY), else the VM\'s own address.' }),
      port: Type.Integer({ description: 'Through the gateway: SIMPLEVM_SSH_PORT_BASE + 256 × the third + the fourth octet of the fixed IP; else 22.' }),
      command: Type.String({ description: 'The ssh line to run.' }),
    }),
    Type.Null(),
  ], { description: 'Null when the VM has no address yet.' }),
  research_environment: Type.Union([
    Type.Object({ template: Type.String(), url: Type.String({ description: 'The portal\'s proxy to it: /resenv/{openstack_id}/ (on SIMPLEVM_PUBLIC_URL when set); a web session opens it.' }) }),
    Type.Null(),
  ]),
});

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
    ssh_keys: Type.Array(Type.String(), { description: 'The `SHA256:` fingerprints of the public SSH keys put into the VM at creation.' }),
    research_environment: Type.Union([Type.String(), Type.Null()], { description: 'The research environment template the VM was created with (GET /api/research-environments/), or null.' }),
    access: Type.Union([VmAccess, Type.Null()], { description: 'How to get into the VM: null until it is ACTIVE.' }),
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
    additional_script: Type.Optional(Type.String({
      maxLength: MAX_SCRIPT_BYTES, description: 'A shell script (at most 64 KiB) run once at first boot, through the VM\'s cloud-init user data; a script without #! runs with /bin/bash.',
    })),
    research_environment_backend: Type.Optional(Type.Object({
      template: Type.String({ pattern: RESENV_TEMPLATE_PATTERN, description: 'A template of GET /api/research-environments/.' }),
      user_path: Type.Optional(Type.String({ pattern: USER_PATH_PATTERN, maxLength: 200, description: 'The path the environment serves under on the VM (letters, digits, . _ ~ - and /); default /.' })),
      create_only: Type.Optional(Type.Boolean({ default: false, description: 'The image has the environment already (SimpleVM\'s create_only_backend): only the access to it is set up, nothing is installed.' })),
    }, { description: 'A research environment, reached in the browser through the portal. As a form: research_environment_backend.template=…, .user_path=…, .create_only=….' })),
    volumes: Type.Optional(Type.Array(Type.Object({
      openstack_id: Type.String({ minLength: 1, maxLength: 64, description: 'An available volume of the same project.' }),
      path: Type.String({ pattern: MOUNT_PATH_PATTERN, maxLength: 200, description: 'Where it is mounted: an absolute path such as /vol/data.' }),
    }), { maxItems: MAX_LAUNCH_VOLUMES, description: 'Volumes attached once the VM is ACTIVE and mounted at first boot. As a form: volume_ids repeated, with volume_paths in the same order.' })),
    member_access: Type.Optional(Type.Boolean({ default: false, description: 'Also put the public SSH keys of every member of the project into the VM.' })),
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
