// Environment → one typed Config object, validated once at start (spec §1).
// A bad value stops the process with one line naming the variable.

import { isIP } from 'node:net';
import { trimTrailingSlashes } from '../shared/text.js';

export interface Config {
  databaseUrl: string;
  host: string;
  port: number;
  cloud: 'simulated' | 'openstack';
  simDelayMs: number;
  apiKeysFor: 'superusers' | 'all';
  apiKeyMaxDays: number;
  rateLimit: number;
  authFailLimit: number;
  redisUrl: string | null;
  dbPool: number;
  /** SQLite: answer the hot reads from memory while the database is unchanged (SIMPLEVM_READ_CACHE). */
  readCache: boolean;
  logLevel: string;
  /** How often the transition worker looks for due work, in ms. */
  workerPollMs: number;
  /** How long a worker's claim on a transition lasts before another may take it over, in ms. */
  leaseMs: number;
  /** Session lifetime in hours. */
  sessionHours: number;
  /**
   * Behind reverse proxies: which hops' X-Forwarded-For/-Proto to believe (client IP, HTTPS for
   * Secure cookies). `false`: none; a number: that many proxies in front; a list: the proxies'
   * addresses or CIDR ranges (Fastify's `trustProxy`, proxy-addr underneath).
   */
  trustProxy: false | number | string[];
  /** The portal's address as its users reach it (SIMPLEVM_PUBLIC_URL), without a trailing slash; null: links are relative. */
  publicUrl: string | null;
  /** Single sign-on with OpenID Connect; null when SIMPLEVM_OIDC_ISSUER is unset. */
  oidc: OidcConfig | null;
  /** Whether local accounts may log in with a password (POST /api/auth/login). */
  localLogin: boolean;
  /** Set when `cloud` is `openstack`, null otherwise. */
  openstack: OpenStackConfig | null;
}

export type OpenStackAuth =
  | { method: 'application_credential'; id: string; secret: string }
  | {
      method: 'password';
      username: string;
      password: string;
      /** The user's domain, by name or by id. */
      userDomain: { name: string } | { id: string };
      /** The project to scope the token to: by id, or by name within a domain (by name or id). */
      project: { id: string } | { name: string; domain: { name: string } | { id: string } };
    };

/** The standard OpenStack client variables (OS_*) and the portal's own (SIMPLEVM_OS_*). */
export interface OpenStackConfig {
  /** Keystone v3, e.g. `https://cloud.example.org:5000/v3` (a URL without `/v3` gets it appended). */
  authUrl: string;
  auth: OpenStackAuth;
  regionName: string | null;
  interface: 'public' | 'internal' | 'admin';
  /** The network new servers are attached to: a Neutron network id or name. */
  network: string;
  /** Only images with this Glance tag are offered (null: every active image). */
  imageTag: string | null;
  /** How long to wait between polls of a change in flight, in ms. */
  pollMs: number;
  /** How long a transition may take before it ends in ERROR, in ms. */
  transitionTimeoutMs: number;
  /** How long one HTTP request to the cloud may take, in ms. */
  requestTimeoutMs: number;
}

export interface OidcConfig {
  /** The provider's issuer identifier; its discovery document is at <issuer>/.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  /** Null for a public client (PKCE only, no client authentication). */
  clientSecret: string | null;
  /** The portal's callback as registered at the provider: …/api/auth/oidc/callback. */
  redirectUrl: string;
  /** Where the provider sends the browser after its end-session page (also registered there). */
  postLogoutUrl: string;
  /** The login button's label: "Log in with <name>". */
  name: string;
  /** Space-separated scopes to ask for; always includes `openid`. */
  scopes: string;
  /** A claim value that makes a user a superuser (`groups=simplevm-admins`); null: superuser is not managed by the provider. */
  superuserClaim: { name: string; value: string } | null;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** The OpenStack settings; every message names SIMPLEVM_CLOUD=openstack and the variable at fault. */
function loadOpenStack(env: Env): OpenStackConfig {
  const fail = (message: string): never => {
    throw new ConfigError(`SIMPLEVM_CLOUD=openstack: ${message}`);
  };
  const need = (name: string, why: string): string => text(env, name) ?? fail(`${name} must be set (${why})`);
  const authUrl = need('OS_AUTH_URL', 'the Keystone v3 URL, e.g. https://cloud.example.org:5000/v3');
  let parsed: URL | null = null;
  try {
    parsed = new URL(authUrl);
  } catch {
    parsed = null;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
    // Only the scheme is named: the URL may hold a password.
    fail(`OS_AUTH_URL must be an http:// or https:// URL, got one starting ${JSON.stringify(authUrl.split(':')[0].slice(0, 12))}`);
  }

  const authType = text(env, 'OS_AUTH_TYPE');
  if (authType !== null && !['v3applicationcredential', 'applicationcredential', 'v3password', 'password'].includes(authType)) {
    fail(`OS_AUTH_TYPE must be v3applicationcredential or v3password, got ${JSON.stringify(authType)}`);
  }
  const credId = text(env, 'OS_APPLICATION_CREDENTIAL_ID');
  const credSecret = text(env, 'OS_APPLICATION_CREDENTIAL_SECRET');
  const username = text(env, 'OS_USERNAME');
  // OS_AUTH_TYPE decides when set; otherwise an application credential, when one is given, wins.
  const useCredential = authType !== null ? authType.endsWith('applicationcredential') : credId !== null || credSecret !== null;
  let auth: OpenStackAuth;
  if (useCredential) {
    // The preferred method: an application credential carries its own project scope.
    if (credId === null) fail('OS_APPLICATION_CREDENTIAL_ID must be set together with OS_APPLICATION_CREDENTIAL_SECRET');
    if (credSecret === null) fail('OS_APPLICATION_CREDENTIAL_SECRET must be set together with OS_APPLICATION_CREDENTIAL_ID');
    auth = { method: 'application_credential', id: credId!, secret: credSecret! };
  } else {
    if (username === null) {
      fail('set OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET (preferred), or OS_USERNAME and OS_PASSWORD');
    }
    const password = env.OS_PASSWORD && env.OS_PASSWORD !== '' ? env.OS_PASSWORD : fail('OS_PASSWORD must be set together with OS_USERNAME');
    const userDomainName = text(env, 'OS_USER_DOMAIN_NAME');
    const userDomainId = text(env, 'OS_USER_DOMAIN_ID');
    if (userDomainName === null && userDomainId === null) fail('OS_USER_DOMAIN_NAME (or OS_USER_DOMAIN_ID) must be set with OS_USERNAME, e.g. Default');
    const projectId = text(env, 'OS_PROJECT_ID');
    const projectName = text(env, 'OS_PROJECT_NAME');
    let project: Extract<OpenStackAuth, { method: 'password' }>['project'];
    if (projectName !== null) {
      const domainName = text(env, 'OS_PROJECT_DOMAIN_NAME');
      const domainId = text(env, 'OS_PROJECT_DOMAIN_ID');
      if (domainName === null && domainId === null) fail('OS_PROJECT_DOMAIN_NAME (or OS_PROJECT_DOMAIN_ID) must be set with OS_PROJECT_NAME, e.g. Default');
      project = projectId !== null ? { id: projectId } : { name: projectName, domain: domainName !== null ? { name: domainName } : { id: domainId! } };
    } else if (projectId !== null) {
      project = { id: projectId };
    } else {
      project = fail('OS_PROJECT_NAME (or OS_PROJECT_ID) must be set with OS_USERNAME: the portal works in one project');
    }
    auth = {
      method: 'password',
      username: username!,
      password: password!,
      userDomain: userDomainName !== null ? { name: userDomainName } : { id: userDomainId! },
      project: project!,
    };
  }

  const network = need('SIMPLEVM_OS_NETWORK', 'the id or name of the network new servers are attached to');
  try {
    return {
      authUrl,
      auth,
      regionName: text(env, 'OS_REGION_NAME'),
      interface: oneOf(env, 'OS_INTERFACE', ['public', 'internal', 'admin'] as const, 'public'),
      network,
      imageTag: text(env, 'SIMPLEVM_OS_IMAGE_TAG'),
      pollMs: int(env, 'SIMPLEVM_OS_POLL_MS', 2000, 10, 60_000),
      transitionTimeoutMs: int(env, 'SIMPLEVM_OS_TIMEOUT_MS', 900_000, 1000, 86_400_000),
      requestTimeoutMs: int(env, 'SIMPLEVM_OS_REQUEST_TIMEOUT_MS', 20_000, 100, 600_000),
    };
  } catch (err) {
    return fail((err as Error).message);
  }
}

export function loadConfig(env: Env = process.env): Config {
  const cloud = oneOf(env, 'SIMPLEVM_CLOUD', ['simulated', 'openstack'] as const, 'simulated');
  const openstack = cloud === 'openstack' ? loadOpenStack(env) : null;
  const redisUrl = env.REDIS_URL && env.REDIS_URL !== '' ? env.REDIS_URL : null;
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    // Only the scheme is named: the URL may hold a password.
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got a URL starting ${JSON.stringify(redisUrl.split(':')[0].slice(0, 12))}`);
  }
  return {
    databaseUrl: env.DATABASE_URL && env.DATABASE_URL !== '' ? env.DATABASE_URL : './data/simplevm.sqlite',
    host: env.SIMPLEVM_HOST && env.SIMPLEVM_HOST !== '' ? env.SIMPLEVM_HOST : '127.0.0.1',
    port: int(env, 'SIMPLEVM_PORT', 8000, 0, 65535),
    cloud,
    simDelayMs: int(env, 'SIMPLEVM_SIM_DELAY_MS', 1500, 0, 3_600_000),
    apiKeysFor: oneOf(env, 'SIMPLEVM_API_KEYS_FOR', ['superusers', 'all'] as const, 'superusers'),
    apiKeyMaxDays: int(env, 'SIMPLEVM_API_KEY_MAX_DAYS', 365, 1, 3650),
    rateLimit: int(env, 'SIMPLEVM_RATE_LIMIT', 600, 0, 1_000_000),
    authFailLimit: int(env, 'SIMPLEVM_AUTH_FAIL_LIMIT', 20, 0, 1_000_000),
    redisUrl,
    dbPool: int(env, 'SIMPLEVM_DB_POOL', 10, 1, 1000),
    readCache: oneOf(env, 'SIMPLEVM_READ_CACHE', ['true', 'false'] as const, 'true') === 'true',
    logLevel: oneOf(env, 'SIMPLEVM_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    workerPollMs: int(env, 'SIMPLEVM_WORKER_POLL_MS', 100, 5, 60_000),
    leaseMs: int(env, 'SIMPLEVM_LEASE_MS', 10_000, 100, 3_600_000),
    sessionHours: int(env, 'SIMPLEVM_SESSION_HOURS', 12, 1, 24 * 90),
    trustProxy: trustProxyOf(env),
    publicUrl: publicUrlOf(env),
    openstack,
    ...loadOidc(env),
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** SIMPLEVM_TRUST_PROXY: `false`, a hop count, or proxy addresses/CIDR ranges separated by commas. */
function trustProxyOf(env: Env): false | number | string[] {
  const raw = (env.SIMPLEVM_TRUST_PROXY ?? '').trim();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') {
    // Trusting every hop lets any client write its own address into X-Forwarded-For.
    throw new ConfigError(
      'SIMPLEVM_TRUST_PROXY=true would believe any client\'s X-Forwarded-For; set the number of proxies in front (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)',
    );
  }
  if (/^\d+$/.test(raw)) return int(env, 'SIMPLEVM_TRUST_PROXY', 0, 1, 10);
  const entries = raw.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
      throw new ConfigError(`SIMPLEVM_TRUST_PROXY must be false, a number of proxies, or addresses/CIDR ranges separated by commas; ${JSON.stringify(entry.slice(0, 60))} is none of these`);
    }
  }
  return entries;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return false;
  if (slash === -1) return true;
  const bits = entry.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

/** SIMPLEVM_PUBLIC_URL: an absolute http(s) URL with no query or fragment; kept without a trailing slash. */
function publicUrlOf(env: Env): string | null {
  const raw = text(env, 'SIMPLEVM_PUBLIC_URL');
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SIMPLEVM_PUBLIC_URL must be an absolute URL, e.g. https://portal.example.org');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('SIMPLEVM_PUBLIC_URL must start with https:// or http://');
  if (url.search || url.hash || url.username || url.password) throw new ConfigError('SIMPLEVM_PUBLIC_URL must not have a query string, a fragment or credentials');
  return trimTrailingSlashes(url.href);
}

const OIDC_VARS = [
  'SIMPLEVM_OIDC_CLIENT_ID', 'SIMPLEVM_OIDC_CLIENT_SECRET', 'SIMPLEVM_OIDC_REDIRECT_URL', 'SIMPLEVM_OIDC_POST_LOGOUT_URL',
  'SIMPLEVM_OIDC_NAME', 'SIMPLEVM_OIDC_SCOPES', 'SIMPLEVM_OIDC_SUPERUSER_CLAIM',
] as const;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function text(env: Env, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? null : raw.trim();
}

/** An absolute http(s) URL; plain http only on this machine (a provider or portal under test). */
function httpUrl(name: string, value: string, opts: { query?: boolean } = {}): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an absolute https:// URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new ConfigError(`${name} must be an https:// URL (http:// only for localhost or 127.0.0.1), got one starting ${JSON.stringify(url.protocol)}`);
  }
  if (url.hash || (!opts.query && url.search)) throw new ConfigError(`${name} must not have a ${url.hash ? 'fragment' : 'query string'}`);
  return value;
}

function loadOidc(env: Env): { oidc: OidcConfig | null; localLogin: boolean } {
  const issuer = text(env, 'SIMPLEVM_OIDC_ISSUER');
  const localLogin = oneOf(env, 'SIMPLEVM_LOCAL_LOGIN', ['true', 'false'] as const, 'true') === 'true';
  if (!issuer) {
    const stray = OIDC_VARS.find((name) => text(env, name) !== null);
    if (stray) throw new ConfigError(`${stray} is set but SIMPLEVM_OIDC_ISSUER is not`);
    if (!localLogin) throw new ConfigError('SIMPLEVM_LOCAL_LOGIN=false needs single sign-on (SIMPLEVM_OIDC_ISSUER), or no one could log in');
    return { oidc: null, localLogin };
  }
  httpUrl('SIMPLEVM_OIDC_ISSUER', issuer);
  const clientId = text(env, 'SIMPLEVM_OIDC_CLIENT_ID');
  if (!clientId) throw new ConfigError('SIMPLEVM_OIDC_CLIENT_ID is required with SIMPLEVM_OIDC_ISSUER');
  const redirect = text(env, 'SIMPLEVM_OIDC_REDIRECT_URL');
  if (!redirect) throw new ConfigError('SIMPLEVM_OIDC_REDIRECT_URL is required with SIMPLEVM_OIDC_ISSUER (the portal\'s …/api/auth/oidc/callback)');
  const redirectUrl = httpUrl('SIMPLEVM_OIDC_REDIRECT_URL', redirect);
  const postLogout = text(env, 'SIMPLEVM_OIDC_POST_LOGOUT_URL');
  const postLogoutUrl = postLogout ? httpUrl('SIMPLEVM_OIDC_POST_LOGOUT_URL', postLogout, { query: true }) : new URL('/login', redirectUrl).href;

  const scopes = (text(env, 'SIMPLEVM_OIDC_SCOPES') ?? 'openid profile email').split(/\s+/);
  if (!scopes.includes('openid')) throw new ConfigError('SIMPLEVM_OIDC_SCOPES must include "openid"');
  if (scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) throw new ConfigError('SIMPLEVM_OIDC_SCOPES must be scope names separated by spaces');

  let superuserClaim: OidcConfig['superuserClaim'] = null;
  const claim = text(env, 'SIMPLEVM_OIDC_SUPERUSER_CLAIM');
  if (claim) {
    const at = claim.indexOf('=');
    const name = at > 0 ? claim.slice(0, at).trim() : '';
    const value = at > 0 ? claim.slice(at + 1).trim() : '';
    if (!name || !value || /[\r\n]/.test(claim)) {
      throw new ConfigError('SIMPLEVM_OIDC_SUPERUSER_CLAIM must be CLAIM=VALUE, e.g. groups=simplevm-admins');
    }
    superuserClaim = { name, value };
  }

  const name = text(env, 'SIMPLEVM_OIDC_NAME') ?? 'single sign-on';
  if (name.length > 100 || /[\r\n]/.test(name)) throw new ConfigError('SIMPLEVM_OIDC_NAME must be one line of at most 100 characters');

  return {
    oidc: {
      issuer,
      clientId,
      clientSecret: text(env, 'SIMPLEVM_OIDC_CLIENT_SECRET'),
      redirectUrl,
      postLogoutUrl,
      name,
      scopes: scopes.join(' '),
      superuserClaim,
    },
    localLogin,
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}
