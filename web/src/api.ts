// The one way the web app talks to the API: JSON in and out, the session cookie, the CSRF header
// on unsafe calls, and errors as values that carry the API's `detail`.

export type Scope =
  | 'vm:read' | 'vm:create' | 'vm:change_state' | 'vm:delete' | 'snapshot:create' | 'project:read'
  | 'volume:read' | 'volume:create' | 'volume:change_state' | 'volume:delete';

export const SCOPES: Scope[] = [
  'vm:read', 'vm:create', 'vm:change_state', 'vm:delete', 'snapshot:create', 'project:read',
  'volume:read', 'volume:create', 'volume:change_state', 'volume:delete',
];

/** The API's own check of VM names (VmCreateBody.vm_name). */
export const VM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface Me {
  username: string;
  is_superuser: boolean;
  api_keys_enabled: boolean;
  csrf_token?: string;
}

export interface Amounts {
  vms: number;
  cores: number;
  ram_gb: number;
  volumes: number;
  volume_gb: number;
}

export type Role = 'admin' | 'member' | null;

export interface ProjectSummary {
  id: number;
  name: string;
  description: string;
  role: Role;
}

export interface Project extends ProjectSummary {
  quota: Amounts;
  usage: Amounts;
  members: { username: string; role: 'admin' | 'member' }[];
}

export interface Flavor {
  name: string;
  vcpus: number;
  ram_gb: number;
  disk_gb: number;
}

export interface Image {
  name: string;
  tags: string[];
}

export interface Vm {
  openstack_id: string;
  name: string;
  project_id: number;
  owner: string;
  image_name: string;
  flavor_name: string;
  status: string;
  task_state: string | null;
  fixed_ip: string | null;
  fault?: string | null;
  volumes: string[];
  created_at: string;
  updated_at: string;
}

export interface Volume {
  openstack_id: string;
  name: string;
  project_id: number;
  owner: string;
  storage: number;
  status: string;
  attached_to: string | null;
  device: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  scopes: Scope[];
  own_objects_only: boolean;
  project_id: number | null;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

export interface ApiKeyCreated extends ApiKey {
  key: string;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** A failed call: the API's `detail` is what the user reads. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: Record<string, string[]> = {},
  ) {
    super(detail);
  }
}

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

export async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (UNSAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'The portal cannot be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const d = (data ?? {}) as { detail?: unknown; code?: unknown; errors?: Record<string, string[]> };
    const detail = typeof d.detail === 'string' ? d.detail : `The request failed (HTTP ${res.status}).`;
    const err = new ApiError(res.status, typeof d.code === 'string' ? d.code : 'error', detail, d.errors ?? {});
    if (res.status === 401 && !opts.quiet401) onUnauthenticated();
    throw err;
  }
  return data as T;
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
