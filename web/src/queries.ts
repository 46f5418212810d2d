// The server's state as the web app holds it, on @tanstack/react-query: every read is a query here
// (its key, its call, when it polls), every write a mutation that refreshes the queries it affects.
// Pages only combine them with useQuery and useMutation. One QueryClient (createQueryClient) serves
// the whole app; main.tsx makes it.
import {
  MutationCache, QueryCache, QueryClient, hashKey, keepPreviousData, queryOptions, useMutation, useMutationState, useQueryClient,
} from '@tanstack/react-query';
import type { operations } from '../../src/client/schema';
import { vmInTransition, volumeInTransition } from '../../src/shared/contract';
import { type Me, type OidcInfo, type Page, type Vm, type Volume, ApiError, call, client, setCsrfToken } from './api';

declare module '@tanstack/react-query' {
  interface Register {
    // Every query and mutation below calls the API through `call`, whose failures are ApiErrors.
    defaultError: ApiError;
  }
}

/** Rows per page of the VM, volume and audit lists. */
export const PAGE_SIZE = 50;
/** How often a list is read again while something in it changes state. */
const POLL_MS = 1000;
/** How often a VM is read again while its first-boot setup is pending or running (it may take many minutes). */
const SETUP_POLL_MS = 2000;

/** The JSON body an operation of the API takes, as the OpenAPI document types it. */
type BodyOf<O extends keyof operations> = operations[O] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
export type VolumeActionBody = BodyOf<'volumeAction'>;
export type VmCreateBody = BodyOf<'createVm'>;

export interface ProjectFilter {
  project_id?: number;
}
/** The project filter of a page's address (`?project=`; '' for all projects). */
export function projectFilter(projectId: string): ProjectFilter {
  return projectId ? { project_id: Number(projectId) } : {};
}

export interface AuditFilter {
  action?: string;
  /** Only the caller's own events, also for a superuser (the profile's list). */
  mine?: boolean;
}

/**
 * Query keys, by resource: a write invalidates its resource's prefix (`['vms']`), which reaches every
 * page and filter of that list. A list's key ends with its page number, which placeholderData relies on.
 */
const keys = {
  me: ['auth', 'me'] as const,
  oidc: ['auth', 'oidc'] as const,
  projects: ['projects'] as const,
  vms: ['vms'] as const,
  volumes: ['volumes'] as const,
  apiKeys: ['keys'] as const,
  sshKeys: ['ssh-keys'] as const,
  audit: ['audit'] as const,
  researchEnvironments: ['research-environments'] as const,
  conda: ['conda'] as const,
};

/** Writes to one VM (an action, or its deletion); rows read whether they are busy by this key. */
export const VM_CHANGE = ['vms', 'change'] as const;
/** Writes to one volume (attach, detach, extend, delete). */
export const VOLUME_CHANGE = ['volumes', 'change'] as const;

/**
 * While another page of the same list loads, the page in hand stays on screen (and its pager with
 * it); after a filter change it does not, as its rows would not match the filter shown.
 */
function keepPageOf(queryKey: readonly unknown[]) {
  const list = hashKey(queryKey.slice(0, -1));
  return <T>(previous: T | undefined, previousQuery: { queryKey: readonly unknown[] } | undefined): T | undefined =>
    previousQuery && hashKey(previousQuery.queryKey.slice(0, -1)) === list ? previous : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/** The session: who is logged in, or null when nobody is (the login page). */
export const meQuery = queryOptions({
  queryKey: keys.me,
  queryFn: async ({ signal }): Promise<Me | null> => {
    try {
      const me = await call(client.GET('/api/auth/me', { signal }));
      if (me.csrf_token !== undefined) setCsrfToken(me.csrf_token);
      return me;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  },
  // The session changes only by logging in or out (or a 401), which set this query's data themselves.
  staleTime: Infinity,
});

/** What the login page assumes when the portal cannot say: password login, no single sign-on. */
export const NO_OIDC: OidcInfo = { enabled: false, name: null, login_url: null, local_login: true };

/** Whether the portal offers single sign-on, and passwords. */
export const oidcQuery = queryOptions({
  queryKey: keys.oidc,
  queryFn: async ({ signal }): Promise<OidcInfo> => {
    try {
      return await call(client.GET('/api/auth/oidc', { signal }));
    } catch {
      return NO_OIDC;
    }
  },
});

export const projectsQuery = queryOptions({
  queryKey: [...keys.projects, 'list'] as const,
  queryFn: ({ signal }) => call(client.GET('/api/projects', { signal })),
});

/** A project with its quota, usage and members. */
export const projectQuery = (id: number) =>
  queryOptions({
    queryKey: [...keys.projects, 'detail', id] as const,
    queryFn: ({ signal }) => call(client.GET('/api/projects/{id}', { params: { path: { id } }, signal })),
  });

/** A project's members and their roles (GET …/members/); under keys.projects, so a member write refreshes the project too. */
export const membersQuery = (id: number) =>
  queryOptions({
    queryKey: [...keys.projects, 'members', id] as const,
    queryFn: ({ signal }) => call(client.GET('/api/projects/{id}/members', { params: { path: { id } }, signal })),
  });

export const imagesQuery = (id: number) =>
  queryOptions({
    queryKey: [...keys.projects, 'images', id] as const,
    queryFn: ({ signal }) => call(client.GET('/api/projects/{id}/images', { params: { path: { id } }, signal })),
  });

export const flavorsQuery = (id: number) =>
  queryOptions({
    queryKey: [...keys.projects, 'flavors', id] as const,
    queryFn: ({ signal }) => call(client.GET('/api/projects/{id}/flavors', { params: { path: { id } }, signal })),
  });

/** One page of the VM list; read again every second while a VM on it changes state. */
export function vmPageQuery(filter: ProjectFilter, page: number) {
  const queryKey = [...keys.vms, 'page', filter, page] as const;
  return queryOptions({
    queryKey,
    queryFn: ({ signal }) => call(client.GET('/api/vms', { params: { query: { ...filter, page, page_size: PAGE_SIZE } }, signal })),
    placeholderData: keepPageOf(queryKey),
    refetchInterval: (query) => (query.state.data?.results.some(vmInTransition) ? POLL_MS : false),
  });
}

/** Whether the VM's first boot is still at work, as far as the portal knows: its setup is pending or running. */
export const vmSetupInProgress = (vm: Pick<Vm, 'setup'>): boolean => vm.setup?.state === 'pending' || vm.setup?.state === 'running';

/**
 * One VM (also when DELETED); read again every second while it changes state, as the list is, and
 * every two seconds while its first-boot setup has not reported its end.
 */
export const vmQuery = (id: string) =>
  queryOptions({
    queryKey: [...keys.vms, 'detail', id] as const,
    queryFn: ({ signal }) => call(client.GET('/api/vms/{openstack_id}', { params: { path: { openstack_id: id } }, signal })),
    refetchInterval: (query) => {
      const vm = query.state.data;
      if (!vm) return false;
      if (vmInTransition(vm)) return POLL_MS;
      return vmSetupInProgress(vm) && vm.status !== 'DELETED' ? SETUP_POLL_MS : false;
    },
  });

/**
 * The tail of a VM's first-boot setup log (text/plain), as it last reported it. `reportedAt` (the
 * setup's updated_at) is part of the key, so a new report brings the new log.
 */
export const vmSetupLogQuery = (id: string, reportedAt: string | null) =>
  queryOptions({
    queryKey: [...keys.vms, 'setup-log', id, reportedAt] as const,
    queryFn: ({ signal }) =>
      call(client.GET('/api/vms/{openstack_id}/setup/log', { params: { path: { openstack_id: id } }, parseAs: 'text', signal })),
    placeholderData: keepPreviousData,
  });

/** Up to 500 VMs in one read: what volumes can be attached to, and the names of those they are. */
export const vmChoicesQuery = (filter: ProjectFilter, poll: boolean) =>
  queryOptions({
    queryKey: [...keys.vms, 'choices', filter] as const,
    queryFn: ({ signal }) => call(client.GET('/api/vms', { params: { query: { ...filter, page_size: 500 } }, signal })),
    refetchInterval: poll ? POLL_MS : false,
  });

/** One page of the volume list; read again every second while a volume on it changes state. */
export function volumePageQuery(filter: ProjectFilter, page: number) {
  const queryKey = [...keys.volumes, 'page', filter, page] as const;
  return queryOptions({
    queryKey,
    queryFn: ({ signal }) => call(client.GET('/api/volumes', { params: { query: { ...filter, page, page_size: PAGE_SIZE } }, signal })),
    placeholderData: keepPageOf(queryKey),
    refetchInterval: (query) => (query.state.data?.results.some(volumeInTransition) ? POLL_MS : false),
  });
}

/** Up to 500 volumes of a project, optionally of one status (`available`: what a new VM can be given). */
export const projectVolumesQuery = (projectId: number, status?: string) =>
  queryOptions({
    queryKey: [...keys.volumes, 'project', projectId, status ?? 'all'] as const,
    queryFn: ({ signal }) =>
      call(client.GET('/api/volumes', { params: { query: { project_id: projectId, ...(status ? { status } : {}), page_size: 500 } }, signal })),
  });

/**
 * The volumes attached to a VM (its `volumes`, ids), read from its project's volumes: read again
 * when the VM's list of ids changes (it is in the key), and every second while one changes state.
 */
export const vmVolumesQuery = (vm: Pick<Vm, 'openstack_id' | 'project_id' | 'volumes'>) =>
  queryOptions({
    queryKey: [...keys.volumes, 'of-vm', vm.openstack_id, vm.volumes] as const,
    queryFn: async ({ signal }) => {
      const page = await call(client.GET('/api/volumes', { params: { query: { project_id: vm.project_id, page_size: 500 } }, signal }));
      return page.results.filter((v) => vm.volumes.includes(v.openstack_id) || v.attached_to === vm.openstack_id);
    },
    refetchInterval: (query) => (query.state.data?.some(volumeInTransition) ? POLL_MS : false),
  });

/** The research environment templates; the portal reads them once, when it starts. */
export const researchEnvironmentsQuery = queryOptions({
  queryKey: [...keys.researchEnvironments, 'list'] as const,
  queryFn: ({ signal }) => call(client.GET('/api/research-environments', { signal })),
  staleTime: Infinity,
});

/**
 * Conda packages of the portal's catalogue whose name contains `q` (the New VM form's picker). The
 * portal reads its catalogue once, when it starts; while the next answer loads, the last one stays.
 */
export const condaPackagesQuery = (q: string) =>
  queryOptions({
    queryKey: [...keys.conda, 'search', q] as const,
    queryFn: ({ signal }) => call(client.GET('/api/conda/packages', { params: { query: { q } }, signal })),
    staleTime: Infinity,
    placeholderData: keepPreviousData,
  });

/**
 * The user's live keys: all of them, or with `projectId` those bound to that project. Both under
 * keys.apiKeys, so every key write refreshes both lists.
 */
export const apiKeysQuery = (projectId?: number) =>
  queryOptions({
    queryKey: [...keys.apiKeys, 'list', projectId ?? 'all'] as const,
    queryFn: ({ signal }) =>
      call(projectId === undefined ? client.GET('/api/keys', { signal }) : client.GET('/api/projects/{id}/keys', { params: { path: { id: projectId } }, signal })),
  });

/** The user's public SSH keys (the profile's SSH keys section). */
export const sshKeysQuery = queryOptions({
  queryKey: [...keys.sshKeys, 'list'] as const,
  queryFn: ({ signal }) => call(client.GET('/api/profile/ssh-keys', { signal })),
});

/** One page of the audit log: a superuser's is everyone's (unless `mine`), anyone else's their own. */
export function auditPageQuery(filter: AuditFilter, page: number) {
  const queryKey = [...keys.audit, 'page', filter, page] as const;
  return queryOptions({
    queryKey,
    queryFn: ({ signal }) => call(client.GET('/api/audit', { params: { query: { ...filter, page, page_size: PAGE_SIZE } }, signal })),
    placeholderData: keepPageOf(queryKey),
  });
}

// ---------------------------------------------------------------------------------------------
// Writes. Each refreshes what it affects; its onSuccess returns that refresh, so the mutation ends
// (a dialog closes, a button is enabled again) once the page shows the write's effect.
// ---------------------------------------------------------------------------------------------

/** Logs in with a password; its result becomes the session (meQuery). */
export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: ['auth', 'login'],
    // Its variables hold the password: gone from the cache as soon as the login form is.
    gcTime: 0,
    mutationFn: async (body: BodyOf<'login'>): Promise<Me | null> => {
      const answer = await call(client.POST('/api/auth/login', { body }));
      setCsrfToken(answer.csrf_token);
      // Another user may have used this tab before: nothing of theirs stays in the cache.
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== keys.me[0] });
      // The login answer has the user and token; /me adds what the pages need (the beta gate).
      return queryClient.fetchQuery({ ...meQuery, staleTime: 0 });
    },
  });
}

/** Ends the session; the result is the provider's end-session URL (single sign-on), or null. */
export function useLogout() {
  return useMutation({
    mutationKey: ['auth', 'logout'],
    mutationFn: async (): Promise<string | null> => {
      // A single sign-on session ends at the provider too; its URL must be asked for while the session lives.
      const endSession = await call(client.GET('/api/auth/oidc/end-session')).then(
        (answer) => answer.url,
        () => null,
      );
      try {
        await call(client.POST('/api/auth/logout'));
      } catch (e) {
        // A session that has ended already is logged out all the same.
        if (!(e instanceof ApiError && e.status === 401)) throw e;
      }
      setCsrfToken(null);
      return endSession;
    },
  });
}

export function useCreateVm() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: BodyOf<'createVm'>) => call(client.POST('/api/vms', { body })),
    // The VM is in its project's lists now, and counts against its quota.
    onSuccess: () => Promise.all([queryClient.invalidateQueries({ queryKey: keys.vms }), queryClient.invalidateQueries({ queryKey: keys.projects })]),
  });
}

/**
 * Replaces `item` by the answer in hand wherever the cache under `queryKey` holds it: its row in
 * every cached page or list, and its own detail (vmQuery).
 */
async function showAnswer<T extends { openstack_id: string }>(queryClient: QueryClient, queryKey: readonly unknown[], item: T): Promise<void> {
  // A read already on its way is older than this answer: it must not overwrite it.
  await queryClient.cancelQueries({ queryKey });
  const swap = (x: T): T => (x.openstack_id === item.openstack_id ? item : x);
  queryClient.setQueriesData<Page<T> | T[] | T>({ queryKey }, (cached) => {
    if (!cached) return cached;
    if (Array.isArray(cached)) return (cached as T[]).map(swap);
    const one = cached as Page<T> | T;
    return isPage<T>(one) ? { ...one, results: one.results.map(swap) } : swap(one as T);
  });
}

const isPage = <T>(cached: Page<T> | T): cached is Page<T> => typeof cached === 'object' && cached !== null && 'results' in cached;

/** The VM as the answer shows it at once; then every VM list is read again (and polls while it changes). */
async function vmChanged(queryClient: QueryClient, vm: Vm, quota: boolean): Promise<void> {
  await showAnswer(queryClient, keys.vms, vm);
  await Promise.all([
    queryClient.invalidateQueries({ queryKey: keys.vms }),
    quota ? queryClient.invalidateQueries({ queryKey: keys.projects }) : null,
  ]);
}

export function useVmAction() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: VM_CHANGE,
    mutationFn: ({ id, ...body }: { id: string } & BodyOf<'vmAction'>) =>
      call(client.POST('/api/vms/{openstack_id}/action', { params: { path: { openstack_id: id } }, body })),
    onSuccess: (vm) => vmChanged(queryClient, vm, false),
  });
}

export function useVmDelete() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: VM_CHANGE,
    mutationFn: ({ id }: { id: string }) => call(client.DELETE('/api/vms/{openstack_id}', { params: { path: { openstack_id: id } } })),
    // A deleted VM frees its quota.
    onSuccess: (vm) => vmChanged(queryClient, vm, true),
  });
}

/** The volume as the answer shows it; then the volume lists and the quotas (sizes change) are read again. */
async function volumeChanged(queryClient: QueryClient, volume: Volume | null): Promise<void> {
  if (volume) await showAnswer(queryClient, keys.volumes, volume);
  await Promise.all([queryClient.invalidateQueries({ queryKey: keys.volumes }), queryClient.invalidateQueries({ queryKey: keys.projects })]);
}

export function useCreateVolume() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: BodyOf<'createVolume'>) => call(client.POST('/api/volumes', { body })),
    onSuccess: () => volumeChanged(queryClient, null),
  });
}

export function useVolumeAction() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: VOLUME_CHANGE,
    mutationFn: ({ id, ...body }: { id: string } & VolumeActionBody) =>
      call(client.POST('/api/volumes/{openstack_id}/action', { params: { path: { openstack_id: id } }, body })),
    onSuccess: (volume) => volumeChanged(queryClient, volume),
  });
}

export function useVolumeDelete() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: VOLUME_CHANGE,
    mutationFn: ({ id }: { id: string }) => call(client.DELETE('/api/volumes/{openstack_id}', { params: { path: { openstack_id: id } } })),
    onSuccess: (volume) => volumeChanged(queryClient, volume),
  });
}

/**
 * Sets the user's own password; the session goes on (the portal ends the user's other sessions).
 * It writes `password.change`, which the profile's audit list shows.
 */
export function useChangePassword() {
  const queryClient = useQueryClient();
  return useMutation({
    // Its variables hold both passwords: gone from the cache as soon as the form is.
    gcTime: 0,
    mutationFn: (body: BodyOf<'changePassword'>) => call(client.POST('/api/auth/password', { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.audit }),
  });
}

/**
 * Member writes change the members, the caller's own role when they change their own, and what the
 * caller reaches when they remove themselves: every project query is read again, and the audit log.
 */
function membersChanged(queryClient: QueryClient): Promise<unknown> {
  return Promise.all([queryClient.invalidateQueries({ queryKey: keys.projects }), queryClient.invalidateQueries({ queryKey: keys.audit })]);
}

/** Adds a member to a project, or sets an existing member's role. */
export function useSetMember() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ projectId, ...body }: { projectId: number } & BodyOf<'setProjectMember'>) =>
      call(client.POST('/api/projects/{id}/members', { params: { path: { id: projectId } }, body })),
    onSuccess: () => membersChanged(queryClient),
  });
}

export function useRemoveMember() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ projectId, username }: { projectId: number; username: string }) =>
      call(client.DELETE('/api/projects/{id}/members/{username}', { params: { path: { id: projectId, username } } })),
    onSuccess: () => membersChanged(queryClient),
  });
}

/** Key writes change the key list, and write audit events the profile shows beside it. */
function keysChanged(queryClient: QueryClient): Promise<unknown> {
  return Promise.all([queryClient.invalidateQueries({ queryKey: keys.apiKeys }), queryClient.invalidateQueries({ queryKey: keys.audit })]);
}

export function useCreateKey() {
  const queryClient = useQueryClient();
  return useMutation({
    // Its answer holds the secret, shown once: gone from the cache as soon as the form is.
    gcTime: 0,
    mutationFn: (body: BodyOf<'createKey'>) => call(client.POST('/api/keys', { body })),
    onSuccess: () => keysChanged(queryClient),
  });
}

export function useRotateKey() {
  const queryClient = useQueryClient();
  return useMutation({
    // Its answer holds the new secret, shown once: gone from the cache as soon as the dialog is.
    gcTime: 0,
    mutationFn: ({ id, ...body }: { id: number } & BodyOf<'rotateKey'>) => call(client.POST('/api/keys/{id}/rotate', { params: { path: { id } }, body })),
    onSuccess: () => keysChanged(queryClient),
  });
}

export function useDeleteKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id }: { id: number }) => call(client.DELETE('/api/keys/{id}', { params: { path: { id } } })),
    onSuccess: () => keysChanged(queryClient),
  });
}

/** SSH key writes change the key list, and write audit events the profile shows beside it. */
function sshKeysChanged(queryClient: QueryClient): Promise<unknown> {
  return Promise.all([queryClient.invalidateQueries({ queryKey: keys.sshKeys }), queryClient.invalidateQueries({ queryKey: keys.audit })]);
}

/** Adds a pasted public key, or (generate: true) has a key pair made. */
export function useCreateSshKey() {
  const queryClient = useQueryClient();
  return useMutation({
    // A generated key's answer holds the private key, handed over once: gone from the cache with the form.
    gcTime: 0,
    mutationFn: (body: BodyOf<'createSshKey'>) => call(client.POST('/api/profile/ssh-keys', { body })),
    onSuccess: () => sshKeysChanged(queryClient),
  });
}

export function useDeleteSshKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id }: { id: number }) => call(client.DELETE('/api/profile/ssh-keys/{id}', { params: { path: { id } } })),
    onSuccess: () => sshKeysChanged(queryClient),
  });
}

/** The rows (by id) that a write under `mutationKey` is running on, to disable their buttons meanwhile. */
export function useBusyIds(mutationKey: readonly unknown[]): ReadonlySet<string> {
  const ids = useMutationState({ filters: { mutationKey, status: 'pending' }, select: (m) => (m.state.variables as { id: string }).id });
  return new Set(ids);
}

/**
 * The one QueryClient of the app. No retries: a refusal is shown at once, with its detail, as
 * before. `networkMode: 'always'`: the portal may be on this machine or an intranet that the
 * browser's online flag knows nothing of, and a failed call says the portal cannot be reached.
 */
export function createQueryClient(): QueryClient {
  // A call answered 401 while logged in means the session ended (expired, or logged out elsewhere):
  // the app shows the login page, which brings the user back to this page.
  const sessionEnded = (error: ApiError) => {
    if (error instanceof ApiError && error.status === 401 && queryClient.getQueryData(meQuery.queryKey)) {
      setCsrfToken(null);
      queryClient.setQueryData(meQuery.queryKey, null);
    }
  };
  const queryClient: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: sessionEnded }),
    mutationCache: new MutationCache({ onError: sessionEnded }),
    defaultOptions: {
      queries: { retry: false, networkMode: 'always' },
      mutations: { networkMode: 'always' },
    },
  });
  return queryClient;
}
