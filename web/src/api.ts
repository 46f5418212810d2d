// The one way the web app talks to the API: the typed client that scripts use too
// (`simplevm/client`, openapi-fetch over the generated types), with the session cookie, the CSRF
// header on unsafe calls, and errors as values that carry the API's `detail`. Which calls the pages
// make, and how their answers are cached, is in queries.ts.
import { type Page, ApiError, createClient, toApiError } from '../../src/client/index';
import type { components, operations } from '../../src/client/schema';

// Request and response shapes are the ones generated from the portal's OpenAPI document
// (src/client/schema.d.ts, `npm run generate:client`), so a change to the API shows up here as a
// type error, not as a surprise at run time.
type Schemas = components['schemas'];

/**
 * The session's user and what the portal tells the pages about itself: its cloud (`cloud`, the
 * header's "Simulated cloud" mark), its key policies and the longest key lifetime (the key form).
 */
export type Me = operations['me']['responses'][200]['content']['application/json'];
export type OidcInfo = operations['oidcInfo']['responses'][200]['content']['application/json'];
export type Amounts = Schemas['Project']['quota'];
export type ProjectSummary = Schemas['ProjectSummary'];
export type Project = Schemas['Project'];
export type ProjectMember = Schemas['ProjectMember'];
export type Flavor = Schemas['Flavor'];
export type Image = Schemas['Image'];
export type Vm = Schemas['Vm'];
export type VmSetup = Schemas['VmSetup'];
export type Volume = Schemas['Volume'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type SshKey = Schemas['SshKey'];
export type SshKeyCreated = Schemas['SshKeyCreated'];
export type AuditEvent = Schemas['AuditEvent'];
export type CondaCataloguePackage = Schemas['CondaCataloguePackage'];
export type { Page };

/** A failed call: the API's `detail` is what the user reads. */
export { ApiError };

let csrfToken: string | null = null;

/** The session's CSRF token (from /me or the login answer), sent on every unsafe call; null after logout. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The typed client on the page's own origin, authenticated by the session cookie:
 * `call(client.GET('/api/projects/{id}', { params: { path: { id } } }))`.
 */
export const client = createClient({ baseUrl: '' });
client.use({
  onRequest({ request }) {
    if (UNSAFE.has(request.method) && csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
});

/**
 * The data of a typed client's answer; a refused call throws an ApiError with the API's `detail`,
 * and a portal that cannot be reached one with status 0, so every failure the pages show reads
 * the same way. An aborted call (react-query cancels answers it no longer wants) stays an abort.
 */
export async function call<D>(answer: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  let settled: { data?: D; error?: unknown; response: Response };
  try {
    settled = await answer;
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The portal cannot be reached. Check your connection and try again.');
  }
  if (!settled.response.ok) throw toApiError(settled.response.status, settled.error);
  return settled.data as D;
}

/** Anything a write threw, as the ApiError the pages show. */
export function errorOf(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, 'error', e instanceof Error ? e.message : 'Something went wrong.');
}
