// The one way the web app talks to the API: the typed client that scripts use too
// (`simplevm/client`, openapi-fetch over the generated types), with the session cookie, the CSRF
// header on unsafe calls, and errors as values that carry the API's `detail`.
import { type Page, ApiError, createClient, toApiError } from '../../src/client/index';
import type { components, operations } from '../../src/client/schema';

export type Scope = components['schemas']['Scope'];

export const SCOPES: Scope[] = [
  'vm:read', 'vm:create', 'vm:change_state', 'vm:delete', 'snapshot:create', 'project:read',
  'volume:read', 'volume:create', 'volume:change_state', 'volume:delete',
];

/** The audit log's actions (spec §7), for the filter of the audit page; `?action=` matches exactly. */
export const AUDIT_ACTIONS = [
  'login', 'login_failed', 'logout', 'key.create', 'key.delete', 'key.rotate', 'key.revoke_leaked', 'key.new_ip',
  'vm.create', 'vm.action', 'vm.delete', 'volume.create', 'volume.action', 'volume.delete', 'snapshot.create',
] as const;

/** The API's own check of VM names (VmCreateBody.vm_name). */
export const VM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

// Request and response shapes are the ones generated from the portal's OpenAPI document
// (src/client/schema.d.ts, `npm run generate:client`), so a change to the API shows up here as a
// type error, not as a surprise at run time.
type Schemas = components['schemas'];

export type Me = operations['me']['responses'][200]['content']['application/json'];
export type Amounts = Schemas['Project']['quota'];
export type Role = Schemas['ProjectSummary']['role'];
export type ProjectSummary = Schemas['ProjectSummary'];
export type Project = Schemas['Project'];
export type Flavor = Schemas['Flavor'];
export type Image = Schemas['Image'];
export type Vm = Schemas['Vm'];
export type Volume = Schemas['Volume'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type AuditEvent = Schemas['AuditEvent'];
export type { Page };

/** A failed call: the API's `detail` is what the user reads. */
export { ApiError };

let csrfToken: string | null = null;
let onUnauthenticated: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a call answers 401: the session has ended, so the app shows the login page. */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The typed client on the page's own origin, authenticated by the session cookie. Pages may call
 * it directly (`client.GET('/api/vms', …)`); `request` and `api` below go through it as well.
 */
export const client = createClient({ baseUrl: '' });
client.use({
  onRequest({ request }) {
    if (UNSAFE.has(request.method) && csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
});

type Answer = { data?: unknown; error?: unknown; response: Response };
/**
 * The same client with a path built at run time (ids, query strings), which is not one of the
 * OpenAPI path templates the typed methods take; callers name the answer's type instead.
 */
const requestByPath = client.request as unknown as (method: string, path: string, init: { body?: unknown }) => Promise<Answer>;

export async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  let answer: Answer;
  try {
    answer = await requestByPath(method.toLowerCase(), path, body === undefined ? {} : { body });
  } catch {
    throw new ApiError(0, 'network', 'The portal cannot be reached. Check your connection and try again.');
  }
  if (!answer.response.ok) {
    const err = toApiError(answer.response.status, answer.error);
    if (answer.response.status === 401 && !opts.quiet401) onUnauthenticated();
    throw err;
  }
  return (answer.data ?? null) as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  del: <T = null>(path: string) => request<T>('DELETE', path),
};

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
