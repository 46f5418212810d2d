// The real OpenStack cloud of scripts/openstack-dev.sh, for `npm run test:openstack`: its settings
// (the openrc files the script writes), a small admin client to look behind the portal's back
// (Nova's own server list, key pairs, user data; Keystone's tokens) and the script's per-service
// stop and start for faults. Nothing here talks to any host but 127.0.0.1's services.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'scripts', 'openstack-dev.sh');

/** The openrc of the real cloud when the suite is to run against it (set by `npm run test:openstack`). */
export const REAL_OPENRC = process.env.SIMPLEVM_TEST_OPENRC ?? null;

/** `export K='V'` lines → { K: V } (the script writes values without single quotes inside). */
export function readOpenrc(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)='([^']*)'$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/** The portal's settings for the real cloud, with quick polling (the fake hypervisor answers in about a second). */
export function realCloudEnv(openrc = REAL_OPENRC!): Record<string, string> {
  return { ...readOpenrc(openrc), SIMPLEVM_OS_POLL_MS: '250' };
}

/** Stops or starts services of the development cloud (`scripts/openstack-dev.sh stop|start NAME…`). */
export async function cloudServices(verb: 'stop' | 'start', ...names: string[]): Promise<void> {
  await promisify(execFile)('bash', [SCRIPT, verb, ...names], { timeout: 180_000 });
}

interface CatalogEntry { type: string; endpoints: { interface: string; url: string }[] }

/** The cloud's admin, through the real APIs. */
export class CloudAdmin {
  private token: string | null = null;
  private catalog: CatalogEntry[] = [];
  readonly env: Record<string, string>;

  constructor(openrc = REAL_OPENRC!) {
    this.env = readOpenrc(path.join(path.dirname(openrc), 'openrc-admin'));
  }

  get authUrl(): string {
    return this.env.OS_AUTH_URL;
  }

  /** A new token of the admin (also after Keystone was restarted). */
  async login(): Promise<string> {
    const res = await fetch(`${this.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: this.env.OS_USERNAME, domain: { name: 'Default' }, password: this.env.OS_PASSWORD } } },
          scope: { project: { name: this.env.OS_PROJECT_NAME, domain: { name: 'Default' } } },
        },
      }),
    });
    if (res.status !== 201) throw new Error(`admin login: ${res.status} ${await res.text()}`);
    this.token = res.headers.get('x-subject-token')!;
    this.catalog = ((await res.json()) as { token: { catalog: CatalogEntry[] } }).token.catalog;
    return this.token;
  }

  private endpoint(type: string): string {
    const e = this.catalog.find((c) => c.type === type)?.endpoints.find((x) => x.interface === 'public');
    if (!e) throw new Error(`no ${type} endpoint in the admin's catalog`);
    return e.url.replace(/\/$/, '');
  }

  async call(type: 'compute' | 'identity' | 'image' | 'block-storage', method: string, p: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; data: any }> {
    if (!this.token) await this.login();
    const base = type === 'identity' ? this.authUrl : this.endpoint(type);
    const res = await fetch(`${base}${p}`, {
      method,
      headers: {
        'x-auth-token': this.token!,
        'openstack-api-version': 'compute 2.90',
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON (204, or a plain text error)
    }
    return { status: res.status, data };
  }

  /** Nova's own servers (all projects) carrying `simplevm_id=<id>`, deleted ones left out. */
  async serversTagged(simplevmId: string): Promise<any[]> {
    const { status, data } = await this.call('compute', 'GET', '/servers/detail?all_tenants=1&limit=1000');
    if (status !== 200) throw new Error(`Nova server list: ${status}`);
    // A server being deleted can still be listed for a moment, as DELETED (vm_state `deleted`).
    return (data.servers as any[]).filter((s) => s.metadata?.simplevm_id === simplevmId && s.status !== 'DELETED' && s['OS-EXT-STS:vm_state'] !== 'deleted');
  }

  /** Whether nova-compute reports itself up. */
  async computeUp(): Promise<boolean> {
    const { data } = await this.call('compute', 'GET', '/os-services?binary=nova-compute');
    return (data.services as { state: string; status: string }[]).some((s) => s.state === 'up' && s.status === 'enabled');
  }

  /** Revokes a token, as its expiry would end it. */
  async revokeToken(token: string): Promise<number> {
    return (await this.call('identity', 'DELETE', '/auth/tokens', { headers: { 'x-subject-token': token } })).status;
  }
}

/** Polls `check` until it holds. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
