// Nova (compute) at one microversion, 2.89: servers, their actions, flavors and volume attachments.
import { encodeUserData } from '../user-data.js';
import { httpStatusOf, isNotFound } from './errors.js';
import {
  type NovaFlavor, NovaFlavorList, NovaImageCreated, type NovaServer, NovaServerBody, NovaServerCreated, NovaServerList, NovaVolumeAttachment,
} from './schemas.js';
import { type OpenStackSession, nextLink } from './session.js';

/**
 * 2.89 (Nova since Xena): `networks` is required on create (2.37), a server shows its flavor
 * embedded (2.47), createImage answers `{"image_id"}` (2.45), and attaching a volume answers 200 with
 * the attachment (from 2.101 it is 202 without a body). Chosen as the oldest version with all of
 * these and the 2.89 attachment samples, so that the portal works on clouds of the last years.
 */
export const NOVA_MICROVERSION = 'compute 2.89';

export type ServerAction =
  | { 'os-stop': null }
  | { 'os-start': null }
  | { reboot: { type: 'SOFT' | 'HARD' } };


/** A regular expression matching exactly `name` (Nova's `name` filter is a regex). */
export const exactName = (name: string) => `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

export class NovaApi {
  constructor(private readonly s: OpenStackSession) {}

  private opts = { microversion: NOVA_MICROVERSION };

  listFlavors(): Promise<NovaFlavor[]> {
    return this.s.list('compute', '/flavors/detail', {}, {
      ...this.opts, schema: NovaFlavorList, items: (b) => b.flavors, next: (b) => nextLink(b.flavors_links),
    });
  }

  /** Servers whose name is exactly `name` (in the token's project). */
  findServersByName(name: string): Promise<NovaServer[]> {
    return this.s.list('compute', '/servers/detail', { name: exactName(name) }, {
      ...this.opts, schema: NovaServerList, items: (b) => b.servers, next: (b) => nextLink(b.servers_links),
    });
  }

  /** The server, or null when Nova does not know it (deleted). */
  async getServer(id: string): Promise<NovaServer | null> {
    try {
      return (await this.s.request('compute', 'GET', `/servers/${encodeURIComponent(id)}`, { ...this.opts, schema: NovaServerBody })).body.server;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * `userData`: the cloud-init document, sent base64-encoded (compressed when it would pass Nova's
   * 65,535 characters: encodeUserData); `keyName`: a key pair of the portal's OpenStack user (importKeypair).
   */
  async createServer(req: {
    name: string; imageRef: string; flavorRef: string; networkId: string; metadata: Record<string, string>; userData: string; keyName: string | null;
  }): Promise<string> {
    const server: Record<string, unknown> = {
      name: req.name, imageRef: req.imageRef, flavorRef: req.flavorRef, networks: [{ uuid: req.networkId }], metadata: req.metadata,
      user_data: encodeUserData(req.userData),
    };
    if (req.keyName !== null) server.key_name = req.keyName;
    const { body } = await this.s.request('compute', 'POST', '/servers', { ...this.opts, schema: NovaServerCreated, idempotent: false, body: { server } });
    return body.server.id;
  }

  /**
   * Imports a public key as a key pair of the portal's OpenStack user. Key pairs are named by the
   * key (keypairName), so one that exists already (409) is this very key: nothing to do.
   */
  async importKeypair(name: string, publicKey: string): Promise<void> {
    try {
      await this.s.request('compute', 'POST', '/os-keypairs', { ...this.opts, body: { keypair: { name, public_key: publicKey, type: 'ssh' } } });
    } catch (err) {
      if (httpStatusOf(err) === 409) return;
      throw err;
    }
  }

  /** os-stop, os-start, reboot: 202 without a body. */
  async action(id: string, action: ServerAction): Promise<void> {
    await this.s.request('compute', 'POST', `/servers/${encodeURIComponent(id)}/action`, { ...this.opts, body: action });
  }

  /** Deletes the server; false when it was already gone. */
  async deleteServer(id: string): Promise<boolean> {
    try {
      await this.s.request('compute', 'DELETE', `/servers/${encodeURIComponent(id)}`, this.opts);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** A snapshot of the server as a Glance image; its metadata become image properties. Returns the image id. */
  async createImage(id: string, name: string, metadata: Record<string, string>): Promise<string> {
    const { body } = await this.s.request('compute', 'POST', `/servers/${encodeURIComponent(id)}/action`, {
      ...this.opts, schema: NovaImageCreated, idempotent: false, body: { createImage: { name, metadata } },
    });
    return body.image_id;
  }

  /** Attaches a volume; answers the device name Nova chose (it may be null). */
  async attachVolume(serverId: string, volumeId: string): Promise<string | null> {
    const { body } = await this.s.request('compute', 'POST', `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`, {
      ...this.opts, schema: NovaVolumeAttachment, body: { volumeAttachment: { volumeId } },
    });
    return body.volumeAttachment.device;
  }

  /** Detaches a volume (202); false when it was not attached to that server. */
  async detachVolume(serverId: string, volumeId: string): Promise<boolean> {
    try {
      await this.s.request('compute', 'DELETE', `/servers/${encodeURIComponent(serverId)}/os-volume_attachments/${encodeURIComponent(volumeId)}`, this.opts);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
