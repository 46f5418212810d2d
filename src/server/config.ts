// Environment → one typed Config object, validated once at start (spec §1).
// A bad value stops the process with one line naming the variable.

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
  logLevel: string;
  /** How often the transition worker looks for due work, in ms. */
  workerPollMs: number;
  /** How long a worker's claim on a transition lasts before another may take it over, in ms. */
  leaseMs: number;
  /** Session lifetime in hours. */
  sessionHours: number;
  /** Behind a reverse proxy: trust X-Forwarded-For/-Proto (client IP, HTTPS for Secure cookies). */
  trustProxy: boolean;
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

export function loadConfig(env: Env = process.env): Config {
  const cloud = oneOf(env, 'SIMPLEVM_CLOUD', ['simulated', 'openstack'] as const, 'simulated');
  if (cloud === 'openstack') {
    throw new ConfigError('SIMPLEVM_CLOUD=openstack is not available yet in this version; use "simulated"');
  }
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
    logLevel: oneOf(env, 'SIMPLEVM_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    workerPollMs: int(env, 'SIMPLEVM_WORKER_POLL_MS', 100, 5, 60_000),
    leaseMs: int(env, 'SIMPLEVM_LEASE_MS', 10_000, 100, 3_600_000),
    sessionHours: int(env, 'SIMPLEVM_SESSION_HOURS', 12, 1, 24 * 90),
    trustProxy: oneOf(env, 'SIMPLEVM_TRUST_PROXY', ['true', 'false'] as const, 'false') === 'true',
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}
