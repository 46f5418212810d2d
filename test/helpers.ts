// Test helpers: a real portal on a real database (SQLite in memory, or a fresh PostgreSQL
// database when TEST_DATABASE_URL is set), driven through real HTTP handling with inject().
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { hashPassword } from '../src/server/auth/passwords.js';
import { loadConfig } from '../src/server/config.js';
import { insertProject, upsertMembership } from '../src/server/modules/projects/projects.repository.js';
import { insertUser } from '../src/server/modules/users/users.repository.js';
import { type Portal, createPortal } from '../src/server/portal.js';
import { SCOPES } from '../src/shared/contract.js';
import { freshPgDatabase } from './pg.js';

export const PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | null = null;

/** A fresh, empty database URL: `:memory:` for SQLite, or a new PostgreSQL database. */
export async function freshDatabaseUrl(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return { url: ':memory:', drop: async () => {} };
  const { url, drop } = await freshPgDatabase('svm_test', base);
  return { url, drop };
}

export interface TestPortal extends Portal {
  http: Http;
  factory: Factory;
}

/** A portal with its worker running and short simulated transitions. */
/** `simFixedIp`: every simulated VM gets this address (a test's own server on 127.0.0.1, to reach a "VM" for real). */
export async function buildTestApp(env: Record<string, string> = {}, opts: { worker?: boolean; logStream?: { write(line: string): void }; simFixedIp?: string } = {}): Promise<TestPortal> {
  const fresh = env.DATABASE_URL ? { url: env.DATABASE_URL, drop: async () => {} } : await freshDatabaseUrl();
  const config = loadConfig({
    SIMPLEVM_SIM_DELAY_MS: '30',
    SIMPLEVM_WORKER_POLL_MS: '10',
    SIMPLEVM_LOG_LEVEL: 'silent',
    SIMPLEVM_API_KEYS_FOR: 'all',
    // Rate limits have their own tests; elsewhere they would only get in the way of many requests from 127.0.0.1.
    SIMPLEVM_RATE_LIMIT: '0',
    SIMPLEVM_AUTH_FAIL_LIMIT: '0',
    ...env,
    DATABASE_URL: fresh.url,
  });
  // The portal opens its database as `serve` does, and closes it with itself.
  const portal = await createPortal(config, { ...(opts.logStream ? { logStream: opts.logStream } : {}), ...(opts.simFixedIp ? { simFixedIp: opts.simFixedIp } : {}) });
  if (opts.worker !== false) portal.startWorker();
  const http = new Http(portal);
  const close = portal.close.bind(portal);
  return Object.assign(portal, {
    http,
    factory: new Factory(portal, http),
    close: async () => {
      await close();
      await fresh.drop();
    },
  });
}

/** Credentials to send: a session (cookie + CSRF token) or an API key; none for anonymous. */
export type As = { cookie: string; csrf: string } | { key: string } | { bearer: string } | null;

export interface Call {
  as?: As;
  body?: unknown;
  /** `json` (default) or `form` (as `curl -d` sends it). */
  form?: boolean;
  headers?: Record<string, string>;
}

export class Http {
  constructor(private readonly portal: Portal) {}

  async request(method: string, url: string, call: Call = {}): Promise<LightMyRequestResponse & { body: string; data: any }> {
    const headers: Record<string, string> = { ...(call.headers ?? {}) };
    const as = call.as;
    if (as && 'cookie' in as) {
      headers.cookie = as.cookie;
      headers['x-csrf-token'] = as.csrf;
    } else if (as && 'key' in as) headers['x-api-key'] = as.key;
    else if (as && 'bearer' in as) headers.authorization = `Bearer ${as.bearer}`;
    let payload: string | undefined;
    if (call.body !== undefined) {
      if (call.form) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(call.body as Record<string, unknown>)) {
          for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
        }
        payload = params.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else {
        payload = JSON.stringify(call.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const res = await this.portal.app.inject({ method: method as 'GET', url, headers, payload });
    let data: unknown = null;
    try {
      data = res.body ? JSON.parse(res.body) : null;
    } catch {
      data = null;
    }
    return Object.assign(res, { data });
  }

  get = (url: string, call?: Call) => this.request('GET', url, call);
  post = (url: string, call?: Call) => this.request('POST', url, call);
  delete = (url: string, call?: Call) => this.request('DELETE', url, call);
}

export interface TestUser {
  id: number;
  username: string;
  session: { cookie: string; csrf: string };
}

let seq = 0;
export const unique = (prefix: string) => `${prefix}${process.pid}x${++seq}x${randomBytes(3).toString('hex')}`;

/** Factories (STYLE §11): each test makes its own world. */
export class Factory {
  /** How long `waitFor` waits by default: a real cloud takes longer than the simulated one. */
  waitMs = 10_000;

  constructor(private readonly portal: Portal, private readonly http: Http) {}

  private get db() {
    return this.portal.ctx.db.kysely;
  }

  async user(opts: { superuser?: boolean; name?: string } = {}): Promise<TestUser> {
    passwordHash ??= hashPassword(PASSWORD);
    const username = opts.name ?? unique('user');
    const u = await insertUser(this.db, { username, passwordHash: await passwordHash, isSuperuser: opts.superuser ?? false, createdAt: new Date().toISOString() });
    const session = await this.login(username);
    return { id: u.id, username, session };
  }

  async login(username: string, password = PASSWORD): Promise<{ cookie: string; csrf: string }> {
    const res = await this.http.post('/api/auth/login', { body: { username, password } });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    const cookie = res.cookies.find((c) => c.name === 'simplevm_session');
    return { cookie: `simplevm_session=${cookie?.value}`, csrf: res.data.csrf_token };
  }

  async project(opts: { admins?: TestUser[]; members?: TestUser[]; quota?: Partial<{ vms: number; cores: number; ram_gb: number; volumes: number; volume_gb: number }> } = {}) {
    const p = await insertProject(this.db, {
      name: unique('project'),
      quota: { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500, ...(opts.quota ?? {}) },
      createdAt: new Date().toISOString(),
    });
    for (const u of opts.admins ?? []) await upsertMembership(this.db, p.id, u.id, 'admin');
    for (const u of opts.members ?? []) await upsertMembership(this.db, p.id, u.id, 'member');
    return p;
  }

  /** An API key made through the API, as a user would; returns the key and its record. */
  async key(user: TestUser, body: Record<string, unknown> = {}): Promise<{ key: string; id: number; prefix: string }> {
    const res = await this.http.post('/api/keys/', {
      as: user.session,
      body: { name: unique('key').slice(0, 50), scopes: ALL_SCOPES, ...body },
    });
    if (res.statusCode !== 201) throw new Error(`key create failed: ${res.statusCode} ${res.body}`);
    return { key: res.data.key, id: res.data.id, prefix: res.data.prefix };
  }

  async vm(user: TestUser, projectId: number, opts: { active?: boolean; flavor?: string } = {}) {
    const res = await this.http.post('/api/vms/', {
      as: user.session,
      body: { project_id: projectId, image_name: 'Ubuntu-22.04', flavor_name: opts.flavor ?? 'de.NBI tiny', vm_name: unique('vm') },
    });
    if (res.statusCode !== 201) throw new Error(`vm create failed: ${res.statusCode} ${res.body}`);
    if (opts.active !== false) await this.waitFor(user, `/api/vms/${res.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
    return res.data as { openstack_id: string; [k: string]: unknown };
  }

  async volume(user: TestUser, projectId: number, opts: { available?: boolean; storage?: number } = {}) {
    const res = await this.http.post('/api/volumes/', { as: user.session, body: { project_id: projectId, name: unique('vol'), storage: opts.storage ?? 1 } });
    if (res.statusCode !== 201) throw new Error(`volume create failed: ${res.statusCode} ${res.body}`);
    if (opts.available !== false) await this.waitFor(user, `/api/volumes/${res.data.openstack_id}/`, (d) => d.status === 'available');
    return res.data as { openstack_id: string; [k: string]: unknown };
  }

  /** Polls a GET until `done` holds for its body. */
  async waitFor(user: TestUser | As, url: string, done: (data: any) => boolean, timeoutMs = this.waitMs): Promise<any> {
    const as = user && 'session' in user ? user.session : (user as As);
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      const res = await this.http.get(url, { as });
      last = res.data;
      if (res.statusCode === 200 && done(res.data)) return res.data;
      await new Promise((r) => setTimeout(r, 15));
    }
    throw new Error(`timed out waiting on ${url}; last: ${JSON.stringify(last)}`);
  }
}

export const ALL_SCOPES: string[] = [...SCOPES];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
