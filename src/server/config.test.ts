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
      apiKeyProject: 'optional',
      apiKeyExpiry: 'optional',
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
    ['SIMPLEVM_API_KEY_PROJECT', 'required', 'apiKeyProject', 'required'],
    ['SIMPLEVM_API_KEY_EXPIRY', 'required', 'apiKeyExpiry', 'required'],
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
    ['SIMPLEVM_API_KEY_PROJECT', 'always'],
    ['SIMPLEVM_API_KEY_EXPIRY', 'Required'],
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

describe('loadConfig: SIMPLEVM_RESENV_URL (research environments on a host of their own)', () => {
  const PUBLIC = { SIMPLEVM_PUBLIC_URL: 'https://portal.example.org' };

  it('is unset by default, and kept as an origin', () => {
    expect(loadConfig({}).resenvUrl).toBeNull();
    expect(loadConfig({ ...PUBLIC, SIMPLEVM_RESENV_URL: 'https://Resenv.Example.org/' }).resenvUrl).toBe('https://resenv.example.org');
    expect(loadConfig({ ...PUBLIC, SIMPLEVM_RESENV_URL: 'https://resenv.example.org:443' }).resenvUrl).toBe('https://resenv.example.org');
    expect(loadConfig({ SIMPLEVM_PUBLIC_URL: 'http://127.0.0.1:8000', SIMPLEVM_RESENV_URL: 'http://localhost:8000' }).resenvUrl).toBe('http://localhost:8000');
  });

  it.each([
    ['resenv.example.org', /must be an absolute URL/],
    ['ftp://resenv.example.org', /must start with https:\/\/ or http:\/\//],
    ['https://resenv.example.org/envs', /must be an origin only/],
    ['https://resenv.example.org/?a=1', /must be an origin only/],
    ['https://resenv.example.org/#x', /must be an origin only/],
    ['https://user:secret@resenv.example.org', /must be an origin only/],
    ['https://portal.example.org:8443', /another host name than SIMPLEVM_PUBLIC_URL/],
    ['https://resenv.example.org/\nx', /.+/],
  ])('%j stops the start with one line naming it', (value, message) => {
    let error: unknown;
    try {
      loadConfig({ ...PUBLIC, SIMPLEVM_RESENV_URL: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^SIMPLEVM_RESENV_URL /);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/[\r\n]/);
    expect((error as Error).message).not.toContain('secret');
  });

  it('needs SIMPLEVM_PUBLIC_URL, where the environments\' host sends a browser for its ticket', () => {
    expect(() => loadConfig({ SIMPLEVM_RESENV_URL: 'https://resenv.example.org' })).toThrow(/^SIMPLEVM_RESENV_URL needs SIMPLEVM_PUBLIC_URL/);
  });
});

describe('loadConfig: single sign-on (OpenID Connect) and local login', () => {
  const OIDC = {
    SIMPLEVM_OIDC_ISSUER: 'https://login.example.org/realms/research',
    SIMPLEVM_OIDC_CLIENT_ID: 'simplevm',
    SIMPLEVM_OIDC_REDIRECT_URL: 'https://portal.example.org/api/auth/oidc/callback',
  };
  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('is off by default, with password login on', () => {
    expect(loadConfig({})).toMatchObject({ oidc: null, localLogin: true });
  });

  it('takes the provider with defaults for the optional variables', () => {
    expect(loadConfig(OIDC).oidc).toEqual({
      issuer: OIDC.SIMPLEVM_OIDC_ISSUER,
      clientId: 'simplevm',
      clientSecret: null,
      redirectUrl: OIDC.SIMPLEVM_OIDC_REDIRECT_URL,
      postLogoutUrl: 'https://portal.example.org/login',
      name: 'single sign-on',
      scopes: 'openid profile email',
      superuserClaim: null,
    });
  });

  it('takes every variable', () => {
    const c = loadConfig({
      ...OIDC,
      SIMPLEVM_OIDC_CLIENT_SECRET: ' s3cret ',
      SIMPLEVM_OIDC_NAME: 'Helmholtz AAI',
      SIMPLEVM_OIDC_SCOPES: 'openid  profile email eduperson_entitlement',
      SIMPLEVM_OIDC_SUPERUSER_CLAIM: 'eduperson_entitlement=urn:geant:example.org:group:admins#login.example.org',
      SIMPLEVM_OIDC_POST_LOGOUT_URL: 'https://portal.example.org/login?bye=1',
      SIMPLEVM_LOCAL_LOGIN: 'false',
    });
    expect(c.localLogin).toBe(false);
    expect(c.oidc).toMatchObject({
      clientSecret: 's3cret',
      name: 'Helmholtz AAI',
      scopes: 'openid profile email eduperson_entitlement',
      // Split at the first "=": the value may hold more.
      superuserClaim: { name: 'eduperson_entitlement', value: 'urn:geant:example.org:group:admins#login.example.org' },
      postLogoutUrl: 'https://portal.example.org/login?bye=1',
    });
  });

  it('allows plain http only for a provider and portal on this machine', () => {
    const local = { SIMPLEVM_OIDC_ISSUER: 'http://127.0.0.1:9000', SIMPLEVM_OIDC_CLIENT_ID: 'c', SIMPLEVM_OIDC_REDIRECT_URL: 'http://localhost:8000/api/auth/oidc/callback' };
    expect(loadConfig(local).oidc?.issuer).toBe('http://127.0.0.1:9000');
    expect(refusal({ ...OIDC, SIMPLEVM_OIDC_ISSUER: 'http://login.example.org' })).toContain('SIMPLEVM_OIDC_ISSUER');
    expect(refusal({ ...OIDC, SIMPLEVM_OIDC_REDIRECT_URL: 'http://portal.example.org/api/auth/oidc/callback' })).toContain('SIMPLEVM_OIDC_REDIRECT_URL');
  });

  it.each([
    [{ SIMPLEVM_OIDC_ISSUER: 'login.example.org' }, 'SIMPLEVM_OIDC_ISSUER'],
    [{ SIMPLEVM_OIDC_ISSUER: 'ftp://login.example.org' }, 'SIMPLEVM_OIDC_ISSUER'],
    [{ SIMPLEVM_OIDC_CLIENT_ID: '' }, 'SIMPLEVM_OIDC_CLIENT_ID'],
    [{ SIMPLEVM_OIDC_REDIRECT_URL: '' }, 'SIMPLEVM_OIDC_REDIRECT_URL'],
    [{ SIMPLEVM_OIDC_REDIRECT_URL: '/api/auth/oidc/callback' }, 'SIMPLEVM_OIDC_REDIRECT_URL'],
    [{ SIMPLEVM_OIDC_REDIRECT_URL: 'https://portal.example.org/api/auth/oidc/callback?x=1' }, 'SIMPLEVM_OIDC_REDIRECT_URL'],
    [{ SIMPLEVM_OIDC_POST_LOGOUT_URL: 'https://portal.example.org/login#top' }, 'SIMPLEVM_OIDC_POST_LOGOUT_URL'],
    [{ SIMPLEVM_OIDC_SCOPES: 'profile email' }, 'SIMPLEVM_OIDC_SCOPES'],
    [{ SIMPLEVM_OIDC_SCOPES: 'openid "quoted"' }, 'SIMPLEVM_OIDC_SCOPES'],
    [{ SIMPLEVM_OIDC_SUPERUSER_CLAIM: 'groups' }, 'SIMPLEVM_OIDC_SUPERUSER_CLAIM'],
    [{ SIMPLEVM_OIDC_SUPERUSER_CLAIM: '=admins' }, 'SIMPLEVM_OIDC_SUPERUSER_CLAIM'],
    [{ SIMPLEVM_OIDC_SUPERUSER_CLAIM: 'groups=' }, 'SIMPLEVM_OIDC_SUPERUSER_CLAIM'],
    [{ SIMPLEVM_OIDC_NAME: 'x'.repeat(101) }, 'SIMPLEVM_OIDC_NAME'],
    [{ SIMPLEVM_OIDC_NAME: 'two\nlines' }, 'SIMPLEVM_OIDC_NAME'],
    [{ SIMPLEVM_LOCAL_LOGIN: 'no' }, 'SIMPLEVM_LOCAL_LOGIN'],
  ])('%j is refused, naming %s, on one line', (change, name) => {
    const message = refusal({ ...OIDC, ...change });
    expect(message).toContain(name);
    expect(message).not.toMatch(/[\r\n]/);
  });

  it('refuses provider settings without an issuer, and switching passwords off without single sign-on', () => {
    expect(refusal({ SIMPLEVM_OIDC_CLIENT_ID: 'simplevm' })).toBe('SIMPLEVM_OIDC_CLIENT_ID is set but SIMPLEVM_OIDC_ISSUER is not');
    expect(refusal({ SIMPLEVM_LOCAL_LOGIN: 'false' })).toContain('SIMPLEVM_LOCAL_LOGIN=false');
    expect(loadConfig({ SIMPLEVM_LOCAL_LOGIN: 'true' }).localLogin).toBe(true);
  });

  it('never puts the client secret in a message', () => {
    const message = refusal({ ...OIDC, SIMPLEVM_OIDC_CLIENT_SECRET: 'do-not-print-me', SIMPLEVM_OIDC_SCOPES: 'profile' });
    expect(message).not.toContain('do-not-print-me');
  });
});

describe('loadConfig with SIMPLEVM_CLOUD=openstack (issue 6)', () => {
  const CRED = {
    SIMPLEVM_CLOUD: 'openstack',
    OS_AUTH_URL: 'https://keystone.example.org:5000/v3',
    OS_APPLICATION_CREDENTIAL_ID: '423f19a4ac1e4f48bbb4180756e6eb6c',
    OS_APPLICATION_CREDENTIAL_SECRET: 'rEaqvJka48mpv',
    SIMPLEVM_OS_NETWORK: 'private',
  };
  const PASSWORD = {
    SIMPLEVM_CLOUD: 'openstack',
    OS_AUTH_URL: 'https://keystone.example.org:5000/v3',
    OS_USERNAME: 'portal',
    OS_PASSWORD: 'devstacker',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_NAME: 'simplevm',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    SIMPLEVM_OS_NETWORK: 'private',
  };
  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('takes an application credential, with the documented defaults', () => {
    const c = loadConfig(CRED);
    expect(c.cloud).toBe('openstack');
    expect(c.openstack).toEqual({
      authUrl: 'https://keystone.example.org:5000/v3',
      auth: { method: 'application_credential', id: CRED.OS_APPLICATION_CREDENTIAL_ID, secret: CRED.OS_APPLICATION_CREDENTIAL_SECRET },
      regionName: null,
      interface: 'public',
      network: 'private',
      imageTag: null,
      pollMs: 2000,
      transitionTimeoutMs: 900_000,
      requestTimeoutMs: 20_000,
    });
    expect(loadConfig({}).openstack).toBeNull();
  });

  it('takes a password with user, project and domains by name, and the optional variables', () => {
    const c = loadConfig({
      ...PASSWORD, OS_REGION_NAME: 'RegionOne', OS_INTERFACE: 'internal', SIMPLEVM_OS_IMAGE_TAG: 'simplevm',
      SIMPLEVM_OS_POLL_MS: '500', SIMPLEVM_OS_TIMEOUT_MS: '60000', SIMPLEVM_OS_REQUEST_TIMEOUT_MS: '5000',
    });
    expect(c.openstack).toMatchObject({
      auth: { method: 'password', username: 'portal', password: 'devstacker', userDomain: { name: 'Default' }, project: { name: 'simplevm', domain: { name: 'Default' } } },
      regionName: 'RegionOne', interface: 'internal', imageTag: 'simplevm', pollMs: 500, transitionTimeoutMs: 60_000, requestTimeoutMs: 5000,
    });
  });

  it('takes the ids an openrc file from Horizon sets (OS_PROJECT_ID, OS_*_DOMAIN_ID)', () => {
    const c = loadConfig({ ...PASSWORD, OS_USER_DOMAIN_NAME: '', OS_USER_DOMAIN_ID: 'default', OS_PROJECT_NAME: '', OS_PROJECT_DOMAIN_NAME: '', OS_PROJECT_ID: 'a6944d76' });
    expect(c.openstack?.auth).toMatchObject({ userDomain: { id: 'default' }, project: { id: 'a6944d76' } });
  });

  it('prefers the application credential when a password is set too, unless OS_AUTH_TYPE says otherwise', () => {
    expect(loadConfig({ ...PASSWORD, ...CRED }).openstack?.auth.method).toBe('application_credential');
    expect(loadConfig({ ...PASSWORD, ...CRED, OS_AUTH_TYPE: 'v3password' }).openstack?.auth.method).toBe('password');
    expect(loadConfig({ ...CRED, OS_AUTH_TYPE: 'v3applicationcredential' }).openstack?.auth.method).toBe('application_credential');
  });

  it.each([
    ['OS_AUTH_URL', 'unset', { ...CRED, OS_AUTH_URL: '' }],
    ['OS_AUTH_URL', 'without a scheme', { ...CRED, OS_AUTH_URL: 'keystone.example.org:5000' }],
    ['OS_AUTH_URL', 'not http(s)', { ...CRED, OS_AUTH_URL: 'ftp://keystone.example.org/v3' }],
    ['OS_APPLICATION_CREDENTIAL_SECRET', 'missing next to the id', { ...CRED, OS_APPLICATION_CREDENTIAL_SECRET: '' }],
    ['OS_APPLICATION_CREDENTIAL_ID', 'missing next to the secret', { ...CRED, OS_APPLICATION_CREDENTIAL_ID: '' }],
    ['OS_APPLICATION_CREDENTIAL_ID', 'absent with no password either', { SIMPLEVM_CLOUD: 'openstack', OS_AUTH_URL: CRED.OS_AUTH_URL, SIMPLEVM_OS_NETWORK: 'private' }],
    ['OS_PASSWORD', 'missing next to OS_USERNAME', { ...PASSWORD, OS_PASSWORD: '' }],
    ['OS_USER_DOMAIN_NAME', 'missing', { ...PASSWORD, OS_USER_DOMAIN_NAME: '' }],
    ['OS_PROJECT_NAME', 'missing', { ...PASSWORD, OS_PROJECT_NAME: '' }],
    ['OS_PROJECT_DOMAIN_NAME', 'missing', { ...PASSWORD, OS_PROJECT_DOMAIN_NAME: '' }],
    ['OS_APPLICATION_CREDENTIAL_ID', 'missing while OS_AUTH_TYPE asks for one', { ...PASSWORD, OS_AUTH_TYPE: 'v3applicationcredential' }],
    ['OS_AUTH_TYPE', 'of an unknown kind', { ...CRED, OS_AUTH_TYPE: 'token' }],
    ['OS_INTERFACE', 'not public, internal or admin', { ...CRED, OS_INTERFACE: 'private' }],
    ['SIMPLEVM_OS_NETWORK', 'unset', { ...CRED, SIMPLEVM_OS_NETWORK: '' }],
    ['SIMPLEVM_OS_POLL_MS', 'not a number', { ...CRED, SIMPLEVM_OS_POLL_MS: 'often' }],
    ['SIMPLEVM_OS_TIMEOUT_MS', 'too short', { ...CRED, SIMPLEVM_OS_TIMEOUT_MS: '10' }],
    ['SIMPLEVM_OS_REQUEST_TIMEOUT_MS', 'negative', { ...CRED, SIMPLEVM_OS_REQUEST_TIMEOUT_MS: '-1' }],
  ])('refuses %s %s with a ConfigError naming it', (name, _why, env) => {
    const message = refusal(env as Record<string, string>);
    expect(message).toContain(name);
    expect(message).toContain('SIMPLEVM_CLOUD=openstack');
    expect(message).not.toMatch(/[\r\n]/);
  });

  it('never puts a secret or a password in a message', () => {
    expect(refusal({ ...CRED, OS_APPLICATION_CREDENTIAL_ID: '', OS_APPLICATION_CREDENTIAL_SECRET: 'do-not-print-me' })).not.toContain('do-not-print-me');
    expect(refusal({ ...PASSWORD, OS_PASSWORD: 'do-not-print-me', OS_USER_DOMAIN_NAME: '' })).not.toContain('do-not-print-me');
    expect(refusal({ ...CRED, OS_AUTH_URL: 'htps://user:do-not-print-me@keystone.example.org\n' })).not.toMatch(/do-not-print-me|[\r\n]/);
  });
});
