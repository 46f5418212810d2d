import { Type } from '@sinclair/typebox';
import { CONDA_NAME_PATTERN, CONDA_VERSION_PATTERN, MAX_CONDA_PACKAGES, VM_NAME_PATTERN } from '../../../shared/contract.js';
import { Name, Page, PageQuery } from '../shared.schemas.js';

/** At most 64 KiB of first-boot script (spec §8); counted in UTF-8 bytes by the service. */
export const MAX_SCRIPT_BYTES = 64 * 1024;
export const MAX_LAUNCH_VOLUMES = 10;
const RESENV_TEMPLATE_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';
/** A path on the VM: segments of safe characters, no `..` (checked by the service), no spaces. */
const USER_PATH_PATTERN = '^[A-Za-z0-9._~/-]*$';
const MOUNT_PATH_PATTERN = '^/[A-Za-z0-9._/-]+$';
/** A conda package: a name as conda allows (letters, digits, _ . + -), optionally =version (the contract's two patterns, joined). */
const CONDA_SPEC_PATTERN = `${CONDA_NAME_PATTERN.slice(0, -1)}(=${CONDA_VERSION_PATTERN.slice(1, -1)})?$`;


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
    Type.Object({ template: Type.String(), url: Type.String({ description: 'The portal\'s proxy to it: /resenv/{openstack_id}/ on SIMPLEVM_RESENV_URL (the environments\' own host) when set, else on SIMPLEVM_PUBLIC_URL, else relative; a web session opens it.' }) }),
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
    // SimpleVM's names for the same facts (spec §10), which its tutorials read.
    uuid: Type.String({ description: 'SimpleVM\'s name for openstack_id.' }),
    vm_state: Type.String({ description: 'Nova\'s vm_state, lower case: building, active (also while rebooting), stopped, error, deleted.' }),
    ssh_command: Type.Union([Type.String(), Type.Null()], { description: 'access.ssh.command, or null.' }),
    res_env_url: Type.Union([Type.String(), Type.Null()], { description: 'access.research_environment.url, or null.' }),
    userlogin: Type.Union([Type.String(), Type.Null()], { description: 'The login user (access.ssh.user), or null before ACTIVE.' }),
    conda_packages: Type.Array(Type.Object({ name: Type.String(), version: Type.Union([Type.String(), Type.Null()]) }), {
      description: 'The conda packages installed at first boot (version null when not pinned).',
    }),
    setup: Type.Union([Type.Ref('VmSetup'), Type.Null()], { description: 'What runs at first boot, as the VM reports it; null when nothing does.' }),
    playbook_done: Type.Boolean({ description: 'SimpleVM\'s name: the setup ended (done or failed).' }),
    playbook_successful: Type.Boolean({ description: 'SimpleVM\'s name: the setup is done.' }),
    modes: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), copy_field: Type.String() }), {
      description: 'Each way into the VM: {"name": "ssh", …, "copy_field": the ssh line} and, with a research environment, {"name": its template, "description": its title, "copy_field": its URL}; [] before ACTIVE.',
    }),
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
    conda_packages: Type.Optional(Type.Array(Type.String({ pattern: CONDA_SPEC_PATTERN, maxLength: 170 }), {
      maxItems: MAX_CONDA_PACKAGES,
      description: 'Conda packages installed at first boot from bioconda and conda-forge into the environment denbi (Miniforge, in the login user\'s home), before additional_script: `name` or `name=version`. As a form: the field repeated. GET /api/conda/packages/ suggests names.',
    })),
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

export const VmSetup = Type.Object({
  state: Type.Union(['pending', 'running', 'done', 'failed', 'unknown'].map((s) => Type.Literal(s)), {
    description: 'unknown: no report came within SIMPLEVM_SETUP_TIMEOUT_S of the VM becoming ACTIVE.',
  }),
  updated_at: Type.Union([Type.String(), Type.Null()], { description: 'When the last report came.' }),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
}, { $id: 'VmSetup' });

export const VmSetupReportBody = Type.Object(
  {
    phase: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    exit_code: Type.Optional(Type.Union([Type.Integer({ minimum: -255, maximum: 255 }), Type.Null()])),
    log: Type.Optional(Type.String({ maxLength: 64 * 1024, description: 'The tail of the setup log, at most 64 KiB.' })),
  },
  { $id: 'VmSetupReportBody' },
);
