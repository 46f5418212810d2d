// The portal on a real OpenStack cloud: Nova servers, Cinder volumes, Glance images.
//
// The portal chooses each object's id (`openstack_id`) before it asks the cloud; the cloud's own id
// is kept in the table cloud_ids. Every request is safe to repeat after a crash: a create first looks
// for an object tagged `simplevm_id=<portal id>` (Nova: servers of that exact name, their metadata
// checked; Cinder: a metadata filter; Glance: a property filter), and an action that Nova or Cinder
// refuses with a conflict is taken as done when the object is already where it was asked to go.
// A create the cloud refuses for good (bad request, quota, unknown image) is recorded with its
// fault, so that the transition ends in ERROR at its next poll instead of retrying until its deadline.
import type { Kysely } from 'kysely';
import type { OpenStackConfig } from '../../config.js';
import type { Database } from '../../db/types.js';
import { createHash } from 'node:crypto';
import type { CloudFlavor, CloudImage, CloudProvider, CloudServer, CloudSnapshotImage, CloudVolume, ServerCreate } from '../provider.js';
import { CinderApi } from './cinder.js';
import { type CloudKind, findCloudId, portalIdsOf, saveCloudId } from './cloud-ids.repository.js';
import { OpenStackHttpError, httpStatusOf } from './errors.js';
import { GlanceApi } from './glance.js';
import { NeutronApi } from './neutron.js';
import { NovaApi, type ServerAction } from './nova.js';
import { OpenStackSession, type SessionOptions } from './session.js';
import { catalogImages, clip, flavorFromNova, newestActive, serverFromNova, volumeStatusFromCinder } from './state.js';

/** The cloud will not do this however often it is asked: the create ends in ERROR with this message. */
class Refusal extends Error {}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

const REBOOTING = ['rebooting', 'reboot_pending', 'reboot_started', 'rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'];

/**
 * Why a create failed for good, or null when it may work on another try (5xx, timeouts, 401, 429,
 * and 409: a conflict with the current state, such as a server busy with another task).
 */
function refusalOf(err: unknown, what: string): string | null {
  if (err instanceof Refusal) return clip(`Cannot ${what}: ${err.message}`);
  if (err instanceof OpenStackHttpError && [400, 403, 404, 413].includes(err.status)) {
    return clip(`${err.service} refused to ${what}: ${err.cloudMessage}`);
  }
  return null;
}

const isConflict = (err: unknown) => [400, 409].includes(httpStatusOf(err) ?? 0);

/**
 * The Nova key pair of a public key: named by its fingerprint (a digest of it, as Nova allows
 * 255 characters of letters, digits, `-_ .@`), so each key is imported once and found again.
 */
export const keypairName = (fingerprint: string): string => `simplevm-${createHash('sha256').update(fingerprint).digest('hex').slice(0, 32)}`;

export class OpenStackProvider implements CloudProvider {
  readonly name = 'openstack';
  readonly pollIntervalMs: number;
  readonly transitionTimeoutMs: number;
  private readonly session: OpenStackSession;
  private readonly nova: NovaApi;
  private readonly glance: GlanceApi;
  private readonly cinder: CinderApi;
  private readonly neutron: NeutronApi;
  private flavorIds = new Map<string, string>();
  private networkId: string | null = null;

  constructor(private readonly db: Kysely<Database>, private readonly config: OpenStackConfig, opts: Partial<SessionOptions> = {}) {
    this.pollIntervalMs = config.pollMs;
    this.transitionTimeoutMs = config.transitionTimeoutMs;
    this.session = new OpenStackSession(config, { requestTimeoutMs: config.requestTimeoutMs, ...opts });
    this.nova = new NovaApi(this.session);
    this.glance = new GlanceApi(this.session);
    this.cinder = new CinderApi(this.session);
    this.neutron = new NeutronApi(this.session);
  }

  // Catalog.

  async listFlavors(): Promise<CloudFlavor[]> {
    const flavors = await this.nova.listFlavors();
    this.flavorIds = new Map(flavors.map((f) => [f.name, f.id]));
    const byName = new Map<string, CloudFlavor>();
    for (const f of flavors) {
      const flavor = flavorFromNova(f);
      if (flavor && !byName.has(flavor.name)) byName.set(flavor.name, flavor);
    }
    return [...byName.values()];
  }

  async listImages(): Promise<CloudImage[]> {
    const images = await this.glance.listImages({ status: 'active', tag: this.config.imageTag ?? undefined });
    return catalogImages(images, this.config.imageTag);
  }

  private async flavorRef(name: string): Promise<string> {
    if (!this.flavorIds.has(name)) await this.listFlavors();
    const id = this.flavorIds.get(name);
    if (!id) throw new Refusal(`the cloud has no flavor named "${name}"`);
    return id;
  }

  /** A portal snapshot of this project by that name, else the newest catalog image by that name. */
  private async imageRef(name: string, projectId: string | undefined): Promise<string> {
    if (projectId) {
      const snapshot = newestActive(await this.glance.listImages({ name, simplevm_project_id: projectId }));
      if (snapshot) return snapshot.id;
    }
    const images = await this.glance.listImages({ name, status: 'active', tag: this.config.imageTag ?? undefined });
    const image = newestActive(images.filter((i) => i.simplevm_id === undefined));
    if (!image) throw new Refusal(`the cloud has no active image named "${name}"${this.config.imageTag ? ` tagged ${this.config.imageTag}` : ''}`);
    return image.id;
  }

  private async networkRef(): Promise<string> {
    if (this.networkId) return this.networkId;
    const wanted = this.config.network;
    if (UUID.test(wanted)) return (this.networkId = wanted);
    const found = await this.neutron.networksNamed(wanted);
    if (found.length !== 1) {
      throw new Refusal(`SIMPLEVM_OS_NETWORK names ${found.length === 0 ? 'no network' : `${found.length} networks`} ("${wanted}"); give a network's id or unique name`);
    }
    return (this.networkId = found[0].id);
  }

  // The map portal id → cloud id.

  private async cloudIdOf(portalId: string, kind: CloudKind): Promise<string | null> {
    return (await findCloudId(this.db, portalId, kind))?.cloud_id ?? null;
  }

  private remember(portalId: string, kind: CloudKind, cloudId: string): Promise<void> {
    return saveCloudId(this.db, { portal_id: portalId, kind, cloud_id: cloudId, fault: null });
  }

  /** Runs a create unless it has been done (or refused) before; records a refusal instead of throwing it. */
  private async createOnce(portalId: string, kind: CloudKind, what: string, find: () => Promise<string | null>, create: () => Promise<string>): Promise<void> {
    if (await findCloudId(this.db, portalId, kind)) return;
    // Asked before, and the cloud did it, but the answer or our note of it was lost.
    const existing = await find();
    if (existing) return this.remember(portalId, kind, existing);
    let cloudId: string;
    try {
      cloudId = await create();
    } catch (err) {
      const fault = refusalOf(err, what);
      if (fault === null) throw err;
      return saveCloudId(this.db, { portal_id: portalId, kind, cloud_id: null, fault });
    }
    await this.remember(portalId, kind, cloudId);
  }

  /** After a delete of something the cloud never had: from now on it is gone. */
  private forget(portalId: string, kind: CloudKind): Promise<void> {
    return saveCloudId(this.db, { portal_id: portalId, kind, cloud_id: null, fault: null });
  }

  // Servers.

  createServer(req: ServerCreate): Promise<void> {
    return this.createOnce(
      req.id,
      'server',
      'create the server',
      async () => (await this.nova.findServersByName(req.name)).find((s) => s.metadata.simplevm_id === req.id)?.id ?? null,
      async () => {
        const [imageRef, flavorRef, networkId] = await Promise.all([
          this.imageRef(req.imageName, req.metadata.simplevm_project_id),
          this.flavorRef(req.flavorName),
          this.networkRef(),
        ]);
        // Every key is in the user data; Nova also gets them as key pairs, and the first as the
        // server's key_name (what Horizon and `openstack server show` tell).
        for (const key of req.keys) await this.nova.importKeypair(keypairName(key.fingerprint), key.public_key);
        const keyName = req.keys.length ? keypairName(req.keys[0].fingerprint) : null;
        return this.nova.createServer({ name: req.name, imageRef, flavorRef, networkId, metadata: { ...req.metadata, simplevm_id: req.id }, userData: req.userData, keyName });
      },
    );
  }

  async getServer(id: string): Promise<CloudServer | null> {
    const row = await findCloudId(this.db, id, 'server');
    if (!row) return null;
    if (row.cloud_id === null) return row.fault === null ? null : { id, status: 'ERROR', taskState: null, fixedIp: null, fault: row.fault };
    const server = await this.nova.getServer(row.cloud_id);
    return server ? serverFromNova(id, server) : null;
  }

  /**
   * Asks Nova for an action. A 404 is left to the poll (which reports the server gone); a 409 is
   * fine when the server is already where the action leads or on its way there.
   */
  private async act(id: string, action: ServerAction, arrived: (s: CloudServer) => boolean): Promise<void> {
    const cloudId = await this.cloudIdOf(id, 'server');
    if (!cloudId) return;
    try {
      await this.nova.action(cloudId, action);
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 404) return;
      if (status === 409) {
        const server = await this.nova.getServer(cloudId);
        if (!server || arrived(serverFromNova(id, server))) return;
      }
      throw err;
    }
  }

  stopServer(id: string): Promise<void> {
    return this.act(id, { 'os-stop': null }, (s) => (s.status === 'SHUTOFF' && s.taskState === null) || s.taskState === 'powering-off');
  }

  startServer(id: string): Promise<void> {
    return this.act(id, { 'os-start': null }, (s) => (s.status === 'ACTIVE' && s.taskState === null) || s.taskState === 'powering-on');
  }

  rebootServer(id: string, type: 'SOFT' | 'HARD'): Promise<void> {
    return this.act(id, { reboot: { type } }, (s) => REBOOTING.includes(s.taskState ?? '') || s.status === 'REBOOT' || s.status === 'HARD_REBOOT');
  }

  async deleteServer(id: string): Promise<void> {
    const cloudId = await this.cloudIdOf(id, 'server');
    if (!cloudId) return this.forget(id, 'server');
    try {
      await this.nova.deleteServer(cloudId);
    } catch (err) {
      if (httpStatusOf(err) === 409) {
        const server = await this.nova.getServer(cloudId);
        if (!server || server['OS-EXT-STS:task_state'] === 'deleting') return;
      }
      throw err;
    }
  }

  // Volumes.

  createVolume(req: { id: string; name: string; size: number }): Promise<void> {
    return this.createOnce(
      req.id,
      'volume',
      'create the volume',
      async () => (await this.cinder.findVolumesByMetadata({ simplevm_id: req.id })).find((v) => v.metadata.simplevm_id === req.id)?.id ?? null,
      () => this.cinder.createVolume({ name: req.name, size: req.size, metadata: { simplevm_id: req.id } }),
    );
  }

  async getVolume(id: string): Promise<CloudVolume | null> {
    const row = await findCloudId(this.db, id, 'volume');
    if (!row) return null;
    if (row.cloud_id === null) return row.fault === null ? null : { id, status: 'error', size: 0, attachedTo: null, device: null };
    const v = await this.cinder.getVolume(row.cloud_id);
    if (!v) return null;
    const attachment = v.attachments[0];
    const servers = await portalIdsOf(this.db, 'server', attachment ? [attachment.server_id] : []);
    return {
      id,
      status: volumeStatusFromCinder(v.status),
      size: v.size,
      attachedTo: attachment ? (servers.get(attachment.server_id) ?? null) : null,
      device: attachment?.device ?? null,
    };
  }

  private async bothIds(serverId: string, volumeId: string): Promise<[string, string]> {
    const [server, volume] = await Promise.all([this.cloudIdOf(serverId, 'server'), this.cloudIdOf(volumeId, 'volume')]);
    if (!server || !volume) throw new Error(`the cloud has no ${server ? 'volume' : 'server'} for ${server ? volumeId : serverId}`);
    return [server, volume];
  }

  async attachVolume(serverId: string, volumeId: string): Promise<void> {
    const [server, volume] = await this.bothIds(serverId, volumeId);
    try {
      await this.nova.attachVolume(server, volume);
    } catch (err) {
      if (isConflict(err)) {
        const v = await this.cinder.getVolume(volume);
        if (v && (v.attachments.some((a) => a.server_id === server) || ['attaching', 'reserved'].includes(v.status))) return;
      }
      throw err;
    }
  }

  async detachVolume(serverId: string, volumeId: string): Promise<void> {
    const [server, volume] = await this.bothIds(serverId, volumeId);
    try {
      await this.nova.detachVolume(server, volume);
    } catch (err) {
      if (isConflict(err)) {
        const v = await this.cinder.getVolume(volume);
        if (!v || v.status === 'detaching' || !v.attachments.some((a) => a.server_id === server)) return;
      }
      throw err;
    }
  }

  async extendVolume(id: string, size: number): Promise<void> {
    const cloudId = await this.cloudIdOf(id, 'volume');
    if (!cloudId) return;
    const done = (v: Awaited<ReturnType<CinderApi['getVolume']>>) => !v || v.size >= size || v.status === 'extending';
    if (done(await this.cinder.getVolume(cloudId))) return;
    try {
      await this.cinder.extendVolume(cloudId, size);
    } catch (err) {
      if (isConflict(err) && done(await this.cinder.getVolume(cloudId))) return;
      throw err;
    }
  }

  async deleteVolume(id: string): Promise<void> {
    const cloudId = await this.cloudIdOf(id, 'volume');
    if (!cloudId) return this.forget(id, 'volume');
    try {
      await this.cinder.deleteVolume(cloudId);
    } catch (err) {
      if (isConflict(err)) {
        const v = await this.cinder.getVolume(cloudId);
        if (!v || v.status === 'deleting') return;
      }
      throw err;
    }
  }

  // Snapshots: Nova's createImage, polled in Glance; deleted in Glance.

  createSnapshot(serverId: string, req: { id: string; name: string }): Promise<void> {
    return this.createOnce(
      req.id,
      'image',
      'snapshot the server',
      async () => (await this.glance.listImages({ simplevm_id: req.id })).find((i) => i.simplevm_id === req.id)?.id ?? null,
      async () => {
        const cloudId = await this.cloudIdOf(serverId, 'server');
        const server = cloudId ? await this.nova.getServer(cloudId) : null;
        if (!cloudId || !server) throw new Refusal('the server is not in the cloud');
        const project = server.metadata.simplevm_project_id;
        return this.nova.createImage(cloudId, req.name, { simplevm_id: req.id, ...(project ? { simplevm_project_id: project } : {}) });
      },
    );
  }

  async getSnapshotImage(id: string): Promise<CloudSnapshotImage | null> {
    const row = await findCloudId(this.db, id, 'image');
    if (!row) return null;
    if (row.cloud_id === null) return row.fault === null ? null : { id, status: 'killed' };
    const image = await this.glance.getImage(row.cloud_id);
    return image ? { id, status: image.status } : null;
  }

  async deleteSnapshotImage(id: string): Promise<void> {
    const cloudId = await this.cloudIdOf(id, 'image');
    // Deleted (or already gone: asked again after a crash): from now on the portal knows it is gone,
    // so neither a poll nor a repeated create ever looks for it again.
    if (cloudId) await this.glance.deleteImage(cloudId);
    await this.forget(id, 'image');
  }
}
