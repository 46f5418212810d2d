// The cloud behind the portal. The transition worker drives it: it asks for a change (`…Server`,
// `…Volume`), then polls (`getServer`, `getVolume`, `getImage`) until the target state is reached.
// Every request method must be safe to repeat: after a crash the worker may ask again.

export interface CloudFlavor {
  name: string;
  vcpus: number;
  ram_gb: number;
  disk_gb: number;
}

export interface CloudImage {
  name: string;
  tags: string[];
  /** The login user its metadata names (`default_user`, as SimpleVM's images carry it), if any. */
  defaultUser?: string | null;
}

export interface CloudServer {
  id: string;
  /** Nova's status: BUILD, ACTIVE, SHUTOFF, REBOOT, HARD_REBOOT, ERROR, DELETED. */
  status: string;
  taskState: string | null;
  fixedIp: string | null;
  fault: string | null;
}

export interface CloudVolume {
  id: string;
  /** Cinder's status: creating, available, attaching, in-use, detaching, extending, deleting, error. */
  status: string;
  size: number;
  attachedTo: string | null;
  device: string | null;
}

export interface CloudSnapshotImage {
  id: string;
  /** Glance's status: queued, saving, active, killed, pending_delete, deleted. */
  status: string;
}

export interface ServerKey {
  /** As `ssh-keygen -l` prints it: SHA256:… */
  fingerprint: string;
  /** The OpenSSH line. */
  public_key: string;
}

export interface ServerCreate {
  id: string;
  name: string;
  imageName: string;
  flavorName: string;
  metadata: Record<string, string>;
  userData: string;
  keys: ServerKey[];
}

export class CloudUnavailableError extends Error {}

export interface CloudProvider {
  readonly name: string;
  /** How long to wait before polling a change just requested, in ms. */
  readonly pollIntervalMs: number;
  /** How long a transition may take before it is given up as ERROR, in ms. */
  readonly transitionTimeoutMs: number;

  listFlavors(): Promise<CloudFlavor[]>;
  listImages(): Promise<CloudImage[]>;

  /**
   * `userData`: the cloud-init document the server boots with (given to the cloud as is; Nova takes
   * it base64-encoded). `keys`: the public SSH keys it carries, for clouds that also want them as
   * key pairs (Nova); they are in the user data too.
   */
  createServer(req: ServerCreate): Promise<void>;
  getServer(id: string): Promise<CloudServer | null>;
  stopServer(id: string): Promise<void>;
  startServer(id: string): Promise<void>;
  rebootServer(id: string, type: 'SOFT' | 'HARD'): Promise<void>;
  deleteServer(id: string): Promise<void>;

  createVolume(req: { id: string; name: string; size: number }): Promise<void>;
  getVolume(id: string): Promise<CloudVolume | null>;
  attachVolume(serverId: string, volumeId: string): Promise<void>;
  detachVolume(serverId: string, volumeId: string): Promise<void>;
  extendVolume(id: string, size: number): Promise<void>;
  deleteVolume(id: string): Promise<void>;

  createSnapshot(serverId: string, req: { id: string; name: string }): Promise<void>;
  getSnapshotImage(id: string): Promise<CloudSnapshotImage | null>;
  /**
   * Deletes a snapshot's image; once done, getSnapshotImage answers null. Servers booted from it
   * keep running (Nova holds its own copy of the image). Nothing to do for an image never made.
   */
  deleteSnapshotImage(id: string): Promise<void>;
}
