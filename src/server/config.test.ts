// loadConfig: the defaults of spec §1, each variable parsed, and each bad value refused with a
// ConfigError that names the variable (so the process can stop with one line saying which).
import { describe, expect, it } from 'vitest';
import { ConfigError, isPostgresUrl, loadConfig } from './config.js';

describe('loadConfig defaults (spec §1)', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: './data/simplevm.sqlite',
      host: '127.0.0.1',
      port: 8000,
      cloud: 'simulated',
      simDelayMs: 1500,
      apiKeysFor: 'superusers',
      apiKeyMaxDays: 365,
      rateLimit: 600,
      authFailLimit: 20,
      redisUrl: null,
    });
    expect(c.leaseMs).toBeGreaterThan(0);
    expect(c.workerPollMs).toBeGreaterThan(0);
    expect(c.sessionHours).toBeGreaterThan(0);
  });

  it('treats an empty variable as unset', () => {
    const empty = Object.fromEntries(
      ['DATABASE_URL', 'SIMPLEVM_HOST', 'SIMPLEVM_PORT', 'SIMPLEVM_CLOUD', 'SIMPLEVM_SIM_DELAY_MS', 'SIMPLEVM_API_KEYS_FOR',
        'SIMPLEVM_API_KEY_MAX_DAYS', 'SIMPLEVM_RATE_LIMIT', 'SIMPLEVM_AUTH_FAIL_LIMIT', 'REDIS_URL'].map((k) => [k, '']),
    );
    expect(loadConfig(empty)).toEqual(loadConfig({}));
  });

  it('reads process.env when given no argument', () => {
    expect(loadConfig()).toEqual(loadConfig(process.env));
  });
});

describe('loadConfig parses each variable', () => {
  it('takes every documented variable', () => {
    const c = loadConfig({
      DATABASE_URL: '/var/lib/simplevm/db.sqlite',
      SIMPLEVM_HOST: '0.0.0.0',
      SIMPLEVM_PORT: '8080',
      SIMPLEVM_CLOUD: 'simulated',
      SIMPLEVM_SIM_DELAY_MS: '0',
      SIMPLEVM_API_KEYS_FOR: 'all',
      SIMPLEVM_API_KEY_MAX_DAYS: '30',
      SIMPLEVM_RATE_LIMIT: '0',
      SIMPLEVM_AUTH_FAIL_LIMIT: '0',
      REDIS_URL: 'redis://127.0.0.1:6379/0',
    });
    expect(c).toMatchObject({
      databaseUrl: '/var/lib/simplevm/db.sqlite',
      host: '0.0.0.0',
      port: 8080,
      cloud: 'simulated',
      simDelayMs: 0,
      apiKeysFor: 'all',
      apiKeyMaxDays: 30,
      rateLimit: 0,
      authFailLimit: 0,
      redisUrl: 'redis://127.0.0.1:6379/0',
    });
  });

  it.each([
    ['SIMPLEVM_PORT', '0', 'port', 0],
    ['SIMPLEVM_PORT', '65535', 'port', 65535],
    ['SIMPLEVM_PORT', ' 9000 ', 'port', 9000],
    ['SIMPLEVM_SIM_DELAY_MS', '25', 'simDelayMs', 25],
    ['SIMPLEVM_API_KEYS_FOR', 'superusers', 'apiKeysFor', 'superusers'],
    ['SIMPLEVM_API_KEY_MAX_DAYS', '1', 'apiKeyMaxDays', 1],
    ['SIMPLEVM_RATE_LIMIT', '120', 'rateLimit', 120],
    ['SIMPLEVM_AUTH_FAIL_LIMIT', '5', 'authFailLimit', 5],
    ['SIMPLEVM_WORKER_POLL_MS', '10', 'workerPollMs', 10],
    ['SIMPLEVM_LEASE_MS', '500', 'leaseMs', 500],
    ['SIMPLEVM_LOG_LEVEL', 'silent', 'logLevel', 'silent'],
    ['REDIS_URL', 'rediss://cache.example:6380', 'redisUrl', 'rediss://cache.example:6380'],
    ['DATABASE_URL', ':memory:', 'databaseUrl', ':memory:'],
    ['DATABASE_URL', 'postgres://u@db/simplevm', 'databaseUrl', 'postgres://u@db/simplevm'],
  ])('%s=%j → %s %j', (name, value, field, expected) => {
    expect(loadConfig({ [name]: value })[field as keyof ReturnType<typeof loadConfig>]).toEqual(expected);
  });

  it('tells PostgreSQL URLs from SQLite paths', () => {
    expect(isPostgresUrl('postgres://postgres@127.0.0.1:5432/postgres')).toBe(true);
    expect(isPostgresUrl('postgresql://u:p@db/x')).toBe(true);
    expect(isPostgresUrl('./data/simplevm.sqlite')).toBe(false);
    expect(isPostgresUrl(':memory:')).toBe(false);
    expect(isPostgresUrl('/tmp/postgres://x')).toBe(false);
  });
});

describe('loadConfig refuses bad values, naming the variable', () => {
  it.each([
    ['SIMPLEVM_PORT', 'abc'],
    ['SIMPLEVM_PORT', '-1'],
    ['SIMPLEVM_PORT', '65536'],
    ['SIMPLEVM_PORT', '80.5'],
    ['SIMPLEVM_PORT', '1e3'],
    ['SIMPLEVM_PORT', '0x50'],
    ['SIMPLEVM_PORT', ' '],
    ['SIMPLEVM_CLOUD', 'aws'],
    ['SIMPLEVM_CLOUD', 'Simulated'],
    ['SIMPLEVM_CLOUD', 'openstack'],
    ['SIMPLEVM_SIM_DELAY_MS', '-1'],
    ['SIMPLEVM_SIM_DELAY_MS', 'slow'],
    ['SIMPLEVM_SIM_DELAY_MS', '99999999999999999999'],
    ['SIMPLEVM_API_KEYS_FOR', 'some'],
    ['SIMPLEVM_API_KEYS_FOR', 'ALL'],
    ['SIMPLEVM_API_KEY_MAX_DAYS', '0'],
    ['SIMPLEVM_API_KEY_MAX_DAYS', 'forever'],
    ['SIMPLEVM_RATE_LIMIT', '-5'],
    ['SIMPLEVM_RATE_LIMIT', 'off'],
    ['SIMPLEVM_AUTH_FAIL_LIMIT', '2.5'],
    ['SIMPLEVM_LEASE_MS', '0'],
    ['SIMPLEVM_WORKER_POLL_MS', 'often'],
    ['SIMPLEVM_LOG_LEVEL', 'loud'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', '127.0.0.1:6379'],
  ])('%s=%j throws a ConfigError naming it', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
  });

  it('keeps the message on one line even when the value has a line break in it', () => {
    for (const name of ['SIMPLEVM_PORT', 'SIMPLEVM_CLOUD', 'SIMPLEVM_API_KEYS_FOR', 'REDIS_URL']) {
      let message = '';
      try {
        loadConfig({ [name]: 'bad\nvalue' });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message).toContain(name);
      expect(message).not.toMatch(/[\r\n]/);
    }
  });

  it('reports the first bad variable even when the others are fine', () => {
    expect(() => loadConfig({ SIMPLEVM_PORT: '8080', SIMPLEVM_API_KEYS_FOR: 'everyone', SIMPLEVM_CLOUD: 'simulated' })).toThrow(/SIMPLEVM_API_KEYS_FOR/);
  });
});
