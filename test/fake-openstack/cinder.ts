// Cinder v3 under /volume/v3/{project_id}: microversions 3.0 to 3.71 (406 outside), volumes with
// Cinder's states (creating → available ⇄ reserved/attaching → in-use → detaching; extending;
// deleting → gone), os-extend (of an in-use volume only from 3.42), the metadata filter on
// volumes/detail, paging with `volumes_links`. Attachments are made through Nova.
import { randomUUID } from 'node:crypto';
import { sample } from './samples.js';
import { type Ctx, type FakeOpenStack, type Reply, type Volume, cinderTime, fault } from './server.js';

const MIN = [3, 0] as const;
const MAX = [3, 71] as const;

function negotiate(ctx: Ctx): [number, number] | Reply {
  const header = ctx.headers['openstack-api-version'];
  const entry = typeof header === 'string' ? header.split(',').map((s) => s.trim()).find((s) => s.toLowerCase().startsWith('volume ')) : undefined;
  if (!entry) return [3, 0];
  const asked = entry.slice('volume '.length).trim();
  if (asked.toLowerCase() === 'latest') return [MAX[0], MAX[1]];
  const m = /^(\d+)\.(\d+)$/.exec(asked);
  if (!m) return fault(400, `Invalid API version string ${asked}`);
  const v: [number, number] = [Number(m[1]), Number(m[2])];
  const cmp = (a: readonly number[], b: readonly number[]) => a[0] - b[0] || a[1] - b[1];
  if (cmp(v, MIN) < 0 || cmp(v, MAX) > 0) return fault(406, `Version ${asked} is not supported by the API. Minimum is ${MIN.join('.')} and maximum is ${MAX.join('.')}.`);
  return v;
}

const isReply = (x: unknown): x is Reply => typeof x === 'object' && x !== null && 'status' in x;
const notFound = (id: string) => fault(404, `Volume ${id} could not be found.`);

/** Fields of the 3.69 sample and the microversion that added each (cinder/api/v3/views/volumes.py). */
const ADDED_IN: [string, number][] = [
  ['group_id', 13], ['provider_id', 21], ['service_uuid', 48], ['shared_targets', 48], ['cluster_name', 61], ['volume_type_id', 63], ['consumes_quota', 65],
];

function render(ctx: Ctx, v: Volume): unknown {
  const t = sample('cinder/v3.69/volume-show-response.json').volume;
  const minor = ctx.microversion?.[1] ?? 0;
  for (const [field, since] of ADDED_IN) if (minor < since) delete t[field];
  const attachments = v.attachment
    ? [{
        ...sample('cinder/v2/volumes-list-detailed-response.json').volumes[0].attachments[0],
        server_id: v.attachment.serverId, attachment_id: v.attachment.attachmentId, host_name: null, volume_id: v.id, device: v.attachment.device, id: v.id,
        attached_at: cinderTime(v.attachment.attachedAt),
      }]
    : [];
  Object.assign(t, {
    attachments,
    created_at: cinderTime(v.created),
    updated_at: cinderTime(v.updated),
    id: v.id,
    name: v.name,
    size: v.size,
    status: v.status,
    metadata: { ...v.metadata },
    user_id: v.userId,
    'os-vol-tenant-attr:tenant_id': v.projectId,
    'os-vol-host-attr:host': v.status === 'creating' ? null : 'fake@lvmdriver-1#lvmdriver-1',
    links: [
      { href: `${ctx.root}/v3/${v.projectId}/volumes/${v.id}`, rel: 'self' },
      { href: `${ctx.root}/${v.projectId}/volumes/${v.id}`, rel: 'bookmark' },
    ],
  });
  return t;
}

/** Cinder's `metadata` filter: a Python dict literal, e.g. {"simplevm_id": "…"} or {'k': 'v'}. */
function parseMetadataFilter(raw: string): Record<string, string> | null {
  for (const text of [raw, raw.replace(/'/g, '"')]) {
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, string>;
    } catch {
      // try the next form
    }
  }
  return null;
}

export function handleCinder(fake: FakeOpenStack, ctx: Ctx): Reply {
  if (ctx.path === '/' || ctx.path === '') return { status: 300, body: sample('cinder/versions-response.json') };
  const version = negotiate(ctx);
  if (isReply(version)) return version;
  const reply = route(fake, { ...ctx, microversion: version }, version);
  return { ...reply, headers: { ...(reply.headers ?? {}), 'OpenStack-API-Version': `volume ${version.join('.')}`, Vary: 'OpenStack-API-Version' } };
}

function route(fake: FakeOpenStack, ctx: Ctx, version: [number, number]): Reply {
  const p = ctx.path.replace(/\/+$/, '').split('/').filter(Boolean);
  if (p[0] !== 'v3' || p[2] !== 'volumes') return fault(404, 'The resource could not be found.');
  if (p[1] !== ctx.token!.projectId) return fault(403, 'Policy does not allow this request: the project in the URL is not the token\'s.');
  const [, , , id, sub] = p;
  const m = ctx.method;
  if (id === undefined && m === 'POST') return create(fake, ctx);
  if (id === 'detail' && sub === undefined && m === 'GET') return list(fake, ctx);
  if (id === undefined || id === 'detail') return fault(405, 'The method is not allowed for this resource.');
  const v = fake.volumes.get(id);
  if (!v || v.projectId !== ctx.token!.projectId) return notFound(id);
  if (sub === undefined && m === 'GET') return { status: 200, body: { volume: render(ctx, v) } };
  if (sub === undefined && m === 'DELETE') return remove(fake, v);
  if (sub === 'action' && m === 'POST') return action(fake, ctx, v, version);
  return fault(404, 'The resource could not be found.');
}

function create(fake: FakeOpenStack, ctx: Ctx): Reply {
  const req = (ctx.body as any)?.volume;
  if (typeof req !== 'object' || req === null) return fault(400, 'Missing required element \'volume\' in request body.');
  const size = typeof req.size === 'string' && /^\d+$/.test(req.size) ? Number(req.size) : req.size;
  if (!Number.isInteger(size) || size < 1) return fault(400, `Invalid input received: "size" must be an integer greater than 0, got ${JSON.stringify(req.size)}.`);
  if (req.metadata !== undefined && (typeof req.metadata !== 'object' || req.metadata === null || Object.values(req.metadata).some((x) => typeof x !== 'string'))) {
    return fault(400, 'Invalid input received: metadata values must be strings.');
  }
  if (req.name !== undefined && req.name !== null && typeof req.name !== 'string') return fault(400, 'Invalid input received: name must be a string.');
  const now = Date.now();
  const v: Volume = {
    id: randomUUID(), name: req.name ?? null, size, status: 'creating', metadata: { ...(req.metadata ?? {}) }, attachment: null,
    projectId: ctx.token!.projectId, userId: ctx.token!.userId, created: now, updated: now,
  };
  fake.volumes.set(v.id, v);
  fake.later(() => {
    if (v.status === 'creating') Object.assign(v, { status: 'available', updated: Date.now() });
  });
  return { status: 202, body: { volume: render(ctx, v) } };
}

function list(fake: FakeOpenStack, ctx: Ctx): Reply {
  let volumes = [...fake.volumes.values()].filter((v) => v.projectId === ctx.token!.projectId);
  const q = ctx.query;
  const metadata = q.get('metadata');
  if (metadata !== null) {
    const wanted = parseMetadataFilter(metadata);
    if (!wanted) return fault(400, `Invalid input received: Invalid filter metadata=${metadata}.`);
    volumes = volumes.filter((v) => Object.entries(wanted).every(([k, val]) => v.metadata[k] === String(val)));
  }
  const name = q.get('name');
  if (name !== null) volumes = volumes.filter((v) => v.name === name);
  const status = q.get('status');
  if (status !== null) volumes = volumes.filter((v) => v.status === status);
  volumes.sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
  const limit = q.get('limit') === null ? 1000 : Number(q.get('limit'));
  if (!Number.isInteger(limit) || limit < 0) return fault(400, 'Invalid input received: limit must be a non-negative integer.');
  const marker = q.get('marker');
  let start = 0;
  if (marker !== null) {
    start = volumes.findIndex((v) => v.id === marker) + 1;
    if (start === 0) return fault(404, `Marker ${marker} could not be found.`);
  }
  const slice = volumes.slice(start, start + limit);
  const body: Record<string, unknown> = { volumes: slice.map((v) => render(ctx, v)) };
  if (slice.length === limit && start + limit < volumes.length) {
    const next = new URLSearchParams(q);
    next.set('marker', slice[slice.length - 1].id);
    body.volumes_links = [{ href: `${ctx.root}/v3/${ctx.token!.projectId}/volumes/detail?${next}`, rel: 'next' }];
  }
  return { status: 200, body };
}

function action(fake: FakeOpenStack, ctx: Ctx, v: Volume, version: [number, number]): Reply {
  const extend = (ctx.body as any)?.['os-extend'];
  if (extend === undefined) return fault(400, 'There is no such action.');
  const newSize = typeof extend?.new_size === 'string' && /^\d+$/.test(extend.new_size) ? Number(extend.new_size) : extend?.new_size;
  if (!Number.isInteger(newSize)) return fault(400, 'Invalid input received: new_size must be an integer.');
  const inUseOk = version[0] > 3 || (version[0] === 3 && version[1] >= 42);
  if (!(v.status === 'available' || (v.status === 'in-use' && inUseOk))) {
    return fault(400, `Invalid volume: Volume status must be '${inUseOk ? 'available or in-use' : 'available'}' to extend, but current status is: ${v.status}.`);
  }
  if (newSize <= v.size) return fault(400, `Invalid input received: New size for extend must be greater than current size. (current: ${v.size}, extended: ${newSize}).`);
  const back = v.status;
  Object.assign(v, { status: 'extending', updated: Date.now() });
  fake.later(() => {
    if (v.status === 'extending') Object.assign(v, { status: back, size: newSize, updated: Date.now() });
  });
  return { status: 202 };
}

function remove(fake: FakeOpenStack, v: Volume): Reply {
  if (!['available', 'error', 'error_restoring', 'error_extending', 'error_managing'].includes(v.status) || v.attachment) {
    return fault(400, 'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.');
  }
  Object.assign(v, { status: 'deleting', updated: Date.now() });
  fake.later(() => {
    if (fake.volumes.get(v.id) === v) fake.volumes.delete(v.id);
  });
  return { status: 202 };
}
