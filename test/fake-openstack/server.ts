// A fake OpenStack for tests: one real HTTP server on 127.0.0.1 that speaks Keystone v3, Nova
// (compute, microversions up to 2.104, shapes as of 2.47 and the later changes to what the portal
// reads), Glance v2, Cinder v3 (up to 3.71) and the one Neutron call the portal makes, with answers
// cloned from the API reference samples in
// ./samples. Its catalog points at itself: http://127.0.0.1:PORT/{identity,compute,image,volume,network},
// with `/internal` and `/admin` prefixes for those interfaces and `/r2` for a second region.
//
// State changes take `delayMs` and are applied lazily (whenever a request or a test looks), so a
// test never waits on a timer it does not poll. Faults are injected per request: an error status,
// a slow answer, a dropped connection (before or after the request took effect), a body of the
// wrong shape, a missing microversion header; tokens can be made short-lived or revoked.
import { randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleCinder } from './cinder.js';
import { handleGlance } from './glance.js';
import { handleKeystone } from './keystone.js';
import { handleNeutron } from './neutron.js';
import { handleNova } from './nova.js';

export type Service = 'identity' | 'compute' | 'image' | 'volume' | 'network';
export type Interface = 'public' | 'internal' | 'admin';

export interface Ctx {
  service: Service;
  method: string;
  /** The path below the service's root: `/v3/auth/tokens`, `/v2.1/servers/…`, `/v2/images`, `/v3/<project>/volumes`, `/v2.0/networks`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingMessage['headers'];
  token: TokenRecord | null;
  /** `http://127.0.0.1:PORT/compute` (with the interface/region prefix the request used). */
  root: string;
  /** The microversion negotiated (Nova, Cinder), as [major, minor]. */
  microversion: [number, number] | null;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** A non-JSON body (Glance's errors are text). */
  text?: string;
  headers?: Record<string, string>;
}

export interface TokenRecord {
  value: string;
  userId: string;
  projectId: string;
  method: 'password' | 'application_credential';
  issuedAt: number;
  expiresAt: number;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  disabled?: boolean;
}

export interface Image {
  id: string;
  name: string;
  status: string;
  tags: string[];
  visibility: 'public' | 'private';
  owner: string;
  created: number;
  properties: Record<string, string>;
}

export interface Server {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  flavor: Flavor;
  imageId: string;
  metadata: Record<string, string>;
  vmState: 'building' | 'active' | 'stopped' | 'error' | 'deleted';
  taskState: string | null;
  powerState: number;
  fixedIp: string;
  networkName: string;
  fault: { code: number; message: string; created: string } | null;
  created: number;
  updated: number;
  /** The server's key pair (key_name), and its user data as Nova got it (base64), or null. */
  keyName: string | null;
  userData: string | null;
}

/** A key pair of a Keystone user (Nova keeps them per user, not per project). */
export interface Keypair {
  name: string;
  userId: string;
  publicKey: string;
  created: number;
}

export interface Attachment {
  serverId: string;
  attachmentId: string;
  device: string;
  attachedAt: number;
}

export interface Volume {
  id: string;
  name: string | null;
  size: number;
  status: string;
  metadata: Record<string, string>;
  attachment: Attachment | null;
  projectId: string;
  userId: string;
  created: number;
  updated: number;
}

export interface Network {
  id: string;
  name: string;
}

export interface FaultRule {
  service?: Service;
  method?: string;
  /** Matched against the path below the service root (e.g. /v2.1/servers/…/action). */
  path?: RegExp;
  /**
   * `status`: answer `status` (default 503) with the service's error body; `slow`: wait `delayMs`,
   * then answer normally; `drop`: close the connection without an answer; `drop-after`: do the
   * request, then close the connection instead of answering; `garbage`: 200 with a body of the
   * wrong shape; `no-microversion`: answer without the OpenStack-API-Version header.
   */
  kind: 'status' | 'slow' | 'drop' | 'drop-after' | 'garbage' | 'no-microversion';
  status?: number;
  delayMs?: number;
  /** How many requests it hits; unlimited when unset. */
  times?: number;
}

export interface Fault {
  rule: FaultRule;
  hits: number;
  remove(): void;
}

export interface LoggedRequest {
  service: Service;
  interface: Interface;
  region: string;
  method: string;
  path: string;
  status: number | 'dropped';
  microversion: string | null;
}

export interface FakeOptions {
  /** How long each state change takes, ms. */
  delayMs?: number;
  /** Token lifetime, ms. */
  tokenTtlMs?: number;
  /** Highest Nova microversion offered. */
  novaMaxVersion?: string;
  /** Glance's default page size. */
  glancePageSize?: number;
  /** Regions in the catalog (the second one is served under /r2). */
  regions?: string[];
  /** Nova instances quota. */
  maxServers?: number;
}

export const PROJECT = { id: 'a6944d763bf64ee6a275f1263fae0352', name: 'simplevm', domain: { id: 'default', name: 'Default' } };
export const USER = { id: 'ee4dfb6e5540447cb3741905149d9b6e', name: 'portal', domain: { id: 'default', name: 'Default' }, password: 'devstacker' };
export const APP_CREDENTIAL = { id: '423f19a4ac1e4f48bbb4180756e6eb6c', name: 'simplevm-portal', secret: 'rEaqvJka48mpv' };

const ERROR_NAMES: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod', 409: 'conflictingRequest',
  413: 'overLimit', 415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented', 503: 'serviceUnavailable',
};

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Request Entity Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** Nova's and Cinder's error body: `{"<name>": {"code", "message"}}`, the name chosen by status. */
export function fault(status: number, message: string): Reply {
  return { status, body: { [ERROR_NAMES[status] ?? 'computeFault']: { code: status, message } } };
}

/** Keystone's (and keystonemiddleware's) error body. */
export function keystoneError(status: number, message: string): Reply {
  return { status, body: { error: { code: status, title: STATUS_TEXT[status] ?? 'Error', message } } };
}

/** Glance answers errors as text (webob). */
export function glanceError(status: number, message: string): Reply {
  return { status, text: `${status} ${STATUS_TEXT[status] ?? 'Error'}\n\n${message}\n\n   `, headers: { 'content-type': 'text/plain; charset=UTF-8' } };
}

export function neutronError(status: number, type: string, message: string): Reply {
  return { status, body: { NeutronError: { type, message, detail: '' } } };
}

function errorFor(service: Service, status: number, message: string): Reply {
  switch (service) {
    case 'identity':
      return keystoneError(status, message);
    case 'image':
      return glanceError(status, message);
    case 'network':
      return neutronError(status, 'ServiceUnavailable', message);
    default:
      return fault(status, message);
  }
}

/** Nova's timestamps: seconds, `Z`. */
export const novaTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Cinder's: microseconds, no zone. */
export const cinderTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
/** Keystone's: microseconds, `Z`. */
export const keystoneTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class FakeOpenStack {
  readonly delayMs: number;
  tokenTtlMs: number;
  novaMaxVersion: string;
  readonly glancePageSize: number;
  readonly regions: string[];
  maxServers: number;

  readonly tokens = new Map<string, TokenRecord>();
  readonly flavors: Flavor[] = [];
  readonly images = new Map<string, Image>();
  readonly servers = new Map<string, Server>();
  /** Key pairs by `${userId}/${name}`. */
  readonly keypairs = new Map<string, Keypair>();
  readonly volumes = new Map<string, Volume>();
  readonly networks: Network[] = [];
  readonly log: LoggedRequest[] = [];
  /** Messages the next builds fail with (Nova's fault.message), first first. */
  readonly buildFailures: string[] = [];

  private readonly faults: Fault[] = [];
  private events: { at: number; seq: number; apply: () => void }[] = [];
  private seq = 0;
  private server: http.Server | null = null;
  private port = 0;
  private ipSeq = 10;

  constructor(opts: FakeOptions = {}) {
    this.delayMs = opts.delayMs ?? 40;
    this.tokenTtlMs = opts.tokenTtlMs ?? 3_600_000;
    this.novaMaxVersion = opts.novaMaxVersion ?? '2.104';
    this.glancePageSize = opts.glancePageSize ?? 3;
    this.regions = opts.regions ?? ['RegionOne'];
    this.maxServers = opts.maxServers ?? 1000;
    this.seed();
  }

  /** The flavors and images of the simulated cloud (spec §1), plus some the portal must not offer. */
  private seed(): void {
    const flavor = (id: string, name: string, vcpus: number, ramGb: number, disabled = false) =>
      this.flavors.push({ id, name, vcpus, ram: ramGb * 1024, disk: 20, disabled });
    flavor('1', 'de.NBI tiny', 1, 2);
    flavor('2', 'de.NBI small', 2, 4);
    flavor('3', 'de.NBI medium', 4, 8);
    flavor('4', 'de.NBI large', 8, 16);
    flavor('5', 'de.NBI retired', 2, 4, true);
    this.flavors.push({ id: '6', name: 'm1.nano', vcpus: 1, ram: 512, disk: 1 });
    const t0 = Date.parse('2024-01-01T00:00:00Z');
    const image = (name: string, tags: string[], days: number, status = 'active', properties: Record<string, string> = {}) =>
      this.addImage({ name, tags, status, visibility: 'public', owner: 'b0ef1c8e2ba94bb58f2b5e2a5e2a5e2a', created: t0 + days * 86_400_000, properties });
    image('Ubuntu-22.04', ['ubuntu', 'jammy', 'lts'], 1);
    image('Ubuntu-24.04', ['ubuntu', 'noble', 'lts'], 2);
    // SimpleVM's images name their login user in the default_user property.
    image('Debian-12', ['debian', 'bookworm'], 3, 'active', { default_user: 'debian' });
    // An older image of the same name: the portal offers one Debian-12, the newest.
    image('Debian-12', ['debian', 'old'], 0);
    image('cirros-0.6.2-x86_64-disk', [], 4);
    image('Fedora-41', ['fedora'], 5, 'queued');
    this.networks.push({ id: randomUUID(), name: 'private' }, { id: randomUUID(), name: 'shared-twin' }, { id: randomUUID(), name: 'shared-twin' });
  }

  addImage(i: Omit<Image, 'id'> & { id?: string }): Image {
    const img: Image = { ...i, id: i.id ?? randomUUID() };
    this.images.set(img.id, img);
    return img;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** OS_AUTH_URL */
  get authUrl(): string {
    return `${this.url}/identity/v3`;
  }

  /** The environment for a portal on this cloud (application credential; pass overrides). */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      SIMPLEVM_CLOUD: 'openstack',
      OS_AUTH_URL: this.authUrl,
      OS_APPLICATION_CREDENTIAL_ID: APP_CREDENTIAL.id,
      OS_APPLICATION_CREDENTIAL_SECRET: APP_CREDENTIAL.secret,
      OS_REGION_NAME: this.regions[0],
      SIMPLEVM_OS_NETWORK: 'private',
      SIMPLEVM_OS_POLL_MS: '20',
      SIMPLEVM_OS_REQUEST_TIMEOUT_MS: '2000',
      ...overrides,
    };
  }

  // Time: changes scheduled for later, applied when anyone looks.

  /** Applies `apply` after the fake's delay (or `ms`). */
  later(apply: () => void, ms = this.delayMs): void {
    this.events.push({ at: Date.now() + ms, seq: this.seq++, apply });
  }

  /** Applies every change that is due. */
  settle(): void {
    for (;;) {
      const now = Date.now();
      const due = this.events.filter((e) => e.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
      if (due.length === 0) return;
      this.events = this.events.filter((e) => e.at > now);
      for (const e of due) e.apply();
    }
  }

  nextIp(): string {
    this.ipSeq += 1;
    return `10.0.${Math.floor(this.ipSeq / 250)}.${(this.ipSeq % 250) + 2}`;
  }

  // Tokens.

  issueToken(userId: string, projectId: string, method: TokenRecord['method']): TokenRecord {
    const now = Date.now();
    const t: TokenRecord = { value: `gAAAAA${randomBytes(24).toString('base64url')}`, userId, projectId, method, issuedAt: now, expiresAt: now + this.tokenTtlMs };
    this.tokens.set(t.value, t);
    return t;
  }

  /** Every token issued so far stops working now (as after a Keystone key rotation). */
  revokeAllTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  tokenRequests(): number {
    return this.log.filter((r) => r.service === 'identity' && r.method === 'POST' && r.status === 201).length;
  }

  /** The catalog as Keystone lists it: every service at every interface, per region. */
  catalog(): unknown[] {
    const endpoints = (service: string) =>
      this.regions.flatMap((region, r) =>
        (['public', 'internal', 'admin'] as const).map((iface) => {
          const prefix = `${r === 0 ? '' : '/r2'}${iface === 'public' ? '' : `/${iface}`}`;
          const url = service === 'volume' ? `${this.url}${prefix}/volume/v3/${PROJECT.id}` : service === 'compute' ? `${this.url}${prefix}/compute/v2.1` : service === 'identity' ? `${this.url}${prefix}/identity` : `${this.url}${prefix}/${service}`;
          return { id: randomBytes(16).toString('hex'), interface: iface, region: region, region_id: region, url };
        }),
      );
    return [
      { type: 'identity', name: 'keystone', id: '408af8b8554248fc8d686bef54ae3bf6', endpoints: endpoints('identity') },
      { type: 'compute', name: 'nova', id: '1ab9fa7d3e4e4e0f9b7d5e8f0c1a2b3c', endpoints: endpoints('compute') },
      { type: 'image', name: 'glance', id: '2bc0ab8e4f5f5f1a0c8e6f9a1d2b3c4d', endpoints: endpoints('image') },
      { type: 'block-storage', name: 'cinder', id: '3cd1bc9f5a6a6a2b1d9f7a0b2e3c4d5e', endpoints: endpoints('volume') },
      { type: 'volumev3', name: 'cinderv3', id: '4de2cd0a6b7b7b3c2e0a8b1c3f4d5e6f', endpoints: endpoints('volume') },
      { type: 'network', name: 'neutron', id: '5ef3de1b7c8c8c4d3f1b9c2d4a5e6f70', endpoints: endpoints('network') },
    ];
  }

  // Faults.

  inject(rule: FaultRule): Fault {
    const f: Fault = {
      rule,
      hits: 0,
      remove: () => {
        const i = this.faults.indexOf(f);
        if (i >= 0) this.faults.splice(i, 1);
      },
    };
    this.faults.push(f);
    return f;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  private faultFor(service: Service, method: string, path: string): FaultRule | null {
    for (const f of this.faults) {
      const r = f.rule;
      if (r.service && r.service !== service) continue;
      if (r.method && r.method !== method) continue;
      if (r.path && !r.path.test(path)) continue;
      if (r.times !== undefined && f.hits >= r.times) continue;
      f.hits += 1;
      return r;
    }
    return null;
  }

  // Direct changes, as another user of the cloud would make them.

  /** Deletes a server at once, behind the portal's back (its volumes are detached). */
  deleteServerNow(id: string): void {
    this.servers.delete(id);
    for (const v of this.volumes.values()) {
      if (v.attachment?.serverId === id) {
        v.attachment = null;
        v.status = 'available';
      }
    }
  }

  serverTagged(portalId: string): Server[] {
    this.settle();
    return [...this.servers.values()].filter((s) => s.metadata.simplevm_id === portalId);
  }

  volumeTagged(portalId: string): Volume[] {
    this.settle();
    return [...this.volumes.values()].filter((v) => v.metadata.simplevm_id === portalId);
  }

  // HTTP.

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const segments = url.pathname.split('/').filter(Boolean);
    let region = this.regions[0];
    if (segments[0] === 'r2') {
      segments.shift();
      region = this.regions[1] ?? 'RegionTwo';
    }
    let iface: Interface = 'public';
    if (segments[0] === 'internal' || segments[0] === 'admin') iface = segments.shift() as Interface;
    const service = segments.shift() as Service;
    const path = `/${segments.join('/')}`;
    const method = req.method ?? 'GET';
    const entry: LoggedRequest = {
      service, interface: iface, region, method, path, status: 'dropped',
      microversion: (req.headers['openstack-api-version'] as string | undefined) ?? null,
    };
    this.log.push(entry);

    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');

    if (!['identity', 'compute', 'image', 'volume', 'network'].includes(service)) {
      return this.send(res, entry, { status: 404, text: 'no such service\n' });
    }
    const rule = this.faultFor(service, method, path);
    if (rule?.kind === 'slow') await new Promise((r) => setTimeout(r, rule.delayMs ?? 1000));
    if (rule?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (rule?.kind === 'status') return this.send(res, entry, errorFor(service, rule.status ?? 503, 'Injected fault: the service is unavailable.'));

    this.settle();
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.send(res, entry, service === 'identity' ? keystoneError(400, 'Malformed JSON in request body.') : fault(400, 'Malformed request body'));
      }
    }
    const root = `${this.url}${region === this.regions[0] ? '' : '/r2'}${iface === 'public' ? '' : `/${iface}`}/${service}`;
    const token = this.tokenOf(req);
    const ctx: Ctx = { service, method, path, query: url.searchParams, body, headers: req.headers, token, root, microversion: null };
    let reply: Reply;
    if (service !== 'identity' && !token) {
      // keystonemiddleware in front of every service.
      reply = keystoneError(401, 'The request you have made requires authentication.');
    } else {
      try {
        reply = this.route(ctx);
      } catch (err) {
        reply = errorFor(service, 500, `fake OpenStack bug: ${(err as Error).stack}`);
      }
    }
    if (rule?.kind === 'drop-after') {
      req.socket.destroy();
      return;
    }
    if (rule?.kind === 'garbage' && reply.status < 300) reply = { ...reply, body: { unexpected: [1, 2, 3] }, text: undefined };
    if (rule?.kind === 'no-microversion' && reply.headers) {
      const { 'OpenStack-API-Version': _a, ...rest } = reply.headers;
      reply = { ...reply, headers: rest };
    }
    this.send(res, entry, reply);
  }

  private tokenOf(req: IncomingMessage): TokenRecord | null {
    const value = req.headers['x-auth-token'];
    if (typeof value !== 'string') return null;
    const t = this.tokens.get(value);
    return t && t.expiresAt > Date.now() ? t : null;
  }

  private route(ctx: Ctx): Reply {
    switch (ctx.service) {
      case 'identity':
        return handleKeystone(this, ctx);
      case 'compute':
        return handleNova(this, ctx);
      case 'image':
        return handleGlance(this, ctx);
      case 'volume':
        return handleCinder(this, ctx);
      case 'network':
        return handleNeutron(this, ctx);
    }
  }

  private send(res: ServerResponse, entry: LoggedRequest, reply: Reply): void {
    entry.status = reply.status;
    if (res.destroyed || res.socket?.destroyed) return;
    const headers: Record<string, string> = { 'x-openstack-request-id': `req-${randomUUID()}`, ...(reply.headers ?? {}) };
    let payload = '';
    if (reply.text !== undefined) {
      payload = reply.text;
      headers['content-type'] ??= 'text/plain';
    } else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['content-type'] = 'application/json';
    }
    headers['content-length'] = String(Buffer.byteLength(payload));
    try {
      res.writeHead(reply.status, headers);
      res.end(payload);
    } catch {
      // the client went away
    }
  }
}

export async function startFakeOpenStack(opts: FakeOptions = {}): Promise<FakeOpenStack> {
  return new FakeOpenStack(opts).start();
}
