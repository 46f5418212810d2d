// Cinder v3 volumes at microversion 3.42 (Cinder since Pike), the first that extends volumes in use.
import { isNotFound } from './errors.js';
import { type CinderVolume, CinderVolumeBody, CinderVolumeList } from './schemas.js';
import { type OpenStackSession, nextLink } from './session.js';

export const CINDER_MICROVERSION = 'volume 3.42';


export class CinderApi {
  constructor(private readonly s: OpenStackSession) {}

  private opts = { microversion: CINDER_MICROVERSION };

  async createVolume(req: { name: string; size: number; metadata: Record<string, string> }): Promise<string> {
    const { body } = await this.s.request('block-storage', 'POST', '/volumes', {
      ...this.opts, schema: CinderVolumeBody, idempotent: false, body: { volume: { name: req.name, size: req.size, metadata: req.metadata } },
    });
    return body.volume.id;
  }

  async getVolume(id: string): Promise<CinderVolume | null> {
    try {
      return (await this.s.request('block-storage', 'GET', `/volumes/${encodeURIComponent(id)}`, { ...this.opts, schema: CinderVolumeBody })).body.volume;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Volumes whose metadata hold all of `metadata`. */
  findVolumesByMetadata(metadata: Record<string, string>): Promise<CinderVolume[]> {
    return this.s.list('block-storage', '/volumes/detail', { metadata: JSON.stringify(metadata) }, {
      ...this.opts, schema: CinderVolumeList, items: (b) => b.volumes, next: (b) => nextLink(b.volumes_links),
    });
  }

  async extendVolume(id: string, newSize: number): Promise<void> {
    await this.s.request('block-storage', 'POST', `/volumes/${encodeURIComponent(id)}/action`, { ...this.opts, body: { 'os-extend': { new_size: newSize } } });
  }

  /** Deletes the volume; false when it was already gone. */
  async deleteVolume(id: string): Promise<boolean> {
    try {
      await this.s.request('block-storage', 'DELETE', `/volumes/${encodeURIComponent(id)}`, this.opts);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
