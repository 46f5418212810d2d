// Nova under /compute/v2.1: microversions 2.1 to novaMaxVersion (2.104 by default) accepted, 406
// outside. Answers are the samples' 2.100 (servers) and 2.102/2.89 (flavors, attachments) shapes
// with the fields of other microversions added or removed as nova/api/openstack/compute/views does
// from 2.47 on (below 2.47 a server's flavor would be a link: not modelled). Servers follow Nova's state machine
// (vm_state + task_state → status, nova/api/openstack/common.py); an action that does not fit the
// state is 409 conflictingRequest with Nova's wording; an unknown server 404 itemNotFound.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sample } from './samples.js';
import { type Ctx, type FakeOpenStack, type Flavor, PROJECT, type Reply, type Server, USER, cinderTime, fault, novaTime } from './server.js';

const MIN_VERSION = '2.1';

const parseVersion = (v: string): [number, number] | null => {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
};
const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

/** The microversion asked for (OpenStack-API-Version: compute X, or the legacy header), or a reply refusing it. */
function negotiate(fake: FakeOpenStack, ctx: Ctx): string | Reply {
  const header = ctx.headers['openstack-api-version'];
  const legacy = ctx.headers['x-openstack-nova-api-version'];
  let asked: string | null = null;
  if (typeof header === 'string') {
    const entry = header.split(',').map((s) => s.trim()).find((s) => s.toLowerCase().startsWith('compute '));
    if (entry) asked = entry.slice('compute '.length).trim();
  }
  if (asked === null && typeof legacy === 'string') asked = legacy.trim();
  if (asked === null) return MIN_VERSION;
  if (asked.toLowerCase() === 'latest') return fake.novaMaxVersion;
  const v = parseVersion(asked);
  if (!v) return fault(400, `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
  if (cmp(v, parseVersion(MIN_VERSION)!) < 0 || cmp(v, parseVersion(fake.novaMaxVersion)!) > 0) {
    return fault(406, `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${fake.novaMaxVersion}.`);
  }
  return `${v[0]}.${v[1]}`;
}

const STATUS: Record<Server['vmState'], { default: string; tasks?: Record<string, string> }> = {
  building: { default: 'BUILD' },
  active: {
    default: 'ACTIVE',
    tasks: {
      rebooting: 'REBOOT', reboot_pending: 'REBOOT', reboot_started: 'REBOOT',
      rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT', reboot_started_hard: 'HARD_REBOOT',
    },
  },
  stopped: { default: 'SHUTOFF', tasks: { rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT', reboot_started_hard: 'HARD_REBOOT' } },
  error: { default: 'ERROR' },
  deleted: { default: 'DELETED' },
};

export const statusOf = (s: Server) => STATUS[s.vmState].tasks?.[s.taskState ?? ''] ?? STATUS[s.vmState].default;

const notFound = (id: string) => fault(404, `Instance ${id} could not be found.`);

/** Nova's 409 wording (nova/api/openstack/common.py raise_http_conflict_for_instance_invalid_state). */
const conflict = (s: Server, action: string) =>
  fault(409, `Cannot '${action}' instance ${s.id} while it is in ${s.taskState ? `task_state ${s.taskState}` : `vm_state ${s.vmState}`}`);

const atLeast = (ctx: Ctx, major: number, minor: number) => cmp(ctx.microversion ?? [2, 1], [major, minor]) >= 0;

function renderFlavor(ctx: Ctx, f: Flavor): unknown {
  const t = sample('nova/v2.102/flavors-detail-resp.json').flavors[0];
  t.id = f.id;
  t.name = f.name;
  t.vcpus = f.vcpus;
  t.ram = f.ram;
  t.disk = f.disk;
  t.links = [
    { href: `${ctx.root}/v2.1/flavors/${f.id}`, rel: 'self' },
    { href: `${ctx.root}/flavors/${f.id}`, rel: 'bookmark' },
  ];
  // Up to 2.101 a flavor still shows these two (the 2.1 sample has them; 2.102 dropped them).
  if (!atLeast(ctx, 2, 102)) {
    t['OS-FLV-DISABLED:disabled'] = f.disabled ?? false;
    t.rxtx_factor = 1.0;
  }
  if (!atLeast(ctx, 2, 61)) delete t.extra_specs;
  if (!atLeast(ctx, 2, 55)) delete t.description;
  if (!atLeast(ctx, 2, 75)) t.swap = '';
  return t;
}

function renderServer(fake: FakeOpenStack, ctx: Ctx, s: Server): any {
  const t = sample('nova/v2.100/server-get-resp.json').server;
  const launched = s.vmState !== 'building';
  t.id = s.id;
  t.name = s.name;
  t.metadata = { ...s.metadata };
  t.status = statusOf(s);
  t['OS-EXT-STS:task_state'] = s.taskState;
  t['OS-EXT-STS:vm_state'] = s.vmState;
  t['OS-EXT-STS:power_state'] = s.powerState;
  t.addresses = launched && s.vmState !== 'error'
    ? { [s.networkName]: [{ addr: s.fixedIp, 'OS-EXT-IPS-MAC:mac_addr': `fa:16:3e:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`, 'OS-EXT-IPS:type': 'fixed', version: 4 }] }
    : {};
  t.accessIPv4 = '';
  t.accessIPv6 = '';
  t.created = novaTime(s.created);
  t.updated = novaTime(s.updated);
  t.description = null;
  t.flavor = { disk: s.flavor.disk, ephemeral: 0, extra_specs: {}, original_name: s.flavor.name, ram: s.flavor.ram, swap: 0, vcpus: s.flavor.vcpus };
  t.hostId = launched ? createHash('sha224').update(`host1${s.projectId}`).digest('hex') : '';
  t.image = { id: s.imageId, links: [{ href: `${ctx.root}/images/${s.imageId}`, rel: 'bookmark' }], properties: {} };
  t.links = [
    { href: `${ctx.root}/v2.1/servers/${s.id}`, rel: 'self' },
    { href: `${ctx.root}/servers/${s.id}`, rel: 'bookmark' },
  ];
  t['OS-EXT-SRV-ATTR:hostname'] = s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63);
  t['OS-EXT-AZ:availability_zone'] = 'nova';
  t['os-extended-volumes:volumes_attached'] = [...fake.volumes.values()]
    .filter((v) => v.attachment?.serverId === s.id)
    .map((v) => ({ id: v.id, delete_on_termination: false }));
  t['OS-SRV-USG:launched_at'] = launched ? cinderTime(s.created) : null;
  // Added in 2.96, 2.98 and 2.100 (the sample is 2.100's).
  if (atLeast(ctx, 2, 96)) t.pinned_availability_zone = null;
  else delete t.pinned_availability_zone;
  if (!atLeast(ctx, 2, 98)) delete t.image.properties;
  if (atLeast(ctx, 2, 100)) t.scheduler_hints = {};
  else delete t.scheduler_hints;
  t.tenant_id = s.projectId;
  t.user_id = s.userId;
  t.progress = 0;
  if (s.fault) {
    const f = sample('nova/api-guide-faults-server-error.json').server.fault;
    t.fault = { ...f, code: s.fault.code, created: s.fault.created, message: s.fault.message };
  }
  return t;
}

/** Nova's paging: `limit` and `marker`; a `next` link when a page is full. */
function page<T extends { id: string }>(ctx: Ctx, items: T[], path: string): { items: T[]; links?: { href: string; rel: string }[] } | Reply {
  const limitRaw = ctx.query.get('limit');
  const limit = limitRaw === null ? 1000 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 0) return fault(400, `Invalid input for query parameters limit. Value: ${limitRaw}.`);
  const marker = ctx.query.get('marker');
  let start = 0;
  if (marker !== null) {
    const i = items.findIndex((x) => x.id === marker);
    if (i < 0) return fault(400, `marker [${marker}] not found`);
    start = i + 1;
  }
  const slice = items.slice(start, start + Math.min(limit, 1000));
  if (slice.length === 0 || slice.length < limit || start + slice.length >= items.length) return { items: slice };
  const next = new URLSearchParams(ctx.query);
  next.set('limit', String(limit));
  next.set('marker', slice[slice.length - 1].id);
  return { items: slice, links: [{ href: `${ctx.root}/v2.1${path}?${next}`, rel: 'next' }] };
}

const isReply = (x: unknown): x is Reply => typeof x === 'object' && x !== null && 'status' in x;

function isStringMap(x: unknown, max = 255): x is Record<string, string> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.entries(x).every(([k, v]) => k.length >= 1 && k.length <= 255 && typeof v === 'string' && v.length <= max);
}

export function handleNova(fake: FakeOpenStack, ctx: Ctx): Reply {
  const negotiated = negotiate(fake, ctx);
  if (isReply(negotiated)) return negotiated;
  const reply = route(fake, { ...ctx, microversion: parseVersion(negotiated) });
  // Nova sends the version headers on every answer under /v2.1.
  return {
    ...reply,
    headers: { ...(reply.headers ?? {}), 'OpenStack-API-Version': `compute ${negotiated}`, 'X-OpenStack-Nova-API-Version': negotiated, Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version' },
  };
}

function route(fake: FakeOpenStack, ctx: Ctx): Reply {
  const p = ctx.path.replace(/\/+$/, '').split('/').filter(Boolean);
  if (p[0] !== 'v2.1') return fault(404, 'The resource could not be found.');
  const [, a, b, c, d] = p;
  const m = ctx.method;
  if (a === undefined && m === 'GET') {
    const doc = sample('nova/v21-version-get-resp.json');
    doc.version.links[0].href = `${ctx.root}/v2.1/`;
    doc.version.version = fake.novaMaxVersion;
    return { status: 200, body: doc };
  }
  if (a === 'flavors' && b === 'detail' && c === undefined && m === 'GET') {
    const paged = page(ctx, [...fake.flavors].sort((x, y) => Number(x.id) - Number(y.id)), '/flavors/detail');
    if (isReply(paged)) return paged;
    return { status: 200, body: { flavors: paged.items.map((f) => renderFlavor(ctx, f)), ...(paged.links ? { flavors_links: paged.links } : {}) } };
  }
  if (a === 'os-keypairs' && b === undefined && m === 'POST') return importKeypair(fake, ctx);
  if (a !== 'servers') return fault(404, 'The resource could not be found.');
  if (b === 'detail' && c === undefined && m === 'GET') return listServers(fake, ctx);
  if (b === undefined && m === 'POST') return createServer(fake, ctx);
  if (b === undefined || b === 'detail') return fault(405, 'The method is not allowed for this resource.');
  const s = fake.servers.get(b);
  if (!s || s.projectId !== ctx.token!.projectId) return notFound(b);
  if (c === undefined && m === 'GET') return { status: 200, body: { server: renderServer(fake, ctx, s) } };
  if (c === undefined && m === 'DELETE') return deleteServer(fake, s);
  if (c === 'action' && d === undefined && m === 'POST') return action(fake, ctx, s);
  if (c === 'os-volume_attachments') {
    if (d === undefined && m === 'GET') return listAttachments(fake, s);
    if (d === undefined && m === 'POST') return attachVolume(fake, ctx, s);
    if (d !== undefined && m === 'DELETE') return detachVolume(fake, s, d);
  }
  return fault(404, 'The resource could not be found.');
}

function listServers(fake: FakeOpenStack, ctx: Ctx): Reply {
  let servers = [...fake.servers.values()].filter((s) => s.projectId === ctx.token!.projectId);
  const name = ctx.query.get('name');
  if (name !== null) {
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      return fault(400, `Invalid regular expression for name: ${name}`);
    }
    servers = servers.filter((s) => re.test(s.name));
  }
  const status = ctx.query.get('status');
  if (status !== null) servers = servers.filter((s) => statusOf(s) === status.toUpperCase());
  servers.sort((x, y) => y.created - x.created || x.id.localeCompare(y.id));
  const paged = page(ctx, servers, '/servers/detail');
  if (isReply(paged)) return paged;
  return { status: 200, body: { servers: paged.items.map((s) => renderServer(fake, ctx, s)), ...(paged.links ? { servers_links: paged.links } : {}) } };
}

const ALLOWED_CREATE = new Set(['name', 'imageRef', 'flavorRef', 'networks', 'metadata', 'availability_zone', 'security_groups', 'key_name', 'user_data', 'hostname', 'description', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', 'tags']);

function createServer(fake: FakeOpenStack, ctx: Ctx): Reply {
  const req = (ctx.body as any)?.server;
  if (typeof req !== 'object' || req === null) return fault(400, "Invalid input for field/attribute server. Value: None. 'server' is a required property");
  const extra = Object.keys(req).find((k) => !ALLOWED_CREATE.has(k));
  if (extra) return fault(400, `Invalid input for field/attribute server. Additional properties are not allowed ('${extra}' was unexpected)`);
  if (typeof req.name !== 'string' || req.name.trim().length === 0 || req.name.length > 255) return fault(400, `Invalid input for field/attribute name. Value: ${req.name}.`);
  if (typeof req.flavorRef !== 'string' && typeof req.flavorRef !== 'number') return fault(400, "Invalid input for field/attribute server. 'flavorRef' is a required property");
  if (typeof req.imageRef !== 'string') return fault(400, 'Invalid input for field/attribute imageRef. Value: None.');
  if (req.networks === undefined) return fault(400, "Invalid input for field/attribute server. 'networks' is a required property");
  if (req.metadata !== undefined && !isStringMap(req.metadata)) return fault(400, 'Invalid input for field/attribute metadata.');
  const flavor = fake.flavors.find((f) => f.id === String(req.flavorRef));
  if (!flavor) return fault(400, `Flavor ${req.flavorRef} could not be found.`);
  if (flavor.disabled) return fault(400, `Flavor ${req.flavorRef} is disabled.`);
  const image = fake.images.get(req.imageRef);
  if (!image) return fault(400, `Image ${req.imageRef} could not be found.`);
  if (image.status !== 'active') return fault(400, `Image ${req.imageRef} is not active.`);
  let networkName = 'private';
  if (Array.isArray(req.networks)) {
    if (req.networks.length !== 1 || typeof req.networks[0]?.uuid !== 'string') return fault(400, 'Invalid input for field/attribute networks.');
    const net = fake.networks.find((n) => n.id === req.networks[0].uuid);
    if (!net) return fault(400, `Network ${req.networks[0].uuid} could not be found.`);
    networkName = net.name;
  } else if (req.networks !== 'auto' && req.networks !== 'none') {
    return fault(400, `Invalid input for field/attribute networks. Value: ${JSON.stringify(req.networks)}.`);
  }
  // Nova: user_data is base64 of at most 65,535 bytes; key_name a key pair of the token's user.
  if (req.user_data !== undefined) {
    if (typeof req.user_data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(req.user_data) || req.user_data.length % 4 !== 0) {
      return fault(400, 'User data needs to be valid base 64.');
    }
    if (req.user_data.length > 65535) return fault(400, `Invalid input for field/attribute user_data. Value: ${req.user_data.slice(0, 20)}... is too long`);
  }
  if (req.key_name !== undefined && !fake.keypairs.has(`${ctx.token!.userId}/${req.key_name}`)) return fault(400, `Invalid key_name provided.`);
  const used = [...fake.servers.values()].filter((s) => s.projectId === ctx.token!.projectId).length;
  if (used >= fake.maxServers) return fault(403, `Quota exceeded for instances: Requested 1, but already used ${used} of ${fake.maxServers} instances`);

  const now = Date.now();
  const s: Server = {
    id: randomUUID(), name: req.name, projectId: ctx.token!.projectId, userId: ctx.token!.userId, flavor, imageId: image.id,
    metadata: { ...(req.metadata ?? {}) }, vmState: 'building', taskState: 'scheduling', powerState: 0, fixedIp: fake.nextIp(),
    networkName, fault: null, created: now, updated: now, keyName: req.key_name ?? null, userData: req.user_data ?? null,
  };
  fake.servers.set(s.id, s);
  const failure = fake.buildFailures.shift();
  fake.later(() => {
    if (s.vmState === 'building' && s.taskState === 'scheduling') Object.assign(s, { taskState: 'spawning', updated: Date.now() });
  }, fake.delayMs / 2);
  fake.later(() => {
    if (s.vmState !== 'building') return;
    if (failure) Object.assign(s, { vmState: 'error', taskState: null, powerState: 0, updated: Date.now(), fault: { code: 500, message: failure, created: novaTime(Date.now()) } });
    else Object.assign(s, { vmState: 'active', taskState: null, powerState: 1, updated: Date.now() });
  });
  const body = sample('nova/v2.100/server-create-resp.json');
  body.server.id = s.id;
  body.server.adminPass = randomBytes(9).toString('base64url');
  body.server.links = [
    { href: `${ctx.root}/v2.1/servers/${s.id}`, rel: 'self' },
    { href: `${ctx.root}/servers/${s.id}`, rel: 'bookmark' },
  ];
  return { status: 202, body, headers: { Location: `${ctx.root}/v2.1/servers/${s.id}` } };
}

function deleteServer(fake: FakeOpenStack, s: Server): Reply {
  if (s.taskState !== 'deleting') {
    Object.assign(s, { taskState: 'deleting', updated: Date.now() });
    fake.later(() => {
      if (fake.servers.get(s.id) === s) fake.deleteServerNow(s.id);
    });
  }
  return { status: 204 };
}

/** A change that shows `task` now and applies `done` after the delay (unless the server is gone). */
function task(fake: FakeOpenStack, s: Server, during: Partial<Server>, done: Partial<Server>): void {
  Object.assign(s, during, { updated: Date.now() });
  fake.later(() => {
    if (fake.servers.get(s.id) === s && s.taskState !== 'deleting') Object.assign(s, done, { updated: Date.now() });
  });
}

function action(fake: FakeOpenStack, ctx: Ctx, s: Server): Reply {
  const body = ctx.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) {
    return fault(400, 'Malformed request body');
  }
  const [name, arg] = Object.entries(body)[0] as [string, any];
  switch (name) {
    case 'os-stop':
      if (!['active', 'error'].includes(s.vmState) || s.taskState !== null) return conflict(s, 'stop');
      task(fake, s, { taskState: 'powering-off' }, { vmState: 'stopped', taskState: null, powerState: 4 });
      return { status: 202 };
    case 'os-start':
      if (s.vmState !== 'stopped' || s.taskState !== null) return conflict(s, 'start');
      task(fake, s, { taskState: 'powering-on' }, { vmState: 'active', taskState: null, powerState: 1 });
      return { status: 202 };
    case 'reboot': {
      const type = typeof arg?.type === 'string' ? arg.type.toUpperCase() : null;
      if (type !== 'SOFT' && type !== 'HARD') {
        return fault(400, `Invalid input for field/attribute type. Value: ${arg?.type}. '${arg?.type}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`);
      }
      if (type === 'SOFT' && (s.vmState !== 'active' || s.taskState !== null)) return conflict(s, 'reboot');
      if (type === 'HARD' && (!['active', 'stopped', 'error'].includes(s.vmState) || ![null, 'reboot_pending', 'reboot_started', 'rebooting'].includes(s.taskState))) {
        return conflict(s, 'reboot');
      }
      task(fake, s, { taskState: type === 'HARD' ? 'reboot_started_hard' : 'reboot_started' }, { vmState: 'active', taskState: null, powerState: 1 });
      return { status: 202 };
    }
    case 'createImage':
      return createImage(fake, ctx, s, arg);
    default:
      return fault(400, `There is no such action: ${name}`);
  }
}

function createImage(fake: FakeOpenStack, ctx: Ctx, s: Server, arg: any): Reply {
  if (typeof arg?.name !== 'string' || arg.name.length === 0 || arg.name.length > 255) return fault(400, `Invalid input for field/attribute name. Value: ${arg?.name}.`);
  if (arg.metadata !== undefined && !isStringMap(arg.metadata)) return fault(400, 'Invalid input for field/attribute metadata.');
  if (!['active', 'stopped'].includes(s.vmState) || s.taskState !== null) return conflict(s, 'createImage');
  const image = fake.addImage({
    name: arg.name, tags: [], status: 'queued', visibility: 'private', owner: ctx.token!.projectId, created: Date.now(),
    properties: { ...(arg.metadata ?? {}), image_type: 'snapshot', instance_uuid: s.id, base_image_ref: s.imageId, owner_user_name: USER.name, owner_project_name: PROJECT.name },
  });
  Object.assign(s, { taskState: 'image_snapshot', updated: Date.now() });
  fake.later(() => {
    image.status = 'saving';
    if (s.taskState === 'image_snapshot') s.taskState = 'image_uploading';
  }, fake.delayMs / 2);
  fake.later(() => {
    image.status = 'active';
    if (s.taskState === 'image_uploading') s.taskState = null;
  });
  const body = sample('nova/v2.45/server-action-create-image-resp.json');
  body.image_id = image.id;
  return { status: 202, body };
}

function listAttachments(fake: FakeOpenStack, s: Server): Reply {
  const template = sample('nova/v2.89/list-volume-attachments-resp.json').volumeAttachments[0];
  const volumeAttachments = [...fake.volumes.values()]
    .filter((v) => v.attachment?.serverId === s.id)
    .map((v) => ({ ...template, attachment_id: v.attachment!.attachmentId, delete_on_termination: false, device: v.attachment!.device, serverId: s.id, tag: null, volumeId: v.id, bdm_uuid: randomUUID() }));
  return { status: 200, body: { volumeAttachments } };
}

function attachVolume(fake: FakeOpenStack, ctx: Ctx, s: Server): Reply {
  const req = (ctx.body as any)?.volumeAttachment;
  if (typeof req?.volumeId !== 'string') return fault(400, "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property");
  if (!['active', 'stopped'].includes(s.vmState) || s.taskState !== null) return conflict(s, 'attach_volume');
  const v = fake.volumes.get(req.volumeId);
  if (!v || v.projectId !== s.projectId) return fault(404, `Volume ${req.volumeId} could not be found.`);
  if (v.attachment?.serverId === s.id) return fault(400, `Invalid volume: volume ${v.id} already attached`);
  if (v.status !== 'available') {
    return fault(400, `Invalid volume: Volume ${v.id} status must be available or downloading to reserve, but the current status is ${v.status}.`);
  }
  const used = new Set([...fake.volumes.values()].filter((x) => x.attachment?.serverId === s.id).map((x) => x.attachment!.device));
  let letter = 'b';
  while (used.has(`/dev/vd${letter}`)) letter = String.fromCharCode(letter.charCodeAt(0) + 1);
  const device = `/dev/vd${letter}`;
  const attachmentId = randomUUID();
  v.status = 'reserved';
  fake.later(() => {
    if (v.status === 'reserved') v.status = 'attaching';
  }, fake.delayMs / 2);
  fake.later(() => {
    if (v.status !== 'attaching' || !fake.servers.has(s.id)) return;
    v.status = 'in-use';
    v.attachment = { serverId: s.id, attachmentId, device, attachedAt: Date.now() };
  });
  // From 2.101 the attachment is made asynchronously: 202 without a body.
  if (atLeast(ctx, 2, 101)) return { status: 202 };
  const body = sample('nova/v2.89/attach-volume-to-server-resp.json');
  Object.assign(body.volumeAttachment, { delete_on_termination: false, device, id: v.id, serverId: s.id, tag: null, volumeId: v.id });
  return { status: 200, body };
}

function detachVolume(fake: FakeOpenStack, s: Server, volumeId: string): Reply {
  const v = fake.volumes.get(volumeId);
  if (!v || v.attachment?.serverId !== s.id) return fault(404, `volume_id not found: ${volumeId}`);
  if (s.taskState !== null && s.taskState !== 'deleting') return conflict(s, 'detach_volume');
  if (v.status !== 'in-use') return fault(400, `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`);
  v.status = 'detaching';
  fake.later(() => {
    if (v.status !== 'detaching') return;
    v.status = 'available';
    v.attachment = null;
  });
  return { status: 202 };
}

/** os-keypairs POST (import; from 2.2 answers 201 with the key pair; its name unique per user: 409). */
function importKeypair(fake: FakeOpenStack, ctx: Ctx): Reply {
  const req = (ctx.body as any)?.keypair;
  if (typeof req !== 'object' || req === null) return fault(400, "Invalid input for field/attribute keypair. Value: None. 'keypair' is a required property");
  if (typeof req.name !== 'string' || !/^[A-Za-z0-9 _.@-]{1,255}$/.test(req.name)) return fault(400, `Invalid input for field/attribute name. Value: ${req.name}.`);
  if (req.type !== undefined && req.type !== 'ssh' && req.type !== 'x509') return fault(400, `Invalid input for field/attribute type. Value: ${req.type}.`);
  if (typeof req.public_key !== 'string' || !/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/.test(req.public_key)) {
    return fault(400, 'Keypair data is invalid: failed to generate fingerprint');
  }
  const key = `${ctx.token!.userId}/${req.name}`;
  if (fake.keypairs.has(key)) return fault(409, `Key pair '${req.name}' already exists.`);
  fake.keypairs.set(key, { name: req.name, userId: ctx.token!.userId, publicKey: req.public_key, created: Date.now() });
  return {
    status: 201,
    body: { keypair: { name: req.name, public_key: req.public_key, fingerprint: 'fake', user_id: ctx.token!.userId, type: req.type ?? 'ssh' } },
  };
}
