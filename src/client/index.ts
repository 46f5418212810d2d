// `simplevm/client`: the typed client of the SimpleVM API. The types come from the portal's own
// OpenAPI document (schema.d.ts, made by `npm run generate:client`); openapi-fetch turns them
// into typed GET/POST/DELETE calls. No Node-only API is used here, so the web app shares it.
//
//   const client = createClient({ baseUrl: 'http://127.0.0.1:8000', apiKey: process.env.SIMPLEVM_API_KEY });
//   const vms = unwrap(await client.GET('/api/vms', { params: { query: { status: 'ACTIVE' } } }));
import createFetchClient, { type Client, type ClientOptions as FetchClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };

type Schemas = components['schemas'];
export type Vm = Schemas['Vm'];
export type Volume = Schemas['Volume'];
export type Snapshot = Schemas['Snapshot'];
export type Project = Schemas['Project'];
export type ProjectSummary = Schemas['ProjectSummary'];
export type Flavor = Schemas['Flavor'];
export type Image = Schemas['Image'];
export type AuditEvent = Schemas['AuditEvent'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type Scope = Schemas['Scope'];
export type User = Schemas['User'];
/** Every error body: `{detail, code, errors?}`. */
export type ErrorBody = Schemas['Error'];
/** `GET /api/auth/me`: the caller, and the key it used (null for a web session). */
export type Me = operations['me']['responses'][200]['content']['application/json'];
/**
 * A page of a paginated list (VMs, volumes, audit events). `next` and `previous` are relative
 * (`/api/vms/?page=2&page_size=50`) unless the portal sets SIMPLEVM_PUBLIC_URL: follow one with
 * `new URL(page.next, baseUrl)`, which also takes an absolute one as it is.
 */
export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** The typed client: `GET`, `POST`, `DELETE` by OpenAPI path, each answering `{data, error, response}`. */
export type SimpleVmClient = Client<paths, 'application/json'>;

export interface ClientOptions {
  /** The portal's address, e.g. `https://portal.example.org` (paths start with `/api/`). */
  baseUrl: string;
  /** An API key (`svm_…`), sent as `X-API-KEY`. Leave it out for a web session (cookie). */
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Another fetch (tests, proxies); defaults to the global one. */
  fetch?: FetchClientOptions['fetch'];
}

export function createClient(options: ClientOptions): SimpleVmClient {
  const headers: Record<string, string> = { accept: 'application/json', ...(options.headers ?? {}) };
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  return createFetchClient<paths, 'application/json'>({ baseUrl: options.baseUrl, headers, fetch: options.fetch });
}

/** A call the API refused: its HTTP status and the body's `code`, `detail` and field `errors`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: Record<string, string[]> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** An answer's error body, whatever the server sent (a proxy may answer with HTML). */
export function toApiError(status: number, body: unknown): ApiError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Partial<ErrorBody>;
  const detail = typeof b.detail === 'string' ? b.detail : `The request failed (HTTP ${status}).`;
  return new ApiError(status, typeof b.code === 'string' ? b.code : 'error', detail, b.errors ?? {});
}

/**
 * The data of a successful answer, or an ApiError thrown for a failed one:
 * `const vm = unwrap(await client.GET('/api/vms/{openstack_id}', { params: { path: { openstack_id } } }))`.
 */
export function unwrap<D>(answer: { data?: D; error?: unknown; response: Response }): D {
  if (!answer.response.ok) throw toApiError(answer.response.status, answer.error);
  return answer.data as D;
}
