// The OpenStack client (src/server/cloud/openstack/) against the fake OpenStack (test/fake-openstack/),
// a real HTTP server on 127.0.0.1: Keystone tokens by both methods, renewed before expiry and once
// after a 401; endpoints by type, interface and region; microversions sent and checked; Glance's
// `next` followed; answers of the wrong shape refused with context; 5xx, slow answers and dropped
// connections retried, creates never sent twice. Also checks that the fake answers as OpenStack does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GlanceApi } from '../src/server/cloud/openstack/glance.js';
import { NovaApi } from '../src/server/cloud/openstack/nova.js';
import { CinderApi } from '../src/server/cloud/openstack/cinder.js';
import {
  OpenStackAuthError, OpenStackError, OpenStackHttpError, OpenStackResponseError, OpenStackUnavailableError,
} from '../src/server/cloud/openstack/errors.js';
import { OpenStackSession, faultOf, keystoneBase } from '../src/server/cloud/openstack/session.js';
import { loadConfig } from '../src/server/config.js';
import { APP_CREDENTIAL, type FakeOpenStack, PROJECT, USER, startFakeOpenStack } from './fake-openstack/server.js';

let fake: FakeOpenStack;
beforeAll(async () => {
  fake = await startFakeOpenStack({ delayMs: 30 });
});
afterAll(() => fake.close());
afterEach(() => {
  fake.clearFaults();
  fake.tokenTtlMs = 3_600_000;
  fake.novaMaxVersion = '2.104';
});

/** A client session on the fake; `env` overrides the OS_* variables. */
function session(env: Record<string, string> = {}, opts: { retries?: number; requestTimeoutMs?: number } = {}) {
  const config = loadConfig(fake.env(env)).openstack!;
  const s = new OpenStackSession(config, { requestTimeoutMs: opts.requestTimeoutMs ?? 1000, retryBaseMs: 10, retries: opts.retries });
  return { s, nova: new NovaApi(s), glance: new GlanceApi(s), cinder: new CinderApi(s) };
}

const PASSWORD_ENV = {
  OS_APPLICATION_CREDENTIAL_ID: '',
  OS_APPLICATION_CREDENTIAL_SECRET: '',
  OS_USERNAME: USER.name,
  OS_PASSWORD: USER.password,
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_NAME: PROJECT.name,
  OS_PROJECT_DOMAIN_NAME: 'Default',
};

const since = (mark: number) => fake.log.slice(mark);

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('Keystone v3 tokens', () => {
  it('authenticates with an application credential and scopes to its project', async () => {
    const { s, nova } = session();
    expect(await s.projectId()).toBe(PROJECT.id);
    expect((await nova.listFlavors()).length).toBeGreaterThan(0);
  });

  it('authenticates with a password, user and project by name within their domains', async () => {
    const mark = fake.log.length;
    const { s, nova } = session(PASSWORD_ENV);
    expect(await s.projectId()).toBe(PROJECT.id);
    await nova.listFlavors();
    expect(since(mark).filter((r) => r.service === 'identity').map((r) => r.status)).toEqual([201]);
  });

  it('refuses wrong credentials with a clear, permanent error that names no secret', async () => {
    const { nova } = session({ OS_APPLICATION_CREDENTIAL_SECRET: 'wrong-secret-value' });
    const err = await failure(nova.listFlavors());
    expect(err).toBeInstanceOf(OpenStackAuthError);
    expect((err as OpenStackAuthError).status).toBe(401);
    expect(err.message).toMatch(/Keystone POST \/auth\/tokens answered 401.*credentials were refused/);
    expect(err.message).not.toContain('wrong-secret-value');
    expect(err.message).not.toContain(APP_CREDENTIAL.secret);
  });

  it('takes OS_AUTH_URL with or without /v3', () => {
    expect(keystoneBase('https://k.example.org:5000')).toBe('https://k.example.org:5000/v3');
    expect(keystoneBase('https://k.example.org:5000/v3/')).toBe('https://k.example.org:5000/v3');
    expect(keystoneBase('https://k.example.org/identity')).toBe('https://k.example.org/identity/v3');
  });

  it('renews a token before it expires, so that no request meets an expired one', async () => {
    fake.tokenTtlMs = 400;
    const { nova } = session();
    const mark = fake.log.length;
    const until = Date.now() + 1300;
    while (Date.now() < until) {
      await nova.listFlavors();
      await new Promise((r) => setTimeout(r, 40));
    }
    const log = since(mark);
    expect(log.filter((r) => r.service === 'identity' && r.status === 201).length).toBeGreaterThanOrEqual(3);
    expect(log.filter((r) => r.status === 401)).toEqual([]);
  });

  it('renews once when a token is revoked before its time, and the request succeeds', async () => {
    const { nova } = session();
    await nova.listFlavors();
    fake.revokeAllTokens();
    const mark = fake.log.length;
    expect((await nova.listFlavors()).length).toBeGreaterThan(0);
    expect(since(mark).map((r) => `${r.service} ${r.status}`)).toEqual(['compute 401', 'identity 201', 'compute 200']);
  });

  it('authenticates once for many requests at the same moment', async () => {
    const { nova } = session();
    const mark = fake.log.length;
    await Promise.all(Array.from({ length: 8 }, () => nova.listFlavors()));
    expect(since(mark).filter((r) => r.service === 'identity')).toHaveLength(1);
  });
});

describe('the catalog', () => {
  it('picks the endpoint of OS_INTERFACE', async () => {
    const { glance } = session({ OS_INTERFACE: 'internal' });
    const mark = fake.log.length;
    await glance.listImages({});
    expect(since(mark).filter((r) => r.service === 'image').every((r) => r.interface === 'internal')).toBe(true);
  });

  it('picks the region of OS_REGION_NAME, and asks for it when several regions offer a service', async () => {
    const two = await startFakeOpenStack({ regions: ['RegionOne', 'RegionTwo'] });
    try {
      const config = loadConfig(two.env({ OS_REGION_NAME: 'RegionTwo' })).openstack!;
      await new NovaApi(new OpenStackSession(config, { requestTimeoutMs: 1000 })).listFlavors();
      expect(two.log.filter((r) => r.service === 'compute').map((r) => r.region)).toEqual(['RegionTwo']);

      const unset = loadConfig(two.env({ OS_REGION_NAME: '' })).openstack!;
      const err = await failure(new NovaApi(new OpenStackSession(unset, { requestTimeoutMs: 1000 })).listFlavors());
      expect(err).toBeInstanceOf(OpenStackError);
      expect(err.message).toMatch(/several regions \(RegionOne, RegionTwo\): set OS_REGION_NAME/);

      const absent = loadConfig(two.env({ OS_REGION_NAME: 'RegionNine' })).openstack!;
      expect((await failure(new NovaApi(new OpenStackSession(absent, { requestTimeoutMs: 1000 })).listFlavors())).message)
        .toMatch(/no compute endpoint with interface public in region RegionNine/);
    } finally {
      await two.close();
    }
  });

  it('finds Cinder under block-storage (or volumev3) with the project id in its URL', async () => {
    const { cinder } = session();
    const id = await cinder.createVolume({ name: 'catalog-check', size: 1, metadata: {} });
    expect((await cinder.getVolume(id))?.size).toBe(1);
  });
});

describe('microversions', () => {
  it('sends compute 2.89 and volume 3.42 on every Nova and Cinder request', async () => {
    const { nova, cinder } = session();
    const mark = fake.log.length;
    await nova.listFlavors();
    await cinder.findVolumesByMetadata({ simplevm_id: 'none' });
    const log = since(mark).filter((r) => r.service !== 'identity');
    expect(log.map((r) => r.microversion)).toEqual(['compute 2.89', 'volume 3.42']);
  });

  it('reports a Nova that does not offer 2.89 (406) with Nova\'s own words', async () => {
    fake.novaMaxVersion = '2.88';
    const err = await failure(session().nova.listFlavors());
    expect(err).toBeInstanceOf(OpenStackHttpError);
    expect((err as OpenStackHttpError).status).toBe(406);
    expect(err.message).toContain('Version 2.89 is not supported by the API. Minimum is 2.1 and maximum is 2.88.');
  });

  it('refuses an answer that does not confirm the microversion', async () => {
    fake.inject({ service: 'compute', kind: 'no-microversion', times: 1 });
    const err = await failure(session().nova.listFlavors());
    expect(err).toBeInstanceOf(OpenStackResponseError);
    expect(err.message).toMatch(/Nova GET \/flavors\/detail: asked for microversion "compute 2.89", the answer says nothing/);
  });
});

describe('answers checked at run time', () => {
  it('refuses a body of the wrong shape with the request and the field', async () => {
    fake.inject({ service: 'compute', path: /\/flavors\/detail$/, kind: 'garbage', times: 1 });
    const err = await failure(session().nova.listFlavors());
    expect(err).toBeInstanceOf(OpenStackResponseError);
    expect(err.message).toMatch(/^Nova GET \/flavors\/detail: unexpected answer at \/flavors: /);
  });

  it('follows Glance\'s next links to the last page', async () => {
    const { glance } = session();
    const mark = fake.log.length;
    const images = await glance.listImages({});
    const pages = since(mark).filter((r) => r.service === 'image');
    expect(pages.length).toBeGreaterThan(2);
    expect(new Set(images.map((i) => i.id)).size).toBe(images.length);
    expect(images.length).toBe([...fake.images.values()].filter((i) => i.visibility === 'public' || i.owner === PROJECT.id).length);
  });

  it('reads the cloud\'s own message from error bodies of every service', () => {
    expect(faultOf('{"conflictingRequest": {"code": 409, "message": "Cannot \'stop\' instance x"}}')).toEqual({ fault: 'conflictingRequest', message: "Cannot 'stop' instance x" });
    expect(faultOf('{"error": {"code": 401, "title": "Unauthorized", "message": "No"}}')).toEqual({ fault: 'error', message: 'No' });
    expect(faultOf('404 Not Found\n\nNo image found with ID x\n\n   ')).toEqual({ fault: null, message: '404 Not Found No image found with ID x' });
  });
});

describe('faults: retries with backoff, then a clear error', () => {
  it('retries a 503 and succeeds when the service recovers', async () => {
    fake.inject({ service: 'compute', kind: 'status', status: 503, times: 2 });
    const mark = fake.log.length;
    expect((await session().nova.listFlavors()).length).toBeGreaterThan(0);
    expect(since(mark).filter((r) => r.service === 'compute').map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after its retries with OpenStackUnavailableError naming the service and the request', async () => {
    fake.inject({ service: 'image', kind: 'status', status: 500 });
    const err = await failure(session().glance.listImages({}));
    expect(err).toBeInstanceOf(OpenStackUnavailableError);
    expect(err.message).toMatch(/^Glance GET \/v2\/images answered 500: .*\(3 attempts\)$/);
  });

  it('retries a dropped connection and a slow answer', async () => {
    fake.inject({ service: 'compute', kind: 'drop', times: 1 });
    fake.inject({ service: 'compute', kind: 'slow', delayMs: 600, times: 1 });
    const mark = fake.log.length;
    expect((await session({}, { requestTimeoutMs: 300 }).nova.listFlavors()).length).toBeGreaterThan(0);
    expect(since(mark).filter((r) => r.service === 'compute')).toHaveLength(3);
  });

  it('says which service timed out', async () => {
    fake.inject({ service: 'volume', kind: 'slow', delayMs: 500 });
    const err = await failure(session({}, { requestTimeoutMs: 100, retries: 0 }).cinder.getVolume('x'));
    expect(err).toBeInstanceOf(OpenStackUnavailableError);
    expect(err.message).toBe('Cinder GET /volumes/x did not answer within 100 ms');
  });

  it('never sends a create twice: a lost answer is an error, the server exists once', async () => {
    const { nova } = session();
    const [flavor] = await nova.listFlavors();
    const image = [...fake.images.values()].find((i) => i.status === 'active')!;
    const network = fake.networks[0].id;
    fake.inject({ service: 'compute', method: 'POST', path: /\/servers$/, kind: 'drop-after', times: 1 });
    const err = await failure(nova.createServer({ name: 'lost-answer', imageRef: image.id, flavorRef: flavor.id, networkId: network, metadata: { simplevm_id: 'lost-1' }, userData: '#cloud-config\n{}\n', keyName: null }));
    expect(err).toBeInstanceOf(OpenStackUnavailableError);
    expect(fake.serverTagged('lost-1')).toHaveLength(1);
    expect((await nova.findServersByName('lost-answer')).map((s) => s.metadata.simplevm_id)).toEqual(['lost-1']);
  });
});

describe('the fake answers as OpenStack does', () => {
  // A slower fake of its own, so that a test sees each intermediate state before it passes.
  let slow: FakeOpenStack;
  let token: string;
  beforeAll(async () => {
    slow = await startFakeOpenStack({ delayMs: 400 });
    const res = await fetch(`${slow.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['application_credential'], application_credential: { id: APP_CREDENTIAL.id, secret: APP_CREDENTIAL.secret } } } }),
    });
    expect(res.status).toBe(201);
    token = res.headers.get('x-subject-token')!;
  });
  afterAll(() => slow.close());

  async function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${slow.url}${path}`, {
      method,
      headers: { 'x-auth-token': token, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  /** Polls a GET until `done` holds for its answer. */
  async function until(path: string, headers: Record<string, string>, done: (r: Awaited<ReturnType<typeof raw>>) => boolean) {
    const end = Date.now() + 5000;
    for (;;) {
      const r = await raw('GET', path, undefined, headers);
      if (done(r)) return r;
      if (Date.now() > end) throw new Error(`timed out on ${path}: ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  it('answers 401 without a token, 404 itemNotFound, 406 computeFault, and the version headers', async () => {
    expect((await fetch(`${slow.url}/compute/v2.1/flavors/detail`)).status).toBe(401);
    const missing = await raw('GET', '/compute/v2.1/servers/4a3f1c52-0000-4000-8000-000000000000', undefined, { 'openstack-api-version': 'compute 2.100' });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ itemNotFound: { code: 404, message: 'Instance 4a3f1c52-0000-4000-8000-000000000000 could not be found.' } });
    expect(missing.headers.get('openstack-api-version')).toBe('compute 2.100');
    const tooNew = await raw('GET', '/compute/v2.1/flavors/detail', undefined, { 'openstack-api-version': 'compute 2.200' });
    expect(tooNew.status).toBe(406);
    expect(Object.keys(tooNew.body)).toEqual(['computeFault']);
  });

  it('walks a server through Nova\'s states and answers 409 conflictingRequest where Nova does', async () => {
    const mv = { 'openstack-api-version': 'compute 2.100' };
    const flavor = slow.flavors[0];
    const image = [...slow.images.values()].find((i) => i.name === 'Ubuntu-22.04')!;
    const noNetworks = await raw('POST', '/compute/v2.1/servers', { server: { name: 'raw', imageRef: image.id, flavorRef: flavor.id } }, mv);
    expect(noNetworks.status).toBe(400);
    const created = await raw('POST', '/compute/v2.1/servers', { server: { name: 'raw', imageRef: image.id, flavorRef: flavor.id, networks: [{ uuid: slow.networks[0].id }] } }, mv);
    expect(created.status).toBe(202);
    const id = created.body.server.id;
    const url = `/compute/v2.1/servers/${id}`;
    const building = await raw('GET', url, undefined, mv);
    expect(building.body.server).toMatchObject({ status: 'BUILD', 'OS-EXT-STS:vm_state': 'building', addresses: {} });
    const early = await raw('POST', `${url}/action`, { 'os-stop': null }, mv);
    expect(early.status).toBe(409);
    expect(early.body.conflictingRequest.message).toMatch(new RegExp(`^Cannot 'stop' instance ${id} while it is in task_state (scheduling|spawning)$`));
    const active = await until(url, mv, (r) => r.body.server.status === 'ACTIVE');
    expect(active.body.server).toMatchObject({ 'OS-EXT-STS:task_state': null, flavor: { original_name: flavor.name } });
    expect(Object.values(active.body.server.addresses).flat()).toHaveLength(1);
    // Fields come and go with the microversion, as in Nova's views.
    expect(active.body.server).toHaveProperty('scheduler_hints');
    const older = (await raw('GET', url, undefined, { 'openstack-api-version': 'compute 2.89' })).body.server;
    expect(older).not.toHaveProperty('scheduler_hints');
    expect(older).not.toHaveProperty('pinned_availability_zone');
    expect(older.image).not.toHaveProperty('properties');
    expect((await raw('POST', `${url}/action`, { 'os-start': null }, mv)).body.conflictingRequest.message)
      .toBe(`Cannot 'start' instance ${id} while it is in vm_state active`);
    expect((await raw('POST', `${url}/action`, { reboot: { type: 'HARD' } }, mv)).status).toBe(202);
    expect((await raw('GET', url, undefined, mv)).body.server.status).toBe('HARD_REBOOT');
    await until(url, mv, (r) => r.body.server.status === 'ACTIVE');
    expect((await raw('DELETE', url, undefined, mv)).status).toBe(204);
    expect((await raw('GET', url, undefined, mv)).body.server['OS-EXT-STS:task_state']).toBe('deleting');
    await until(url, mv, (r) => r.status === 404);
  });

  it('keeps Cinder\'s rules: extend only to a larger size, delete only when available', async () => {
    const mv = { 'openstack-api-version': 'volume 3.69' };
    const base = `/volume/v3/${PROJECT.id}/volumes`;
    const v = await raw('POST', base, { volume: { size: 2, name: 'rules' } }, mv);
    expect(v.status).toBe(202);
    expect(v.body.volume.status).toBe('creating');
    expect(v.body.volume).toHaveProperty('volume_type_id');
    expect((await raw('GET', `${base}/${v.body.volume.id}`, undefined, { 'openstack-api-version': 'volume 3.42' })).body.volume).not.toHaveProperty('volume_type_id');
    const url = `${base}/${v.body.volume.id}`;
    await until(url, mv, (r) => r.body.volume.status === 'available');
    const same = await raw('POST', `${url}/action`, { 'os-extend': { new_size: 2 } }, mv);
    expect(same.status).toBe(400);
    expect(same.body.badRequest.message).toMatch(/New size for extend must be greater than current size/);
    expect((await raw('POST', `${url}/action`, { 'os-extend': { new_size: 3 } }, mv)).status).toBe(202);
    expect((await raw('DELETE', url, undefined, mv)).body.badRequest.message).toMatch(/^Invalid volume: Volume status must be available/);
    expect((await until(url, mv, (r) => r.body.volume.status === 'available')).body.volume.size).toBe(3);
    expect((await raw('DELETE', url, undefined, mv)).status).toBe(202);
    await until(url, mv, (r) => r.status === 404);
  });
});
