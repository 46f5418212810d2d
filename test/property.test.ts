// Property-based tests (fast-check) derived from the API's own OpenAPI document: for every
// operation of GET /api/openapi.json, requests are built from its parameter and body schemas,
// first with valid values, then with one mutation each (a required field dropped, a wrong type,
// a number out of range, a huge or control-character string, extra fields, another content type,
// form instead of JSON, an odd path id, a repeated field, a body that is not JSON). They are sent
// as a superuser's web session (with CSRF), as a key with every scope, and anonymously. Properties:
// no answer is a 5xx; every error is JSON with a string `detail` and a known `code` that matches
// the status (and an object `errors` when present); and a rejected request (4xx) changes nothing
// in the database. The transition worker does not run, so between two requests nothing moves on
// its own. Each kind of caller has a portal and database of its own, so the three run side by
// side while each checks its database request by request.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../src/server/modules/sessions/sessions.verify.js';
import { checksumOf } from '../src/server/auth/key-format.js';
import { randomToken, sha256Hex } from '../src/server/auth/tokens.js';
import { ERROR_STATUS } from '../src/server/errors.js';
import { AUDIT_ACTIONS } from '../src/shared/contract.js';
import { insertSession } from '../src/server/modules/sessions/sessions.repository.js';
import { ALL_SCOPES, PASSWORD, type TestPortal, type TestUser, buildTestApp, sleep, unique } from './helpers.js';

/** Runs per property; 3 callers × (valid + mutated) ≥ 10,000 requests in all. */
const VALID_RUNS = 1_100;
const MUTATED_RUNS = 2_300;
/** Fixed seeds keep every run identical; FC_SEED explores others (a failure prints its seed). */
const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : 0x51e7e;

// ---------------------------------------------------------------------------------------------
// The OpenAPI document, as far as requests go.
// ---------------------------------------------------------------------------------------------

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  nullable?: boolean;
  $ref?: string;
}

interface Param {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Schema;
}

interface Operation {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** The documented path, e.g. `/api/vms/{openstack_id}`. */
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  body: Schema | null;
}

interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}

function operationsOf(doc: OpenApi): Operation[] {
  const resolve = (s: Schema | undefined): Schema | undefined => (s?.$ref ? doc.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')] : s);
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'delete', 'put', 'patch'].includes(method)) continue;
      const params = (op.parameters ?? []).map((p) => ({ ...p, schema: resolve(p.schema) ?? {} }));
      const name = `${method.toUpperCase()} ${path}`;
      ops.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: resolve(op.requestBody?.content?.['application/json']?.schema) ?? null,
        // A counterexample names the operation instead of printing its schemas.
        [fc.toStringMethod]: () => name,
      } as Operation);
    }
  }
  return ops;
}

const typeOf = (s: Schema): string | undefined => (Array.isArray(s.type) ? s.type[0] : s.type) ?? (s.anyOf ? typeOf(s.anyOf[0]) : undefined);

// ---------------------------------------------------------------------------------------------
// Plans: a request before it goes on the wire.
// ---------------------------------------------------------------------------------------------

interface Plan {
  op: Operation;
  /** Path parameter values (encoded when the request is built)... */
  path: Record<string, string>;
  /** ...or already encoded, for odd ids. */
  rawPath: Record<string, string>;
  query: Array<[string, string]>;
  body: unknown;
  encoding: 'json' | 'form';
  contentType?: string;
  /** The payload exactly as sent, instead of the encoded body. */
  raw?: string;
  prefix: '/api' | '/portal/api';
  slash: boolean;
  /** With a key: `Authorization: Bearer` instead of `X-API-KEY`. */
  bearer: boolean;
  mutation: string;
}

interface Wire {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
const enc = (s: string) => encodeURIComponent(wellFormed(s));
const text = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function formOf(body: unknown): string {
  if (!isObject(body)) return enc(text(body));
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) {
    for (const item of Array.isArray(v) ? v : [v]) params.append(wellFormed(k), wellFormed(text(item)));
  }
  return params.toString();
}

// ---------------------------------------------------------------------------------------------
// Values that break the rules (independent of any world).
// ---------------------------------------------------------------------------------------------

const ODD_IDS = [
  '..', '.', '%2e%2e', '%2e%2e%2f', '%00', 'a%00b', '%0a', '%0d%0a', '%20', '%', '%zz', '%E2%80%AE', '%F0%9F%92%A9', '%FF%FE', '%C0%AF',
  'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(199), 'x'.repeat(200), 'x'.repeat(201), 'x'.repeat(5000), '-1', '0', '00', '1.5', '1e3',
  '99999999999999999999', '2147483648', '2147483647', '-2147483649', 'NaN', 'null', 'undefined', 'true', '[]', '%7B%7D', '%27%3B--',
  '~', '*', '+', ';', ',', '%22', '%5C', ' 1', '0x1', '1%00', '%2F', 'a%2Fb',
];
const CONTENT_TYPES = [
  'text/plain', 'application/xml', 'text/html', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16',
  'application/json-patch+json', 'application/JSON', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/x-www-form-urlencoded; charset=latin1',
  'application/json;;;', 'application/', '*/*', 'image/png', 'application/vnd.api+json', 'x', '',
];
const GARBAGE = [
  '', '{', '}', '{"a":', '[1,2', '"unterminated', '{"a":1}}', 'nul', 'NaN', '{a:1}', "{'a':1}", '{"a":1,}', '[,]', '\u0000', '[]', '{}', '0',
  'true', 'null', '"x"', '{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"a":"\\ud800"}', '{"a":1e999}',
  '\ufeff{}', '[{"a":1}]', `${'['.repeat(5000)}${']'.repeat(5000)}`, `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
];
const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'id', 'owner', 'owner_id', 'status', 'task_state', 'is_superuser', 'openstack_id', 'key', 'deleted_at'];
const CONTROL = fc.constantFrom('\u0000', '\u0001', '\u0007', '\u001b', '\u007f', '\r', '\n', '\t', '\u2028', '\ufeff', '\u202e', '\ud800', '\udfff', '\u0085');

/** Strings no one should send: huge, control characters, any unicode (lone surrogates too). */
const weirdString = fc.oneof(
  fc.integer({ min: 256, max: 300_000 }).map((n) => 'A'.repeat(n)),
  fc.string({ unit: CONTROL, minLength: 1, maxLength: 8 }),
  fc.tuple(fc.string({ maxLength: 10 }), CONTROL, fc.string({ maxLength: 10 })).map(([a, c, b]) => a + c + b),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.constantFrom('', ' ', '💩', 'İ', 'e\u0301', '名前', "'; drop table vms; --", '../../etc/passwd', '<script>', '%', '\\', 'null', '${x}'),
);

/** A value of another JSON type than the schema's. */
function wrongType(s: Schema): fc.Arbitrary<unknown> {
  const type = typeOf(s);
  const all: Array<[string, fc.Arbitrary<unknown>]> = [
    ['string', fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('1', '1.5', 'true', '', '[]', 'null'))],
    ['integer', fc.integer()],
    ['number', fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)), fc.constantFrom(0.5, -1.5, 1e-9))],
    ['boolean', fc.boolean()],
    ['null', fc.constant(null)],
    ['array', fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 })],
    ['object', fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 })],
  ];
  const others = all.filter(([t]) => t !== type && !(type === 'number' && t === 'integer') && !(s.nullable && t === 'null'));
  return fc.oneof(...others.map(([, a]) => a));
}

/** A value of the schema's type but outside its bounds (or its enum). */
function outOfRange(s: Schema): fc.Arbitrary<unknown> {
  if (s.enum || s.anyOf?.every((x) => x.enum)) {
    return fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('STOP', 'Stop', 'stop ', ' reboot', 'delete', 'start', 'pause', 'soft', 'vm:*', 'admin', ''));
  }
  switch (typeOf(s)) {
    case 'integer':
    case 'number': {
      const min = s.minimum ?? -(2 ** 31);
      const max = s.maximum ?? 2 ** 31 - 1;
      return fc.oneof(
        fc.constantFrom(min - 1, max + 1, -1, 0, -0, 2 ** 31, 2 ** 53 + 2, 1e21, -1e21, Number.MAX_VALUE, -Number.MAX_VALUE, 0.5, min + 0.5),
        fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: min - 1 }),
      );
    }
    case 'string': {
      const options: fc.Arbitrary<unknown>[] = [];
      if ((s.minLength ?? 0) > 0) options.push(fc.constant(''));
      const over = s.maxLength ?? 1000;
      options.push(fc.integer({ min: over + 1, max: over + 2000 }).map((n) => 'x'.repeat(n)));
      if (s.format === 'date-time') {
        options.push(fc.constantFrom('2000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'yesterday', '2026-13-40T25:61:61Z', 'past', 'far future').map((v) =>
          v === 'past' ? new Date(Date.now() - 60_000).toISOString() : v === 'far future' ? new Date(Date.now() + 4000 * 86_400_000).toISOString() : v,
        ));
      }
      if (s.pattern) options.push(fc.constantFrom('-starts-with-dash', 'has space', 'semi;colon', 'x'.repeat(64), '.', 'ü', 'a\u0000'));
      return fc.oneof(...options);
    }
    case 'array':
      return fc.oneof(
        fc.constant([]),
        fc.array(fc.constantFrom(...((s.items?.anyOf?.flatMap((x) => x.enum ?? []) ?? ['x']) as unknown[])), { minLength: (s.maxItems ?? 20) + 1, maxLength: (s.maxItems ?? 20) + 5 }),
        fc.array(weirdString, { minLength: 1, maxLength: 3 }),
      );
    default:
      return wrongType(s);
  }
}

const futureIso = fc.integer({ min: 60, max: 300 * 24 * 60 }).map((minutes) => new Date(Date.now() + minutes * 60_000).toISOString());
/** Well-formed keys (their checksum holds) that were never issued. */
const unknownKey = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9]{8}$/), fc.stringMatching(/^[A-Za-z0-9]{32}$/))
  .map(([prefix, secret]) => `svm_${prefix}_${secret}${checksumOf(`svm_${prefix}_${secret}`)}`);

// ---------------------------------------------------------------------------------------------
// The database fingerprint: what a rejected request must leave as it was. The audit log, the
// addresses keys were used from and keys' last use are left out: a refused act records itself.
// ---------------------------------------------------------------------------------------------

const FINGERPRINT = `select
  (select count(*) from vms) as vms,
  (select max(updated_at) from vms) as vms_updated,
  (select count(*) from vms where task_state is not null) as vms_busy,
  (select count(*) from volumes) as volumes,
  (select max(updated_at) from volumes) as volumes_updated,
  (select count(*) from snapshots) as snapshots,
  (select max(updated_at) from snapshots) as snapshots_updated,
  (select count(*) from projects) as projects,
  (select count(*) from memberships) as memberships,
  (select count(*) from api_keys where deleted_at is null) as live_keys,
  (select max(id) from api_keys) as last_key,
  (select min(expires_at) from api_keys where deleted_at is null) as first_key_expiry,
  (select count(*) from sessions) as sessions,
  (select count(*) from ssh_keys) as ssh_keys,
  (select count(*) from transitions) as transitions,
  (select count(*) from transition_history) as history,
  (select count(*) from users) as users`;

type Mode = 'session' | 'key' | 'anonymous';

interface Tally {
  sent: number;
  statuses: Map<number, number>;
  codes: Set<string>;
  operations: Set<string>;
}

let totalSent = 0;

// ---------------------------------------------------------------------------------------------
// A world: a portal on its own database with projects, users, keys, VMs and volumes in several
// states (the worker rests once they are made), the values that reach them, and the generator.
// ---------------------------------------------------------------------------------------------

class World {
  t!: TestPortal;
  su!: TestUser;
  apiKey!: { key: string; id: number };
  operations!: Operation[];
  /** On PostgreSQL, a connection of the test's own with the fingerprint prepared once. */
  private pgClient: pg.Client | null = null;
  /** The fingerprint after the last request: the one before the next. */
  private last: Record<string, string | null> = {};
  readonly pools = {
    project: [] as number[],
    key: [] as number[],
    vm: [] as string[],
    volume: [] as string[],
    snapshot: [] as string[],
    image: [] as string[],
    flavor: [] as string[],
    username: [] as string[],
  };

  async setUp(): Promise<void> {
    const t = (this.t = await buildTestApp({}, { worker: false }));
    const su = (this.su = await t.factory.user({ superuser: true }));
    const member = await t.factory.user();
    const big = await t.factory.project({ admins: [su], members: [member], quota: { vms: 60, cores: 300, ram_gb: 600, volumes: 60, volume_gb: 3000 } });
    const tiny = await t.factory.project({ members: [member], quota: { vms: 1, cores: 1, ram_gb: 2, volumes: 1, volume_gb: 1 } });
    const foreign = await t.factory.project();
    const as = su.session;
    const ok = (res: { statusCode: number; body: string; data: any }, status: number) => {
      if (res.statusCode !== status) throw new Error(`setup request failed: ${res.statusCode} ${res.body}`);
      return res.data;
    };
    const newVm = async (who: TestUser, projectId: number): Promise<string> =>
      ok(await t.http.post('/api/vms/', { as: who.session, body: { project_id: projectId, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm') } }), 201).openstack_id;
    const newVolume = async (who: TestUser, projectId: number): Promise<string> =>
      ok(await t.http.post('/api/volumes/', { as: who.session, body: { project_id: projectId, name: unique('vol'), storage: 1 } }), 201).openstack_id;

    const [vmActive, vmShutoff, vmDeleted, vmMember, vmTiny] = [await newVm(su, big.id), await newVm(su, big.id), await newVm(su, big.id), await newVm(member, big.id), await newVm(member, tiny.id)];
    const [volAvailable, volInUse, volMember, volTiny] = [await newVolume(su, big.id), await newVolume(su, big.id), await newVolume(member, big.id), await newVolume(member, tiny.id)];
    await this.settle();
    ok(await t.http.post(`/api/vms/${vmShutoff}/action/`, { as, body: { os_action: 'stop' } }), 202);
    ok(await t.http.delete(`/api/vms/${vmDeleted}/`, { as }), 202);
    ok(await t.http.post(`/api/volumes/${volInUse}/action/`, { as, body: { os_action: 'attach', vm_openstack_id: vmActive } }), 202);
    const snapshot = ok(await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: vmActive, snapshot_name: 'golden' } }), 202);
    await this.settle();
    // These stay in flight for good: the worker does not run from here on.
    const vmBuilding = await newVm(su, big.id);
    const volCreating = await newVolume(su, big.id);

    this.apiKey = await t.factory.key(su, { scopes: ALL_SCOPES, own_objects_only: false });
    const spare = [await t.factory.key(su, { scopes: ['vm:read'] }), await t.factory.key(su), await t.factory.key(member)];

    const p = this.pools;
    p.project.push(big.id, tiny.id, foreign.id, 2_147_483_647);
    p.key.push(...spare.map((k) => k.id), 2_147_483_647);
    p.vm.push(vmActive, vmShutoff, vmDeleted, vmMember, vmTiny, vmBuilding, volAvailable, randomUUID());
    p.volume.push(volAvailable, volInUse, volMember, volTiny, volCreating, vmActive, randomUUID());
    p.snapshot.push(snapshot.openstack_id, vmActive, randomUUID());
    p.flavor.push(...ok(await t.http.get(`/api/projects/${big.id}/flavors/`, { as }), 200).map((f: { name: string }) => f.name), 'de.NBI huge');
    p.image.push(...ok(await t.http.get(`/api/projects/${big.id}/images/`, { as }), 200).map((i: { name: string }) => i.name), snapshot.name, 'Windows-95');
    p.username.push(su.username, member.username, 'admin');

    this.operations = operationsOf(ok(await t.http.get('/api/openapi.json'), 200) as OpenApi);
    if (t.ctx.db.dialect === 'postgres') {
      this.pgClient = new pg.Client({ connectionString: t.ctx.config.databaseUrl });
      await this.pgClient.connect();
    }
  }

  async tearDown(): Promise<void> {
    await this.pgClient?.end();
    await this.t?.close();
  }

  /** Drives the worker by hand until no transition is left (setup only). */
  private async settle(): Promise<void> {
    const until = Date.now() + 20_000;
    for (;;) {
      await this.t.ctx.worker.tick();
      const { rows } = await sql<{ n: number | string }>`select count(*) as n from transitions`.execute(this.t.ctx.db.kysely);
      if (Number(rows[0].n) === 0) return;
      if (Date.now() > until) throw new Error('setup transitions did not finish');
      await sleep(10);
    }
  }

  async fingerprint(): Promise<Record<string, string | null>> {
    const row = this.pgClient
      ? (await this.pgClient.query({ name: 'fingerprint', text: FINGERPRINT })).rows[0]
      : (await sql.raw<Record<string, unknown>>(FINGERPRINT).execute(this.t.ctx.db.kysely)).rows[0];
    // Counts may come back as numbers or as bigint strings: compare everything as text.
    return Object.fromEntries(Object.entries(row as Record<string, unknown>).map(([k, v]) => [k, v === null ? null : String(v)]));
  }

  // --- valid values -----------------------------------------------------------------------

  /** Values likelier than random ones to get past validation and reach: by field name and route. */
  private hintsFor(op: Operation, name: string): readonly unknown[] | null {
    const p = this.pools;
    switch (name) {
      case 'id':
        return op.path.startsWith('/api/keys') ? p.key : p.project;
      case 'openstack_id':
        return op.path.startsWith('/api/volumes') ? p.volume : op.path.startsWith('/api/snapshots') ? p.snapshot : p.vm;
      case 'project_id':
        return p.project;
      case 'vm_openstack_id':
      case 'vm_uuid':
      case 'snapshot_instance':
        return p.vm;
      case 'image_name':
        return p.image;
      case 'flavor_name':
        return p.flavor;
      case 'status':
        return ['ACTIVE', 'SHUTOFF', 'BUILD', 'DELETED', 'ERROR', 'available', 'in-use', 'creating'];
      case 'action':
        return AUDIT_ACTIONS;
      case 'username':
      case 'owner':
        return p.username;
      case 'password':
        return [PASSWORD, 'wrong password'];
      case 'storage':
      case 'size':
        return [1, 2, 3, 5, 8, 20];
      case 'page':
        return [1, 2];
      case 'page_size':
        return [1, 5, 50];
      default:
        return null;
    }
  }

  fromSchema(s: Schema, depth = 0): fc.Arbitrary<unknown> {
    let arb: fc.Arbitrary<unknown>;
    if (s.enum) arb = fc.constantFrom(...s.enum);
    else if (s.anyOf) arb = fc.oneof(...s.anyOf.map((x) => this.fromSchema(x, depth)));
    else {
      switch (typeOf(s)) {
        case 'integer':
          arb = fc.integer({ min: s.minimum ?? -(2 ** 31), max: s.maximum ?? 2 ** 31 - 1 });
          break;
        case 'number':
          arb = fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true });
          break;
        case 'boolean':
          arb = fc.boolean();
          break;
        case 'string': {
          const min = s.minLength ?? 0;
          const max = s.maxLength ?? Infinity;
          if (s.format === 'date-time') arb = futureIso;
          else if (s.pattern) arb = fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= min && x.length <= max);
          else arb = fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max, 60)), unit: 'grapheme' });
          break;
        }
        case 'array':
          arb = fc.array(this.fromSchema(s.items ?? {}, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 4)) });
          break;
        case 'object':
          arb = this.objectOf(s, null, depth);
          break;
        default:
          // An untyped body (the leaked-key report takes JSON or a form): a key field, or anything.
          arb = depth === 0 ? fc.oneof(fc.record({ key: fc.oneof(unknownKey, fc.string()) }), fc.jsonValue({ maxDepth: 2 })) : fc.jsonValue({ maxDepth: 1 });
      }
    }
    return s.nullable ? fc.option(arb, { nil: null, freq: 5 }) : arb;
  }

  private validValue(op: Operation | null, name: string, s: Schema, depth = 0): fc.Arbitrary<unknown> {
    const base = this.fromSchema(s, depth);
    const hints = op ? this.hintsFor(op, name) : null;
    return hints?.length ? fc.oneof({ arbitrary: fc.constantFrom(...hints), weight: 4 }, { arbitrary: base, weight: 1 }) : base;
  }

  private objectOf(s: Schema, op: Operation | null, depth = 0): fc.Arbitrary<Record<string, unknown>> {
    const model = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, p]) => [k, this.validValue(op, k, p, depth + 1)]));
    return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in model) }) as fc.Arbitrary<Record<string, unknown>>;
  }

  validPlan(op: Operation): fc.Arbitrary<Plan> {
    const path = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, this.validValue(op, p.name, p.schema).map(text)])));
    const query = fc
      .record(Object.fromEntries(op.queryParams.map((p) => [p.name, this.validValue(op, p.name, p.schema)])), { requiredKeys: op.queryParams.filter((p) => p.required).map((p) => p.name) })
      .map((q) => Object.entries(q).map(([k, v]) => [k, text(v)] as [string, string]));
    const body = !op.body ? fc.constant(undefined) : typeOf(op.body) === 'object' ? this.objectOf(op.body, op) : this.fromSchema(op.body);
    return fc.record({
      op: fc.constant(op),
      path,
      rawPath: fc.constant({}),
      query,
      body,
      // Both encodings are valid for every POST (spec §3).
      encoding: fc.constantFrom<'json' | 'form'>('json', 'json', 'form'),
      prefix: fc.constantFrom<'/api' | '/portal/api'>('/api', '/api', '/portal/api'),
      slash: fc.boolean(),
      bearer: fc.boolean(),
      mutation: fc.constant('none'),
    }) as fc.Arbitrary<Plan>;
  }

  // --- mutations --------------------------------------------------------------------------

  mutatedPlan(op: Operation): fc.Arbitrary<Plan> {
    return this.validPlan(op).chain((plan) => {
      const options = this.mutators().map((m) => m(plan)).filter((a): a is fc.Arbitrary<Plan> => a !== null);
      return fc.oneof(...options);
    });
  }

  private mutators(): Array<(plan: Plan) => fc.Arbitrary<Plan> | null> {
    const bodyProps = (plan: Plan): Array<[string, Schema]> => Object.entries(plan.op.body?.properties ?? {});
    const bodyWith = (plan: Plan, change: (b: Record<string, unknown>) => void): Plan => {
      const body = isObject(plan.body) ? { ...plan.body } : {};
      change(body);
      return { ...plan, body };
    };
    /** Sets one body field, query parameter or path parameter to a value drawn from `value`. */
    const oneField = (label: string, value: (s: Schema) => fc.Arbitrary<unknown>) => (plan: Plan) => {
      const targets: fc.Arbitrary<Plan>[] = [];
      for (const [name, s] of bodyProps(plan)) {
        targets.push(value(s).map((v) => ({ ...bodyWith(plan, (b) => (b[name] = v)), mutation: `${label} body.${name}` })));
      }
      for (const p of plan.op.queryParams) {
        targets.push(value(p.schema).map((v) => ({ ...plan, query: [...plan.query.filter(([k]) => k !== p.name), [p.name, text(v)]], mutation: `${label} query.${p.name}` })));
      }
      for (const p of plan.op.pathParams) {
        targets.push(value(p.schema).map((v) => ({ ...plan, path: { ...plan.path, [p.name]: text(v) }, mutation: `${label} path.${p.name}` })));
      }
      return targets.length ? fc.oneof(...targets) : null;
    };
    const p = this.pools;
    return [
      // A required field (or several) left out.
      (plan) => {
        const required = (plan.op.body?.required ?? []).filter((k) => isObject(plan.body) && k in plan.body);
        if (!required.length) return null;
        return fc.subarray(required, { minLength: 1 }).map((drop) => ({ ...bodyWith(plan, (b) => drop.forEach((k) => delete b[k])), mutation: `drop ${drop.join(',')}` }));
      },
      oneField('wrong type', wrongType),
      oneField('out of range', outOfRange),
      oneField('weird string', () => weirdString),
      // Fields the schema does not name (some of them names of columns, or of prototypes).
      (plan) =>
        fc
          .dictionary(fc.oneof(fc.constantFrom(...SPECIAL_KEYS), fc.string({ minLength: 1, maxLength: 10 })), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 })
          .map((extra) => ({ ...bodyWith(plan, (b) => Object.assign(b, extra)), mutation: `extra ${Object.keys(extra).join(',')}` })),
      (plan) =>
        fc
          .array(fc.tuple(fc.oneof(fc.constantFrom('page', 'page_size', 'project_id', '__proto__', 'a[b]', 'page[]', ''), fc.string({ maxLength: 8 })), fc.oneof(fc.string({ maxLength: 12 }), weirdString)), { minLength: 1, maxLength: 3 })
          .map((extra) => ({ ...plan, query: [...plan.query, ...extra], mutation: 'extra query' })),
      // Another content type for the same body.
      (plan) => fc.constantFrom(...CONTENT_TYPES).map((contentType) => ({ ...plan, body: plan.body ?? {}, contentType, mutation: `content-type ${contentType}` })),
      // Form where JSON was, and JSON where a form was.
      (plan) => fc.constant({ ...plan, body: plan.body ?? {}, encoding: plan.encoding === 'json' ? ('form' as const) : ('json' as const), mutation: 'other encoding' }),
      // An odd path id, or the id of another kind of object.
      (plan) => {
        if (!plan.op.pathParams.length) return null;
        const name = plan.op.pathParams[0].name;
        const id = fc.oneof(
          fc.constantFrom(...ODD_IDS),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map(enc),
          fc.constantFrom(...p.vm, ...p.volume, ...p.project.map(String), ...p.key.map(String)),
          fc.uuid().map(String),
          fc.integer().map(String),
        );
        return id.map((raw) => ({ ...plan, rawPath: { [name]: raw }, mutation: `odd id ${raw.slice(0, 40)}` }));
      },
      // A field given twice: in the query, in a form, or as a JSON object naming it twice.
      (plan) => {
        const names = [...bodyProps(plan).map(([k]) => k), ...plan.op.queryParams.map((q) => q.name)];
        if (!names.length) return null;
        const other = fc.oneof(fc.string({ maxLength: 10 }), fc.integer().map(String), fc.constantFrom('1', ''));
        return fc.tuple(fc.constantFrom(...names), other, fc.constantFrom('form', 'json', 'query')).map(([name, value, where]): Plan => {
          const body = isObject(plan.body) ? plan.body : {};
          if (where === 'query' || !bodyProps(plan).some(([k]) => k === name)) {
            return { ...plan, query: [...plan.query, [name, value], [name, text(body[name] ?? value)]], mutation: `repeated query ${name}` };
          }
          if (where === 'form') return { ...plan, raw: `${formOf(body)}&${enc(name)}=${enc(value)}`, encoding: 'form', mutation: `repeated form ${name}` };
          const json = JSON.stringify(body);
          return { ...plan, raw: `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${JSON.stringify(name)}:${JSON.stringify(value)}}`, encoding: 'json', mutation: `repeated json ${name}` };
        });
      },
      // A body that is not JSON at all, or none.
      (plan) => fc.oneof(fc.constantFrom(...GARBAGE), fc.string({ unit: 'binary', maxLength: 30 })).map((raw) => ({ ...plan, raw, encoding: 'json' as const, mutation: `garbage ${JSON.stringify(raw.slice(0, 30))}` })),
      (plan) => (plan.op.body ? fc.constant({ ...plan, body: undefined, mutation: 'no body' }) : null),
    ];
  }

  // --- sending ----------------------------------------------------------------------------

  /** Never the credentials in use: a key id that names the key this run uses becomes another key's. */
  private guardKeyId(op: Operation, encoded: string): string {
    if (!op.path.startsWith('/api/keys/{')) return encoded;
    let decoded: string;
    try {
      decoded = decodeURIComponent(encoded);
    } catch {
      return encoded;
    }
    return Number(decoded) === this.apiKey.id ? String(this.pools.key[0]) : encoded;
  }

  wire(plan: Plan): Wire {
    let path = plan.prefix + plan.op.path.slice('/api'.length);
    for (const p of plan.op.pathParams) {
      const value = plan.rawPath[p.name] ?? enc(plan.path[p.name] ?? '');
      path = path.replace(`{${p.name}}`, this.guardKeyId(plan.op, value) || '%20');
    }
    const query = plan.query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
    const url = path + (plan.slash ? '/' : '') + (query ? `?${query}` : '');
    const headers: Record<string, string> = {};
    let payload: string | undefined;
    if (plan.raw !== undefined) payload = plan.raw;
    else if (plan.body !== undefined) payload = plan.encoding === 'json' ? (JSON.stringify(plan.body) ?? '') : formOf(plan.body);
    if (payload !== undefined) headers['content-type'] = plan.contentType ?? (plan.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded');
    return { method: plan.op.method, url, headers, payload };
  }

  private async credentials(mode: Mode, plan: Plan): Promise<Record<string, string>> {
    if (mode === 'key') return plan.bearer ? { authorization: `Bearer ${this.apiKey.key}` } : { 'x-api-key': this.apiKey.key };
    if (mode === 'anonymous') return {};
    let session = this.su.session;
    if (plan.op.path === '/api/auth/logout') {
      // Logging out must not end the session the run uses: a session of its own (written as a
      // login writes it, without paying for the password hash), and a new baseline.
      const token = randomToken();
      const csrf = randomToken();
      const now = Date.now();
      await insertSession(this.t.ctx.db.kysely, { id: sha256Hex(token), userId: this.su.id, csrfToken: csrf, createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 3_600_000).toISOString() });
      session = { cookie: `${SESSION_COOKIE}=${token}`, csrf };
      this.last = await this.fingerprint();
    }
    return { cookie: session.cookie, 'x-csrf-token': session.csrf };
  }

  /** Sends one plan and checks the three properties of its answer. */
  async send(mode: Mode, plan: Plan, tally: Tally): Promise<void> {
    const req = this.wire(plan);
    const headers = { ...req.headers, ...(await this.credentials(mode, plan)) };
    const res = await this.t.app.inject({ method: req.method as 'GET', url: req.url, headers, payload: req.payload });
    totalSent += 1;
    tally.sent += 1;
    tally.statuses.set(res.statusCode, (tally.statuses.get(res.statusCode) ?? 0) + 1);
    tally.operations.add(`${plan.op.method} ${plan.op.path}`);
    const what = `${req.method} ${req.url.slice(0, 200)} [${req.headers['content-type'] ?? '-'}] ${String(req.payload ?? '').slice(0, 200)} (${plan.mutation}) → ${res.statusCode} ${res.body.slice(0, 300)}`;

    expect(res.statusCode, what).toBeLessThan(500);
    if (res.statusCode >= 400) {
      expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
      const error = JSON.parse(res.body) as { detail?: unknown; code?: unknown; errors?: unknown };
      expect(typeof error.detail, what).toBe('string');
      expect(typeof error.code, what).toBe('string');
      // A code of the closed list, with its own status.
      expect(ERROR_STATUS[error.code as keyof typeof ERROR_STATUS], what).toBe(res.statusCode);
      if ('errors' in error) {
        expect(isObject(error.errors), what).toBe(true);
        for (const messages of Object.values(error.errors as object)) {
          expect(Array.isArray(messages) && messages.every((m) => typeof m === 'string'), what).toBe(true);
        }
      }
      tally.codes.add(error.code as string);
    }
    const now = await this.fingerprint();
    if (res.statusCode >= 400) expect(now, `a rejected request changed the database: ${what}`).toEqual(this.last);
    this.last = now;
  }

  async runProperty(mode: Mode, kind: 'valid' | 'mutated', seed: number): Promise<Tally> {
    const tally: Tally = { sent: 0, statuses: new Map(), codes: new Set(), operations: new Set() };
    // A login and a password change pay for a password hash (tens of ms): tried less often than the other operations.
    const hashes = (op: Operation) => op.path === '/api/auth/login' || op.path === '/api/auth/password';
    const arb = fc.oneof(
      ...this.operations.map((op) => ({ arbitrary: kind === 'valid' ? this.validPlan(op) : this.mutatedPlan(op), weight: hashes(op) ? 1 : 4 })),
    );
    this.last = await this.fingerprint();
    await fc.assert(
      fc.asyncProperty(arb, (plan) => this.send(mode, plan, tally)),
      { numRuns: kind === 'valid' ? VALID_RUNS : MUTATED_RUNS, seed },
    );
    return tally;
  }
}

// ---------------------------------------------------------------------------------------------

const MODES: Mode[] = ['session', 'key', 'anonymous'];
const worlds = new Map<Mode, World>();

beforeAll(async () => {
  // One after the other: setting up is cheap, and the first start migrates and builds the catalog.
  for (const mode of MODES) {
    const w = new World();
    worlds.set(mode, w);
    await w.setUp();
  }
}, 90_000);

afterAll(async () => {
  for (const w of worlds.values()) await w.tearDown();
});

describe('properties of every operation in the OpenAPI document', () => {
  it('the document names every route', () => {
    const names = worlds.get('session')!.operations.map((op) => `${op.method} ${op.path}`);
    for (const route of [
      'POST /api/auth/login', 'POST /api/auth/logout', 'GET /api/keys', 'POST /api/keys/revoke', 'POST /api/keys/{id}/rotate', 'GET /api/audit',
      'GET /api/projects/{id}', 'GET /api/vms', 'POST /api/vms/{openstack_id}/action', 'DELETE /api/volumes/{openstack_id}', 'POST /api/snapshots',
    ]) {
      expect(names).toContain(route);
    }
    expect(names.length).toBeGreaterThanOrEqual(24);
  });

  // The three callers side by side, each on its own portal and database.
  describe.concurrent('as each kind of caller', () => {
    it.each(MODES.map((mode, i) => [mode, i] as const))(
      'as %s: valid, then mutated requests: no 5xx, errors are {detail, code}, a rejected request changes nothing',
      async (mode, i) => {
        const w = worlds.get(mode)!;
        for (const kind of ['valid', 'mutated'] as const) {
          const tally = await w.runProperty(mode, kind, SEED + 2 * i + (kind === 'valid' ? 0 : 1));
          const what = `${mode} ${kind}: ${JSON.stringify([...tally.statuses].sort())}`;
          expect(tally.sent, what).toBeGreaterThanOrEqual(kind === 'valid' ? VALID_RUNS : MUTATED_RUNS);
          // Every operation was tried, and the requests got past more than the first gate.
          expect(tally.operations.size, what).toBe(w.operations.length);
          const statuses = [...tally.statuses.keys()];
          if (mode === 'anonymous') {
            expect(statuses, what).toContain(401);
            expect(statuses.filter((s) => s < 300).length, what).toBeGreaterThan(0); // login, leaked-key reports
          } else {
            expect(statuses.filter((s) => s >= 200 && s < 300).length, what).toBeGreaterThanOrEqual(3);
            expect(tally.codes.size, what).toBeGreaterThanOrEqual(kind === 'valid' ? 4 : 6);
          }
        }
        // The credentials in use survived whatever was sent.
        expect((await w.t.http.get('/api/auth/me', { as: w.su.session })).statusCode).toBe(200);
        expect((await w.t.http.get('/api/auth/me', { as: { key: w.apiKey.key } })).statusCode).toBe(200);
      },
      150_000,
    );
  });

  it('sent at least 10,000 requests in all', () => {
    expect(totalSent).toBeGreaterThanOrEqual(10_000);
  });
});
