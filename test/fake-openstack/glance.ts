// Glance v2 under /image: GET /v2/images with Glance's filters (name, status, visibility, tag — all
// must match —, owner, and any other parameter as an image property), newest first, paged by
// `limit` and `marker` with a relative `next` link; GET /v2/images/{id}; DELETE /v2/images/{id}
// (204, the image gone at once, as without delayed_delete; 403 for another project's image). Errors are text, as webob renders them.
import { sample } from './samples.js';
import { type Ctx, type FakeOpenStack, type Image, type Reply, glanceError } from './server.js';

const RESERVED = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'member_status']);

const visibleTo = (i: Image, projectId: string) => i.visibility === 'public' || i.owner === projectId;

function render(i: Image): unknown {
  const t = sample('glance/image-show-response.json');
  const active = i.status === 'active';
  Object.assign(t, {
    id: i.id,
    name: i.name,
    status: i.status,
    // Real Glance keeps tags as a set and does not answer them in the order they were given (seen
    // against the real service: ubuntu, jammy, lts came back as jammy, ubuntu, lts): reversed here.
    tags: [...i.tags].reverse(),
    visibility: i.visibility,
    owner: i.owner,
    created_at: new Date(i.created).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    updated_at: new Date(i.created).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    size: active ? t.size : null,
    checksum: active ? t.checksum : null,
    os_hash_algo: active ? t.os_hash_algo : null,
    os_hash_value: active ? t.os_hash_value : null,
  });
  return { ...t, ...i.properties };
}

export function handleGlance(fake: FakeOpenStack, ctx: Ctx): Reply {
  const p = ctx.path.replace(/\/+$/, '').split('/').filter(Boolean);
  const projectId = ctx.token!.projectId;
  if (p[0] === 'v2' && p[1] === 'images' && p.length === 3 && ctx.method === 'DELETE') return deleteImage(fake, p[2], projectId);
  if (p[0] !== 'v2' || p[1] !== 'images' || ctx.method !== 'GET') return glanceError(404, 'The resource could not be found.');
  if (p[2] !== undefined) {
    const image = fake.images.get(p[2]);
    if (!image || !visibleTo(image, projectId) || p.length > 3) return glanceError(404, `No image found with ID ${p[2]}`);
    return { status: 200, body: render(image) };
  }

  const q = ctx.query;
  let images = [...fake.images.values()].filter((i) => visibleTo(i, projectId));
  for (const [key, value] of q) {
    if (RESERVED.has(key)) continue;
    if (key === 'tag') images = images.filter((i) => i.tags.includes(value));
    else if (key === 'name') images = images.filter((i) => i.name === value);
    else if (key === 'status') images = images.filter((i) => i.status === value);
    else if (key === 'visibility') images = images.filter((i) => i.visibility === value);
    else if (key === 'owner') images = images.filter((i) => i.owner === value);
    else images = images.filter((i) => i.properties[key] === value);
  }
  images.sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));

  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? fake.glancePageSize : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 0) return glanceError(400, `limit param must be an integer`);
  const marker = q.get('marker');
  let start = 0;
  if (marker !== null) {
    const i = images.findIndex((x) => x.id === marker);
    if (i < 0) return glanceError(400, `Invalid marker. Image ${marker} could not be found.`);
    start = i + 1;
  }
  const slice = images.slice(start, start + limit);
  const first = new URLSearchParams(q);
  first.delete('marker');
  const list = sample('glance/images-list-response.json');
  const body: Record<string, unknown> = { images: slice.map(render), schema: list.schema, first: `/v2/images${first.size ? `?${first}` : ''}` };
  // glance/api/v2/images.py: `next` whenever the page is full, carrying the query with the last id as marker.
  if (slice.length === limit && slice.length > 0) {
    const next = new URLSearchParams(q);
    next.set('marker', slice[slice.length - 1].id);
    body.next = `/v2/images?${next}`;
  }
  return { status: 200, body };
}

/** glance/api/v2/images.py delete: the owner's project only; no body on success. */
function deleteImage(fake: FakeOpenStack, id: string, projectId: string): Reply {
  const image = fake.images.get(id);
  if (!image || !visibleTo(image, projectId)) return glanceError(404, `Failed to find image ${id} to delete`);
  if (image.owner !== projectId) return glanceError(403, 'You are not permitted to delete this image.');
  fake.images.delete(id);
  return { status: 204 };
}
