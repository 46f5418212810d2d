// Table types for Kysely. Booleans are stored as 0/1 integers and timestamps as ISO 8601 UTC text,
// so one query code serves SQLite and PostgreSQL alike.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type Bool = 0 | 1;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  is_superuser: Bool;
  is_active: Bool;
  created_at: string;
  /** As the single sign-on provider last reported it; null for local accounts. */
  email: string | null;
}

/** A single sign-on identity (issuer + `sub`) and the portal user it logs in as. */
export interface OidcIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: number;
  created_at: string;
  last_login_at: string;
}

export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  description: string;
  quota_vms: number;
  quota_cores: number;
  quota_ram_gb: number;
  quota_volumes: number;
  quota_volume_gb: number;
  created_at: string;
}

export interface MembershipsTable {
  project_id: number;
  user_id: number;
  role: 'admin' | 'member';
}

export interface FlavorsTable {
  name: string;
  vcpus: number;
  ram_gb: number;
  disk_gb: number;
}

export interface ImagesTable {
  name: string;
  /** JSON array of strings. */
  tags: string;
  /** The image's login user (its `default_user` metadata), or null: `ubuntu`. */
  default_user: Generated<string | null>;
}

export interface VmsTable {
  openstack_id: string;
  name: string;
  project_id: number;
  owner_id: number;
  image_name: string;
  flavor_name: string;
  vcpus: number;
  ram_gb: number;
  status: string;
  task_state: string | null;
  fixed_ip: string | null;
  fault: string | null;
  created_at: string;
  updated_at: string;
  /** JSON array of the `SHA256:` fingerprints of the SSH keys put into the VM at creation. */
  ssh_keys: Generated<string>;
  /** The research environment template the VM was created with, or null. */
  resenv_template: string | null;
  /** The path under which the research environment serves (research_environment_backend.user_path), or null. */
  resenv_user_path: string | null;
  /** JSON array of {name, version} (spec §10). */
  conda_packages: Generated<string>;
  /** The first-boot setup: null (nothing runs), pending, running, done, failed. */
  setup_state: string | null;
  /** SHA-256 (hex) of the setup token in the VM's user data. */
  setup_token_digest: string | null;
  setup_updated_at: Generated<string | null>;
  setup_exit_code: Generated<number | null>;
  /** The tail of the setup log, as last reported. */
  setup_log: Generated<string | null>;
  /** When the VM first became ACTIVE. */
  active_at: Generated<string | null>;
}

/** A user's public SSH key (spec §9); the private half, when generated, is never stored. */
export interface SshKeysTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  /** ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa. */
  type: string;
  /** The OpenSSH line as put into VMs: type, base64 blob and the name as comment. */
  public_key: string;
  /** As `ssh-keygen -l` prints it: SHA256:… */
  fingerprint: string;
  created_at: string;
}

export interface VolumesTable {
  openstack_id: string;
  name: string;
  project_id: number;
  owner_id: number;
  storage: number;
  status: string;
  attached_to: string | null;
  device: string | null;
  created_at: string;
  updated_at: string;
}

export interface SnapshotsTable {
  openstack_id: string;
  name: string;
  description: string;
  project_id: number;
  owner_id: number;
  vm_openstack_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  /** SHA-256 hex of the session token; the token itself is only in the cookie. */
  id: string;
  user_id: number;
  csrf_token: string;
  created_at: string;
  expires_at: string;
  /** The ID token of a single sign-on login (the end-session hint at logout); null for a password login. */
  oidc_id_token: string | null;
}

/** A one-time ticket from the portal's host to the research environments' host (SIMPLEVM_RESENV_URL). */
export interface ResenvTicketsTable {
  /** SHA-256 hex of the ticket; the ticket itself is only in the redirect's URL. */
  digest: string;
  user_id: number;
  /** The portal session the ticket was made for. */
  session_id: string;
  vm_openstack_id: string;
  created_at: string;
  expires_at: string;
  /** Set when the ticket is redeemed: it works once. */
  used_at: string | null;
}

/** What the `simplevm_resenv` cookie on the environments' host stands for: one VM, for as long as the session lasts. */
export interface ResenvGrantsTable {
  /** SHA-256 hex of the cookie's token. */
  digest: string;
  user_id: number;
  session_id: string;
  vm_openstack_id: string;
  created_at: string;
  expires_at: string;
}

export interface TransitionsTable {
  id: string;
  object_type: 'vm' | 'volume' | 'snapshot';
  object_id: string;
  action: string;
  /** JSON: what the action needs (reboot type, new size, VM to attach to, …). */
  params: string;
  /** 'call' until the cloud has been asked, then 'poll' until the cloud reports the target state. */
  phase: 'call' | 'poll';
  due_at: string;
  deadline_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  attempts: number;
  created_at: string;
}

export interface TransitionHistoryTable {
  /** The transition's id: unique, so a transition can be finished at most once. */
  transition_id: string;
  object_type: string;
  object_id: string;
  action: string;
  outcome: 'success' | 'error';
  finished_by: string;
  finished_at: string;
}

/** The simulated cloud's own state, kept in the portal's database so that it survives restarts. */
export interface SimResourcesTable {
  id: string;
  kind: 'server' | 'volume' | 'image';
  status: string;
  /** The status the resource reaches at ready_at (null when it is at rest). */
  target_status: string | null;
  ready_at: string | null;
  /** JSON: size, attachments, fixed IP, … */
  data: string;
}

/** The OpenStack provider's map: the portal's id of a server, volume or image → the cloud's id. */
export interface CloudIdsTable {
  portal_id: string;
  kind: 'server' | 'volume' | 'image';
  /** Null when the cloud refused to create the object (then `fault` says why). */
  cloud_id: string | null;
  fault: string | null;
  created_at: string;
}

export interface ApiKeysTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  prefix: string;
  /** SHA-256 hex of the whole key. */
  digest: string;
  /** JSON array of scope names. */
  scopes: string;
  own_objects_only: Bool;
  project_id: number | null;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  /** Set when the key is deleted or revoked; a deleted key never works again. */
  deleted_at: string | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: string;
  actor_id: number | null;
  actor: string | null;
  key_prefix: string | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  subject_id: number | null;
  /** The project the act concerns (its object's, or a bound key's); null for acts on no project (logins). */
  project_id: number | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  /** A small JSON object saying what the bare action does not (spec §7), as text; null for nothing. */
  detail: string | null;
}

export interface ApiKeyIpsTable {
  key_id: number;
  ip: string;
  first_seen_at: string;
}

/** A live portal instance (PostgreSQL; db/postgres/key-feed.ts): its lease in ms by the database's clock. */
export interface PortalInstancesTable {
  id: string;
  lease_until: number;
  caching: number;
  started_at: string;
}

/** An instance's acknowledgement of a barrier: it has heard every key change committed before it. */
export interface KeyCacheAcksTable {
  barrier: number;
  instance_id: string;
  acked_at: number;
}

export interface Database {
  audit_events: AuditEventsTable;
  api_key_ips: ApiKeyIpsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  projects: ProjectsTable;
  memberships: MembershipsTable;
  flavors: FlavorsTable;
  images: ImagesTable;
  vms: VmsTable;
  volumes: VolumesTable;
  snapshots: SnapshotsTable;
  sessions: SessionsTable;
  resenv_tickets: ResenvTicketsTable;
  resenv_grants: ResenvGrantsTable;
  transitions: TransitionsTable;
  transition_history: TransitionHistoryTable;
  sim_resources: SimResourcesTable;
  cloud_ids: CloudIdsTable;
  oidc_identities: OidcIdentitiesTable;
  ssh_keys: SshKeysTable;
  portal_instances: PortalInstancesTable;
  key_cache_acks: KeyCacheAcksTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Project = Selectable<ProjectsTable>;
export type Vm = Selectable<VmsTable>;
export type Volume = Selectable<VolumesTable>;
export type Snapshot = Selectable<SnapshotsTable>;
export type Transition = Selectable<TransitionsTable>;
export type ApiKey = Selectable<ApiKeysTable>;
