// Glance v2 images: lists follow `next`; properties such as simplevm_id filter as query parameters.
import { isNotFound } from './errors.js';
import { type GlanceImage, GlanceImageList, GlanceImage as GlanceImageSchema } from './schemas.js';
import type { OpenStackSession } from './session.js';

export class GlanceApi {
  constructor(private readonly s: OpenStackSession) {}

  /** Every image matching the filters (`name`, `status`, `tag`, or any property). */
  listImages(filters: Record<string, string | undefined>): Promise<GlanceImage[]> {
    return this.s.list('image', '/v2/images', filters, { schema: GlanceImageList, items: (b) => b.images, next: (b) => b.next });
  }

  /** Deletes the image (Glance answers 204 once it is deleted, or pending_delete); false when it was already gone. */
  async deleteImage(id: string): Promise<boolean> {
    try {
      await this.s.request('image', 'DELETE', `/v2/images/${encodeURIComponent(id)}`);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async getImage(id: string): Promise<GlanceImage | null> {
    try {
      return (await this.s.request('image', 'GET', `/v2/images/${encodeURIComponent(id)}`, { schema: GlanceImageSchema })).body;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}
