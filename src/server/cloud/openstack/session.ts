// A thin client over fetch for OpenStack: a Keystone v3 token (application credential or password),
// renewed before it expires and once more when a service answers 401; each service's endpoint taken
// from the token's catalog by type, interface and region; microversion headers sent and checked;
// 5xx, 429, timeouts and dropped connections retried a couple of times with backoff; every answer
// checked against its schema.
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { OpenStackConfig } from '../../config.js';
import {
  OpenStackAuthError, OpenStackError, OpenStackHttpError, OpenStackResponseError, OpenStackUnavailableError, type ServiceName,
} from './errors.js';
import { type CatalogEntry, TokenBody } from './schemas.js';
import { trimTrailingSlashes } from '../../../shared/text.js';

export type ServiceType = 'compute' | 'image' | 'block-storage' | 'network';

/** Catalog types to look for, in order (`volumev3` is block-storage's older name). */
const CATALOG_TYPES: Record<ServiceType, string[]> = {
  compute: ['compute'],
  image: ['image'],
  'block-storage': ['block-storage', 'volumev3'],
  network: ['network'],
};

const SERVICE_NAME: Record<ServiceType, ServiceName> = {
  compute: 'Nova',
  image: 'Glance',
  'block-storage': 'Cinder',
  network: 'Neutron',
};

interface Token {
  value: string;
  /** Local clock, ms: when to stop using it (its lifetime measured on Keystone's clock, minus a margin). */
  renewAt: number;
  catalog: CatalogEntry[];
  projectId: string;
}

export interface SessionOptions {
  /** One attempt's time limit, ms. */
  requestTimeoutMs: number;
  /** Retries after a 5xx, 429, timeout or dropped connection (idempotent requests only). */
  retries?: number;
  /** Backoff before retry n (1, 2, …) is retryBaseMs · 3^(n-1). */
  retryBaseMs?: number;
}

export interface RequestOptions<S extends TSchema | undefined> {
  query?: Record<string, string | undefined> | URLSearchParams;
  body?: unknown;
  /** `compute 2.89`, `volume 3.42`: sent as OpenStack-API-Version and required back on success. */
  microversion?: string;
  /** The shape of a successful answer's body; undefined: the body is not read. */
  schema?: S;
  /**
   * Whether the request may be sent again after a 5xx or a lost connection. False for creates,
   * which the provider makes safe to repeat by looking for the object first.
   */
  idempotent?: boolean;
}

export interface Answer<T> {
  status: number;
  body: T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `https://host:5000` and `https://host:5000/v3/` both mean `https://host:5000/v3`. */
export function keystoneBase(authUrl: string): string {
  const trimmed = trimTrailingSlashes(authUrl);
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

/** The cloud's own message from an error body: Nova/Cinder `{"<fault>": {message}}`, Keystone `{"error": …}`, Neutron, or text. */
export function faultOf(text: string): { fault: string | null; message: string } {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const entries = Object.entries(body as Record<string, unknown>);
      if (entries.length === 1) {
        const [name, inner] = entries[0];
        if (inner && typeof inner === 'object' && typeof (inner as { message?: unknown }).message === 'string') {
          return { fault: name, message: (inner as { message: string }).message };
        }
      }
    }
  } catch {
    // not JSON: Glance answers errors as text
  }
  const plain = text.replace(/<[^<>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return { fault: null, message: plain.slice(0, 300) || '(no message)' };
}

/** The first difference between a value and its schema, as `/path: message`. */
function firstMismatch(schema: TSchema, value: unknown): string | null {
  if (Value.Check(schema, value)) return null;
  const first = Value.Errors(schema, value).First();
  return first ? `${first.path || '/'}: ${first.message}` : 'does not match';
}

export class OpenStackSession {
  private token: Token | null = null;
  private issuing: Promise<Token> | null = null;
  private readonly retries: number;
  private readonly retryBaseMs: number;

  constructor(private readonly config: OpenStackConfig, private readonly opts: SessionOptions) {
    this.retries = opts.retries ?? 2;
    this.retryBaseMs = opts.retryBaseMs ?? 300;
  }

  /** The project the token is scoped to. */
  async projectId(): Promise<string> {
    return (await this.currentToken()).projectId;
  }

  /** A token good for a while yet; at most one authentication runs at a time. */
  private async currentToken(): Promise<Token> {
    const t = this.token;
    if (t && Date.now() < t.renewAt) return t;
    return this.renewToken(t);
  }

  /** A new token, unless another request has already replaced `stale`. */
  private renewToken(stale: Token | null): Promise<Token> {
    if (this.token && this.token !== stale && Date.now() < this.token.renewAt) return Promise.resolve(this.token);
    this.issuing ??= this.issueToken().then(
      (t) => {
        this.token = t;
        this.issuing = null;
        return t;
      },
      (err: unknown) => {
        this.issuing = null;
        throw err;
      },
    );
    return this.issuing;
  }

  private authBody(): unknown {
    const auth = this.config.auth;
    if (auth.method === 'application_credential') {
      // The credential carries its project; Keystone refuses a scope next to it.
      return { auth: { identity: { methods: ['application_credential'], application_credential: { id: auth.id, secret: auth.secret } } } };
    }
    return {
      auth: {
        identity: { methods: ['password'], password: { user: { name: auth.username, domain: auth.userDomain, password: auth.password } } },
        scope: { project: auth.project },
      },
    };
  }

  private async issueToken(): Promise<Token> {
    const url = `${keystoneBase(this.config.authUrl)}/auth/tokens`;
    const res = await this.send('Keystone', 'POST', '/auth/tokens', url, {
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(this.authBody()),
    }, true);
    const text = res.text;
    if (res.status === 404) {
      throw new OpenStackAuthError('Keystone', 'POST', '/auth/tokens', 404, null, 'OS_AUTH_URL does not lead to a Keystone v3 API');
    }
    if (res.status === 401 || res.status === 403) {
      const { fault, message } = faultOf(text);
      throw new OpenStackAuthError('Keystone', 'POST', '/auth/tokens', res.status, fault, `the credentials were refused (${message})`);
    }
    if (res.status !== 201 && res.status !== 200) {
      const { fault, message } = faultOf(text);
      throw new OpenStackHttpError('Keystone', 'POST', '/auth/tokens', res.status, fault, message);
    }
    const value = res.headers.get('x-subject-token');
    if (!value) throw new OpenStackResponseError('Keystone POST /auth/tokens: the answer has no X-Subject-Token header', 'Keystone');
    const body = this.parse('Keystone', 'POST', '/auth/tokens', text, TokenBody);
    const issued = Date.parse(body.token.issued_at);
    const expires = Date.parse(body.token.expires_at);
    if (!Number.isFinite(issued) || !Number.isFinite(expires) || expires <= issued) {
      throw new OpenStackResponseError(`Keystone POST /auth/tokens: unreadable token lifetime ${body.token.issued_at} → ${body.token.expires_at}`, 'Keystone');
    }
    // Lifetime on Keystone's clock, counted from now on ours (no clock skew); renewed when a quarter
    // of it (at most five minutes) is left.
    const lifetime = expires - issued;
    const margin = Math.min(300_000, lifetime / 4);
    return { value, renewAt: res.sentAt + lifetime - margin, catalog: body.token.catalog, projectId: body.token.project.id };
  }

  /** The service's endpoint URL (no trailing slash) for the configured interface and region. */
  private endpoint(service: ServiceType, token: Token): string {
    const name = SERVICE_NAME[service];
    const region = this.config.regionName;
    for (const type of CATALOG_TYPES[service]) {
      const candidates = token.catalog
        .filter((e) => e.type === type)
        .flatMap((e) => e.endpoints)
        .filter((e) => e.interface === this.config.interface)
        .filter((e) => region === null || e.region_id === region || e.region === region);
      if (candidates.length === 0) continue;
      const regions = [...new Set(candidates.map((e) => e.region_id ?? e.region ?? ''))];
      if (regions.length > 1) {
        throw new OpenStackError(`the catalog offers ${name} (${type}) in several regions (${regions.join(', ')}): set OS_REGION_NAME`, name);
      }
      const url = trimTrailingSlashes(candidates[0].url);
      // Glance's and Neutron's paths carry their version (/v2/images, /v2.0/networks); some catalogs do too.
      return service === 'image' ? url.replace(/\/v2(\.\d+)?$/, '') : service === 'network' ? url.replace(/\/v2\.0$/, '') : url;
    }
    throw new OpenStackError(
      `the catalog has no ${CATALOG_TYPES[service].join(' or ')} endpoint with interface ${this.config.interface}${region ? ` in region ${region}` : ''} (OS_INTERFACE, OS_REGION_NAME)`,
      name,
    );
  }

  /** One HTTP exchange with retries on 5xx/429/timeouts/lost connections; the body read as text. */
  private async send(
    service: ServiceName,
    method: string,
    path: string,
    url: string,
    init: { headers: Record<string, string>; body?: string },
    idempotent: boolean,
  ): Promise<{ status: number; headers: Headers; text: string; sentAt: number }> {
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(this.retryBaseMs * 3 ** (attempt - 1));
      const sentAt = Date.now();
      try {
        const res = await fetch(url, { method, headers: init.headers, body: init.body, signal: AbortSignal.timeout(this.opts.requestTimeoutMs), redirect: 'error' });
        const text = await res.text();
        if (res.status >= 500 || res.status === 429) {
          lastProblem = `answered ${res.status}: ${faultOf(text).message}`;
        } else {
          return { status: res.status, headers: res.headers, text, sentAt };
        }
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        lastProblem = e.name === 'TimeoutError' ? `did not answer within ${this.opts.requestTimeoutMs} ms` : `could not be reached (${e.cause?.code ?? e.message})`;
      }
      if (!idempotent || attempt >= this.retries) {
        throw new OpenStackUnavailableError(`${service} ${method} ${path} ${lastProblem}${attempt > 0 ? ` (${attempt + 1} attempts)` : ''}`, service);
      }
    }
  }

  private parse<S extends TSchema>(service: ServiceName, method: string, path: string, text: string, schema: S): Static<S> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OpenStackResponseError(`${service} ${method} ${path}: the answer is not JSON (${JSON.stringify(text.slice(0, 80))})`, service);
    }
    const mismatch = firstMismatch(schema, body);
    if (mismatch) throw new OpenStackResponseError(`${service} ${method} ${path}: unexpected answer at ${mismatch}`, service);
    return body as Static<S>;
  }

  /**
   * A request to a service: `path` is relative to its endpoint (`/servers/…`). Answers 2xx as the
   * parsed body, throws OpenStackHttpError for 4xx, OpenStackUnavailableError when retries run out.
   */
  async request<S extends TSchema | undefined = undefined>(
    service: ServiceType,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    opts: RequestOptions<S> = {},
  ): Promise<Answer<S extends TSchema ? Static<S> : undefined>> {
    const name = SERVICE_NAME[service];
    const idempotent = opts.idempotent ?? true;
    const query = opts.query instanceof URLSearchParams ? opts.query : new URLSearchParams(
      Object.entries(opts.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const qs = query.toString();
    let token = await this.currentToken();
    for (let renewed = false; ; renewed = true) {
      const url = `${this.endpoint(service, token)}${path}${qs ? `?${qs}` : ''}`;
      const headers: Record<string, string> = { accept: 'application/json', 'x-auth-token': token.value };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      if (opts.microversion) headers['openstack-api-version'] = opts.microversion;
      const res = await this.send(name, method, path, url, { headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) }, idempotent);
      if (res.status === 401 && !renewed) {
        // Expired or revoked before its time: one new token, one more try.
        token = await this.renewToken(token);
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        const { fault, message } = faultOf(res.text);
        throw new OpenStackHttpError(name, method, path, res.status, fault, message);
      }
      if (opts.microversion) {
        const answered = (res.headers.get('openstack-api-version') ?? '').trim().replace(/\s+/g, ' ').toLowerCase();
        if (answered !== opts.microversion.toLowerCase()) {
          throw new OpenStackResponseError(
            `${name} ${method} ${path}: asked for microversion "${opts.microversion}", the answer says ${answered ? `"${answered}"` : 'nothing'}`,
            name,
          );
        }
      }
      const body = opts.schema ? this.parse(name, method, path, res.text, opts.schema) : undefined;
      return { status: res.status, body: body as S extends TSchema ? Static<S> : undefined };
    }
  }

  /**
   * Every item of a paginated list. A `next` link (Nova's `servers_links`, Glance's `next`) carries
   * the query of the following page; it is applied to our own endpoint, whatever host it names.
   */
  async list<S extends TSchema, T>(
    service: ServiceType,
    path: string,
    query: Record<string, string | undefined>,
    opts: { microversion?: string; schema: S; items: (body: Static<S>) => T[]; next: (body: Static<S>) => string | undefined },
  ): Promise<T[]> {
    const all: T[] = [];
    let params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    const seen = new Set<string>();
    for (let page = 0; page < 1000; page++) {
      const { body } = await this.request(service, 'GET', path, { query: params, microversion: opts.microversion, schema: opts.schema });
      const b = body as Static<S>;
      all.push(...opts.items(b));
      const next = opts.next(b);
      if (!next) return all;
      params = new URL(next, 'http://next.invalid').searchParams;
      const key = params.toString();
      if (seen.has(key) || opts.items(b).length === 0) return all;
      seen.add(key);
    }
    throw new OpenStackResponseError(`${SERVICE_NAME[service]} GET ${path}: more than 1000 pages`, SERVICE_NAME[service]);
  }
}

/** The `next` link among Nova's or Cinder's `*_links`. */
export const nextLink = (links: { href: string; rel: string }[] | undefined): string | undefined => links?.find((l) => l.rel === 'next')?.href;
