// Environment → one typed Config object, validated once at start (spec §1).
// A bad value stops the process with one line naming the variable.

import { isIP } from 'node:net';
import { KindGuard, type Static, type TInteger, type TLiteral, type TSchema, type TUnion, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { trimTrailingSlashes } from '../shared/text.js';

export interface Config {
  databaseUrl: string;
  host: string;
  port: number;
  cloud: 'simulated' | 'openstack';
  simDelayMs: number;
  apiKeysFor: 'superusers' | 'all';
  apiKeyMaxDays: number;
  /** `required`: a new key must be bound to a project (SIMPLEVM_API_KEY_PROJECT, spec §8). */
  apiKeyProject: 'optional' | 'required';
  /** `required`: a new key must be given its expiry (SIMPLEVM_API_KEY_EXPIRY, spec §8). */
  apiKeyExpiry: 'optional' | 'required';
  rateLimit: number;
  authFailLimit: number;
  redisUrl: string | null;
  dbPool: number;
  /** Answer the hot reads from memory while the database is unchanged; on PostgreSQL keep verified keys in memory (SIMPLEVM_READ_CACHE). */
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
  /** SIMPLEVM_SETUP_TIMEOUT_S: a setup that has not reported this long after ACTIVE shows as unknown. */
  setupTimeoutS: number;
  /** SIMPLEVM_CONDA_CATALOGUE: a conda package catalogue replacing the shipped one, or null. */
  condaCatalogue: string | null;
  /** SIMPLEVM_SSH_GATEWAY: the SSH gateway's host name, or null (VMs are reached on their own address). */
  sshGateway: string | null;
  sshPortBase: number;
  /** SIMPLEVM_RESENV_FILE: research environment templates replacing the built-in ones, or null. */
  resenvFile: string | null;
  /**
   * SIMPLEVM_RESENV_URL: the origin (`https://resenv.example.org`, no path) research environments are
   * served on, apart from the portal's; null: on the portal's own origin.
   */
  resenvUrl: string | null;
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

// How a variable's text becomes its value; each helper makes one kind of schema entry.
// - A whole number (Integer): digits, spaces around them allowed; only an empty value is unset,
//   a blank one is refused.
// - A choice (a Union of Literals, or a Boolean written `true`/`false`): as written.
// - Text (String): trimmed, and a blank value is unset, unless `verbatim` (a path or a password
//   may begin or end with a space): then as written, and only an empty value is unset.
// `default` is the value when unset; an entry without one is null when unset. `errorMessage`
// (the word ajv-errors uses) replaces the generic refusal where the rule needs its own words.
interface ReadOptions {
  description: string;
  verbatim?: boolean;
  errorMessage?: string;
}

const Whole = (minimum: number, maximum: number, fallback: number, description: string) =>
  Type.Optional(Type.Integer({ minimum, maximum, default: fallback, description }));

/** The union of the literal strings in T, typed as such (a mapped array loses the literals). */
type Choices<T extends string[]> = TUnion<{ [I in keyof T]: TLiteral<T[I]> }>;

const OneOf = <T extends string[]>(values: [...T], fallback: T[number] | null, options: ReadOptions) =>
  Type.Optional(
    Type.Union(values.map((value) => Type.Literal(value)), {
      verbatim: true,
      ...options,
      ...(fallback === null ? {} : { default: fallback }),
    }) as Choices<T>,
  );

const Flag = (fallback: boolean, description: string) => Type.Optional(Type.Boolean({ default: fallback, description }));

const Text = (options: ReadOptions & { default?: string; maxLength?: number; pattern?: string }) => Type.Optional(Type.String(options));

/**
 * The environment the server reads at start: every variable, its type, range, choices and
 * default, and what it is. loadConfig reads each one through this schema; what depends on more
 * than one variable (OpenID Connect settings need an issuer, OpenStack ones SIMPLEVM_CLOUD=openstack)
 * and what a schema cannot say (URL rules) are checked in code below. The README's configuration
 * table and docs/ list exactly these variables (test/config-docs.test.ts).
 */
export const Environment = Type.Object({
  DATABASE_URL: Text({
    description: 'postgres://… or postgresql://… selects PostgreSQL; anything else is a SQLite file path (:memory: allowed)',
    default: './data/simplevm.sqlite',
    verbatim: true,
  }),
  SIMPLEVM_HOST: Text({ description: 'The address the server listens on', default: '127.0.0.1', verbatim: true }),
  SIMPLEVM_PORT: Whole(0, 65535, 8000, 'The port the server listens on'),
  SIMPLEVM_PUBLIC_URL: Text({
    description: 'The portal\'s address as its users reach it, with the prefix a proxy may serve it under; list links are absolute on it. Unset: links are relative',
  }),
  SIMPLEVM_CLOUD: OneOf(['simulated', 'openstack'], 'simulated', { description: 'The cloud behind the portal: the built-in simulation or an OpenStack project' }),
  SIMPLEVM_SIM_DELAY_MS: Whole(0, 3_600_000, 1500, 'How long each simulated transition takes, in ms'),
  SIMPLEVM_API_KEYS_FOR: OneOf(['superusers', 'all'], 'superusers', { description: 'Who may create and use API keys: superusers (the beta setting) or all' }),
  SIMPLEVM_API_KEY_MAX_DAYS: Whole(1, 3650, 365, 'The longest lifetime a key may be given, in days'),
  SIMPLEVM_API_KEY_PROJECT: OneOf(['optional', 'required'], 'optional', {
    description: 'required: a new API key must be bound to a project (project_id), as on SimpleVM since 2026; rotation keeps a key\'s settings',
  }),
  SIMPLEVM_API_KEY_EXPIRY: OneOf(['optional', 'required'], 'optional', {
    description: 'required: a new API key must be given its expiry (expires_at) instead of the default lifetime',
  }),
  SIMPLEVM_RATE_LIMIT: Whole(0, 1_000_000, 600, 'Requests a minute per key and per session user; 0 turns the limit off'),
  SIMPLEVM_AUTH_FAIL_LIMIT: Whole(0, 1_000_000, 20, 'Failed authentications and leaked-key reports a minute per client IP; 0 turns the limit off'),
  REDIS_URL: Text({ description: 'redis:// or rediss:// URL of a Redis that shares the rate-limit counters across instances', verbatim: true }),
  SIMPLEVM_TRUST_PROXY: Text({
    description: 'Behind reverse proxies: their addresses or CIDR ranges separated by commas, or how many there are; only then is X-Forwarded-For believed. false: none',
    default: 'false',
  }),
  SIMPLEVM_SSH_GATEWAY: Text({
    description: 'The host name of the site\'s SSH gateway: a VM is then reached on it at port SIMPLEVM_SSH_PORT_BASE + 256 × the third + the fourth octet of its fixed IP. Unset: the VM\'s own address, port 22',
  }),
  SIMPLEVM_SSH_PORT_BASE: Whole(1, 65535, 30000, 'The first port of the SSH gateway\'s range (a VM whose port would pass 65535 shows no gateway line)'),
  SIMPLEVM_RESENV_FILE: Text({ description: 'A JSON file of research environment templates ([{"template", "title", "description", "port", "image_tag"}]) that replaces the built-in ones' }),
  SIMPLEVM_RESENV_URL: Text({
    description: 'The origin research environments are served on, a host name of their own (https://resenv.example.org, no path), so that a VM\'s pages cannot reach the portal\'s API; needs SIMPLEVM_PUBLIC_URL. Unset: on the portal\'s own origin',
  }),
  SIMPLEVM_SETUP_TIMEOUT_S: Whole(60, 7 * 86_400, 3600, 'How long after a VM is ACTIVE its first-boot setup may take to report before it shows as unknown, in seconds'),
  SIMPLEVM_CONDA_CATALOGUE: Text({ description: 'A JSON file of conda packages ([{"name", "versions", "channel"}]) that replaces the shipped bioconda catalogue of GET /api/conda/packages/' }),
  SIMPLEVM_DB_POOL: Whole(1, 1000, 10, 'PostgreSQL connections per instance'),
  SIMPLEVM_READ_CACHE: Flag(true, 'answer the hot reads (key checks, VM show and list) from memory while the database is unchanged, and on PostgreSQL keep verified keys in memory'),
  SIMPLEVM_LOG_LEVEL: OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', { description: 'The least severe log level written' }),
  SIMPLEVM_SESSION_HOURS: Whole(1, 24 * 90, 12, 'How long a web session lasts, in hours'),
  SIMPLEVM_WORKER_POLL_MS: Whole(5, 60_000, 100, 'How often the transition worker looks for due work, in ms'),
  SIMPLEVM_LEASE_MS: Whole(100, 3_600_000, 10_000, 'How long a worker\'s claim on a transition lasts before another instance may take it over, in ms'),

  SIMPLEVM_OIDC_ISSUER: Text({ description: 'Single sign-on: the OpenID Connect provider\'s issuer URL (https; http only on this machine); setting it turns single sign-on on' }),
  SIMPLEVM_OIDC_CLIENT_ID: Text({ description: 'The portal\'s client id at the provider; required with the issuer' }),
  SIMPLEVM_OIDC_CLIENT_SECRET: Text({ description: 'The client secret; unset for a public client (PKCE only)' }),
  SIMPLEVM_OIDC_REDIRECT_URL: Text({ description: 'The portal\'s callback, …/api/auth/oidc/callback, exactly as registered at the provider; required with the issuer' }),
  SIMPLEVM_OIDC_POST_LOGOUT_URL: Text({ description: 'Where the provider sends the browser after logging out. Unset: /login on the redirect URL\'s origin' }),
  SIMPLEVM_OIDC_NAME: Text({
    description: 'The login button\'s label: "Log in with <name>"',
    default: 'single sign-on',
    maxLength: 100,
    pattern: '^[^\\r\\n]*$',
    errorMessage: 'must be one line of at most 100 characters',
  }),
  SIMPLEVM_OIDC_SCOPES: Text({ description: 'The scopes to ask for, separated by spaces; must include openid', default: 'openid profile email' }),
  SIMPLEVM_OIDC_SUPERUSER_CLAIM: Text({ description: 'CLAIM=VALUE: a claim value that makes a user a superuser, e.g. groups=simplevm-admins. Unset: the provider does not manage superusers' }),
  SIMPLEVM_LOCAL_LOGIN: Flag(true, 'Whether local accounts may log in with a password; false needs single sign-on'),

  OS_AUTH_URL: Text({ description: 'OpenStack: the Keystone v3 URL, e.g. https://cloud.example.org:5000/v3; required with SIMPLEVM_CLOUD=openstack' }),
  OS_AUTH_TYPE: OneOf(['v3applicationcredential', 'applicationcredential', 'v3password', 'password'], null, {
    description: 'OpenStack: how to log in when both an application credential and a password are set. Unset: the application credential',
    verbatim: false,
    errorMessage: 'must be v3applicationcredential or v3password',
  }),
  OS_APPLICATION_CREDENTIAL_ID: Text({ description: 'OpenStack: the application credential\'s id (the preferred way to log in)' }),
  OS_APPLICATION_CREDENTIAL_SECRET: Text({ description: 'OpenStack: the application credential\'s secret' }),
  OS_USERNAME: Text({ description: 'OpenStack: the user to log in as with a password' }),
  OS_PASSWORD: Text({ description: 'OpenStack: that user\'s password', verbatim: true }),
  OS_USER_DOMAIN_NAME: Text({ description: 'OpenStack: the user\'s domain by name, e.g. Default' }),
  OS_USER_DOMAIN_ID: Text({ description: 'OpenStack: the user\'s domain by id, instead of by name' }),
  OS_PROJECT_ID: Text({ description: 'OpenStack: the project to work in, by id' }),
  OS_PROJECT_NAME: Text({ description: 'OpenStack: the project to work in, by name (with its domain)' }),
  OS_PROJECT_DOMAIN_NAME: Text({ description: 'OpenStack: the domain of the project named by OS_PROJECT_NAME, by name' }),
  OS_PROJECT_DOMAIN_ID: Text({ description: 'OpenStack: the domain of the project named by OS_PROJECT_NAME, by id' }),
  OS_REGION_NAME: Text({ description: 'OpenStack: the region whose endpoints to use. Unset: any, if there is only one' }),
  OS_INTERFACE: OneOf(['public', 'internal', 'admin'], 'public', { description: 'OpenStack: which endpoints of the catalogue to use' }),
  SIMPLEVM_OS_NETWORK: Text({ description: 'OpenStack: the id or name of the network new servers are attached to; required with SIMPLEVM_CLOUD=openstack' }),
  SIMPLEVM_OS_IMAGE_TAG: Text({ description: 'OpenStack: offer only the images with this Glance tag. Unset: every active image' }),
  SIMPLEVM_OS_POLL_MS: Whole(10, 60_000, 2000, 'OpenStack: how long to wait between polls of a change in flight, in ms'),
  SIMPLEVM_OS_TIMEOUT_MS: Whole(1000, 86_400_000, 900_000, 'OpenStack: how long a change may take before it ends in ERROR, in ms'),
  SIMPLEVM_OS_REQUEST_TIMEOUT_MS: Whole(100, 600_000, 20_000, 'OpenStack: how long one HTTP request to the cloud may take, in ms'),
}, { description: 'The environment variables the server reads at start' });

type Variable = keyof typeof Environment.properties;
/** A variable's value once read, as its schema types it. */
type Setting<K extends Variable> = Static<(typeof Environment.properties)[K]>;

/** A whole number from digits, within its schema's range. */
function wholeNumber(name: string, schema: TInteger, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (!Value.Check(schema, value)) throw new ConfigError(`${name} must be between ${schema.minimum} and ${schema.maximum}, got ${value}`);
  return value;
}

/** The variable's value as its schema declares it, or undefined when it is unset. */
function readVariable(env: Env, name: Variable): unknown {
  const schema: TSchema = Environment.properties[name];
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (KindGuard.IsInteger(schema)) return wholeNumber(name, schema, raw);
  if (KindGuard.IsBoolean(schema)) {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new ConfigError(`${name} must be one of true, false, got ${JSON.stringify(raw)}`);
  }
  const value = schema.verbatim === true ? raw : raw.trim();
  if (value === '') return undefined;
  if (Value.Check(schema, value)) return value;
  if (KindGuard.IsUnion(schema)) {
    const choices = schema.anyOf.map((literal) => String(literal.const)).join(', ');
    throw new ConfigError(`${name} ${schema.errorMessage ?? `must be one of ${choices}`}, got ${JSON.stringify(value)}`);
  }
  // Text is never quoted back: it may be a secret.
  throw new ConfigError(`${name} ${schema.errorMessage ?? 'is not valid'}`);
}

/** A variable that has a default: its value, or the default when unset. */
function setting<K extends Variable>(env: Env, name: K): Setting<K> {
  const fallback: unknown = Environment.properties[name].default;
  if (fallback === undefined) throw new Error(`${name} has no default: read it with settingOrNull()`);
  return (readVariable(env, name) ?? fallback) as Setting<K>;
}

/** A variable without a default: its value, or null when unset. */
function settingOrNull<K extends Variable>(env: Env, name: K): Setting<K> | null {
  if (Environment.properties[name].default !== undefined) throw new Error(`${name} has a default: read it with setting()`);
  return (readVariable(env, name) ?? null) as Setting<K> | null;
}

/** The OpenStack settings; every message names SIMPLEVM_CLOUD=openstack and the variable at fault. */
function loadOpenStack(env: Env): OpenStackConfig {
  try {
    return openStackOf(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`SIMPLEVM_CLOUD=openstack: ${err.message}`);
    throw err;
  }
}

function openStackOf(env: Env): OpenStackConfig {
  const fail = (message: string): never => {
    throw new ConfigError(message);
  };
  const need = (name: 'OS_AUTH_URL' | 'SIMPLEVM_OS_NETWORK', why: string): string => settingOrNull(env, name) ?? fail(`${name} must be set (${why})`);
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

  const authType = settingOrNull(env, 'OS_AUTH_TYPE');
  const credId = settingOrNull(env, 'OS_APPLICATION_CREDENTIAL_ID');
  const credSecret = settingOrNull(env, 'OS_APPLICATION_CREDENTIAL_SECRET');
  const username = settingOrNull(env, 'OS_USERNAME');
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
    const password = settingOrNull(env, 'OS_PASSWORD') ?? fail('OS_PASSWORD must be set together with OS_USERNAME');
    const userDomainName = settingOrNull(env, 'OS_USER_DOMAIN_NAME');
    const userDomainId = settingOrNull(env, 'OS_USER_DOMAIN_ID');
    if (userDomainName === null && userDomainId === null) fail('OS_USER_DOMAIN_NAME (or OS_USER_DOMAIN_ID) must be set with OS_USERNAME, e.g. Default');
    const projectId = settingOrNull(env, 'OS_PROJECT_ID');
    const projectName = settingOrNull(env, 'OS_PROJECT_NAME');
    let project: Extract<OpenStackAuth, { method: 'password' }>['project'];
    if (projectName !== null) {
      const domainName = settingOrNull(env, 'OS_PROJECT_DOMAIN_NAME');
      const domainId = settingOrNull(env, 'OS_PROJECT_DOMAIN_ID');
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
      password,
      userDomain: userDomainName !== null ? { name: userDomainName } : { id: userDomainId! },
      project,
    };
  }

  const network = need('SIMPLEVM_OS_NETWORK', 'the id or name of the network new servers are attached to');
  return {
    authUrl,
    auth,
    regionName: settingOrNull(env, 'OS_REGION_NAME'),
    interface: setting(env, 'OS_INTERFACE'),
    network,
    imageTag: settingOrNull(env, 'SIMPLEVM_OS_IMAGE_TAG'),
    pollMs: setting(env, 'SIMPLEVM_OS_POLL_MS'),
    transitionTimeoutMs: setting(env, 'SIMPLEVM_OS_TIMEOUT_MS'),
    requestTimeoutMs: setting(env, 'SIMPLEVM_OS_REQUEST_TIMEOUT_MS'),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const cloud = setting(env, 'SIMPLEVM_CLOUD');
  const openstack = cloud === 'openstack' ? loadOpenStack(env) : null;
  const redisUrl = settingOrNull(env, 'REDIS_URL');
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    // Only the scheme is named: the URL may hold a password.
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got a URL starting ${JSON.stringify(redisUrl.split(':')[0].slice(0, 12))}`);
  }
  return {
    databaseUrl: setting(env, 'DATABASE_URL'),
    host: setting(env, 'SIMPLEVM_HOST'),
    port: setting(env, 'SIMPLEVM_PORT'),
    cloud,
    simDelayMs: setting(env, 'SIMPLEVM_SIM_DELAY_MS'),
    apiKeysFor: setting(env, 'SIMPLEVM_API_KEYS_FOR'),
    apiKeyMaxDays: setting(env, 'SIMPLEVM_API_KEY_MAX_DAYS'),
    apiKeyProject: setting(env, 'SIMPLEVM_API_KEY_PROJECT'),
    apiKeyExpiry: setting(env, 'SIMPLEVM_API_KEY_EXPIRY'),
    rateLimit: setting(env, 'SIMPLEVM_RATE_LIMIT'),
    authFailLimit: setting(env, 'SIMPLEVM_AUTH_FAIL_LIMIT'),
    redisUrl,
    dbPool: setting(env, 'SIMPLEVM_DB_POOL'),
    readCache: setting(env, 'SIMPLEVM_READ_CACHE'),
    logLevel: setting(env, 'SIMPLEVM_LOG_LEVEL'),
    workerPollMs: setting(env, 'SIMPLEVM_WORKER_POLL_MS'),
    leaseMs: setting(env, 'SIMPLEVM_LEASE_MS'),
    sessionHours: setting(env, 'SIMPLEVM_SESSION_HOURS'),
    trustProxy: trustProxyOf(env),
    setupTimeoutS: setting(env, 'SIMPLEVM_SETUP_TIMEOUT_S'),
    condaCatalogue: settingOrNull(env, 'SIMPLEVM_CONDA_CATALOGUE'),
    sshGateway: settingOrNull(env, 'SIMPLEVM_SSH_GATEWAY'),
    sshPortBase: setting(env, 'SIMPLEVM_SSH_PORT_BASE'),
    resenvFile: settingOrNull(env, 'SIMPLEVM_RESENV_FILE'),
    publicUrl: publicUrlOf(env),
    resenvUrl: resenvUrlOf(env),
    openstack,
    ...loadOidc(env),
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
/** SIMPLEVM_TRUST_PROXY as a number of proxies in front. */
const PROXY_HOPS = Type.Integer({ minimum: 1, maximum: 10 });

/** SIMPLEVM_TRUST_PROXY: `false`, a hop count, or proxy addresses/CIDR ranges separated by commas. */
function trustProxyOf(env: Env): false | number | string[] {
  const raw = setting(env, 'SIMPLEVM_TRUST_PROXY');
  if (raw === 'false') return false;
  if (raw === 'true') {
    // Trusting every hop lets any client write its own address into X-Forwarded-For.
    throw new ConfigError(
      'SIMPLEVM_TRUST_PROXY=true would believe any client\'s X-Forwarded-For; set the number of proxies in front (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)',
    );
  }
  if (/^\d+$/.test(raw)) return wholeNumber('SIMPLEVM_TRUST_PROXY', PROXY_HOPS, raw);
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
  const raw = settingOrNull(env, 'SIMPLEVM_PUBLIC_URL');
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

/**
 * SIMPLEVM_RESENV_URL: an http(s) origin (no path, query or credentials), as `scheme://host[:port]`.
 * It needs SIMPLEVM_PUBLIC_URL, where its host sends a browser for a ticket, on another host name:
 * browsers do not keep cookies apart by port.
 */
function resenvUrlOf(env: Env): string | null {
  const raw = settingOrNull(env, 'SIMPLEVM_RESENV_URL');
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SIMPLEVM_RESENV_URL must be an absolute URL, e.g. https://resenv.example.org');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('SIMPLEVM_RESENV_URL must start with https:// or http://');
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new ConfigError('SIMPLEVM_RESENV_URL must be an origin only (scheme, host name, port): no path, query string, fragment or credentials');
  }
  const publicUrl = publicUrlOf(env);
  if (publicUrl === null) {
    throw new ConfigError('SIMPLEVM_RESENV_URL needs SIMPLEVM_PUBLIC_URL (the portal\'s own address, where a browser gets its ticket to an environment)');
  }
  if (new URL(publicUrl).hostname === url.hostname) {
    throw new ConfigError('SIMPLEVM_RESENV_URL must have another host name than SIMPLEVM_PUBLIC_URL (browsers do not keep cookies apart by port)');
  }
  return url.origin;
}

const OIDC_VARS = [
  'SIMPLEVM_OIDC_CLIENT_ID', 'SIMPLEVM_OIDC_CLIENT_SECRET', 'SIMPLEVM_OIDC_REDIRECT_URL', 'SIMPLEVM_OIDC_POST_LOGOUT_URL',
  'SIMPLEVM_OIDC_NAME', 'SIMPLEVM_OIDC_SCOPES', 'SIMPLEVM_OIDC_SUPERUSER_CLAIM',
] as const;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Set, for the rule that a variable needs another: present and not blank, valid or not. */
const isSet = (env: Env, name: string): boolean => (env[name] ?? '').trim() !== '';

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
  const issuer = settingOrNull(env, 'SIMPLEVM_OIDC_ISSUER');
  const localLogin = setting(env, 'SIMPLEVM_LOCAL_LOGIN');
  if (!issuer) {
    const stray = OIDC_VARS.find((name) => isSet(env, name));
    if (stray) throw new ConfigError(`${stray} is set but SIMPLEVM_OIDC_ISSUER is not`);
    if (!localLogin) throw new ConfigError('SIMPLEVM_LOCAL_LOGIN=false needs single sign-on (SIMPLEVM_OIDC_ISSUER), or no one could log in');
    return { oidc: null, localLogin };
  }
  httpUrl('SIMPLEVM_OIDC_ISSUER', issuer);
  const clientId = settingOrNull(env, 'SIMPLEVM_OIDC_CLIENT_ID');
  if (!clientId) throw new ConfigError('SIMPLEVM_OIDC_CLIENT_ID is required with SIMPLEVM_OIDC_ISSUER');
  const redirect = settingOrNull(env, 'SIMPLEVM_OIDC_REDIRECT_URL');
  if (!redirect) throw new ConfigError('SIMPLEVM_OIDC_REDIRECT_URL is required with SIMPLEVM_OIDC_ISSUER (the portal\'s …/api/auth/oidc/callback)');
  const redirectUrl = httpUrl('SIMPLEVM_OIDC_REDIRECT_URL', redirect);
  const postLogout = settingOrNull(env, 'SIMPLEVM_OIDC_POST_LOGOUT_URL');
  const postLogoutUrl = postLogout ? httpUrl('SIMPLEVM_OIDC_POST_LOGOUT_URL', postLogout, { query: true }) : new URL('/login', redirectUrl).href;

  const scopes = setting(env, 'SIMPLEVM_OIDC_SCOPES').split(/\s+/);
  if (!scopes.includes('openid')) throw new ConfigError('SIMPLEVM_OIDC_SCOPES must include "openid"');
  if (scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) throw new ConfigError('SIMPLEVM_OIDC_SCOPES must be scope names separated by spaces');

  let superuserClaim: OidcConfig['superuserClaim'] = null;
  const claim = settingOrNull(env, 'SIMPLEVM_OIDC_SUPERUSER_CLAIM');
  if (claim) {
    const at = claim.indexOf('=');
    const name = at > 0 ? claim.slice(0, at).trim() : '';
    const value = at > 0 ? claim.slice(at + 1).trim() : '';
    if (!name || !value || /[\r\n]/.test(claim)) {
      throw new ConfigError('SIMPLEVM_OIDC_SUPERUSER_CLAIM must be CLAIM=VALUE, e.g. groups=simplevm-admins');
    }
    superuserClaim = { name, value };
  }

  const name = setting(env, 'SIMPLEVM_OIDC_NAME');

  return {
    oidc: {
      issuer,
      clientId,
      clientSecret: settingOrNull(env, 'SIMPLEVM_OIDC_CLIENT_SECRET'),
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
