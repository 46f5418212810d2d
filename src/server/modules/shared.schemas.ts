// Schemas and helpers shared by the resource modules: pagination and id parameters.
import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PRINTABLE_PATTERN } from '../../shared/contract.js';
import type { Config } from '../config.js';

export const MAX_PAGE_SIZE = 500;

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1.' })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50, description: `Items per page, at most ${MAX_PAGE_SIZE}.` })),
};

const LINK_FORM =
  'A path with its query (`/api/vms/?page=2&page_size=50`), to resolve against the portal\'s address; ' +
  'an absolute URL on the portal\'s public address when it has one (SIMPLEVM_PUBLIC_URL).';

export const Page = <T extends TSchema>(item: T, id: string) =>
  Type.Object(
    {
      count: Type.Integer({ description: 'Items in all pages: exact while at most 10,000 match from this page\'s first on; beyond that, this page\'s offset + 10,000 (a lower bound, and `next` still leads on).' }),
      next: Type.Union([Type.String(), Type.Null()], { description: `The next page, or null. ${LINK_FORM}` }),
      previous: Type.Union([Type.String(), Type.Null()], { description: `The previous page, or null. ${LINK_FORM}` }),
      results: Type.Array(item),
    },
    { $id: id },
  );

export interface PageOf<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * A page with its `next`/`previous` links: the path and query the request used, with `page` and
 * `page_size` set; absolute on the configured public address, else relative. Never on the Host
 * header (nor X-Forwarded-Host): a client chooses those, and links to its own host would send
 * whoever follows them, with their credentials, elsewhere.
 */
export function pageOf<T>(
  config: Pick<Config, 'publicUrl'>, request: FastifyRequest, results: T[], count: number, page: number, pageSize: number,
): PageOf<T> {
  const { path, query } = requestTarget(request.url);
  const link = (p: number) => {
    const q = new URLSearchParams(query);
    q.set('page', String(p));
    q.set('page_size', String(pageSize));
    return `${config.publicUrl ?? ''}${path}?${q}`;
  };
  return {
    count,
    next: page * pageSize < count ? link(page + 1) : null,
    previous: page > 1 ? link(Math.min(page - 1, Math.max(1, Math.ceil(count / pageSize)))) : null,
    results,
  };
}

/** Serialized arrays of results, by the array: made once for the arrays the read cache keeps (and whatever is made of them once). */
const serializedResults = new WeakMap<object, string>();

/**
 * A page as JSON, its results serialized through the route's item schema (`items`, e.g. `Type.Ref('Vm')`)
 * once for each array of results: a list the read cache keeps is one array shared by every request
 * until the database changes, and serializing a page of 50 VMs (45 KB) for each request cost more
 * than the rest of the request. Sent as it is (`reply.send` of a string does not serialize again).
 */
export function pageJson<T>(reply: FastifyReply, items: TSchema, page: PageOf<T>): string {
  let results = serializedResults.get(page.results);
  if (results === undefined) {
    results = (reply.compileSerializationSchema(arrayOf(items)) as (data: unknown) => string)(page.results);
    if (Object.isFrozen(page.results)) serializedResults.set(page.results, results);
  }
  return `{"count":${page.count},"next":${JSON.stringify(page.next)},"previous":${JSON.stringify(page.previous)},"results":${results}}`;
}

/** One array schema per item schema, so that Fastify compiles each serializer once. */
const arrays = new WeakMap<TSchema, TSchema>();
function arrayOf(items: TSchema): TSchema {
  let schema = arrays.get(items);
  if (!schema) arrays.set(items, (schema = Type.Array(items)));
  return schema;
}

/**
 * The path (one leading slash) and query of a request line. An absolute-form request line
 * (`GET http://evil.example/api/vms/`) is routed like its path, so its origin is dropped; and a
 * path that began with `//` or `/\` would make a relative link protocol-relative, another host.
 */
function requestTarget(url: string): { path: string; query: string } {
  const at = url.indexOf('?');
  const path = (at === -1 ? url : url.slice(0, at)).replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, '');
  return { path: `/${path.replace(/^[/\\]+/, '')}`, query: at === -1 ? '' : url.slice(at + 1) };
}

// No length limit here: an id that cannot exist is simply not found (404), never invalid (400).
export const OpenstackIdParams = Type.Object({
  openstack_id: Type.String({ minLength: 1, description: 'The object\'s OpenStack id.' }),
});

/** Whether a string can be an object id at all; anything else is not found without a query. */
export const isPlausibleId = (id: string): boolean => id.length <= 64 && !id.includes('\u0000');

export const ProjectIdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The project\'s id.' }),
});

/** Free-text names: bounded, no control characters. */
export const Name = (max: number, description: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: PRINTABLE_PATTERN, description });

export const Timestamp = Type.String({ format: 'date-time' });
