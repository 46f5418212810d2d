// Who may reach which objects (spec §4), as data that the repositories turn into `where` clauses.
import type { Principal } from './principal.js';

/**
 * The caller's reach over VMs, volumes and snapshots, at the moment of the request:
 * - a superuser reaches objects in every project; others only in projects they belong to,
 *   all of a project's objects where they are its admin and their own elsewhere;
 * - `ownOnly` (an own-objects key) narrows that to objects the user created;
 * - `projectId` (a project-bound key) narrows it to one project.
 */
export interface Reach {
  userId: number;
  superuser: boolean;
  ownOnly: boolean;
  projectId: number | null;
}

export function reachOf(p: Principal): Reach {
  return {
    userId: p.user.id,
    superuser: p.user.isSuperuser,
    ownOnly: p.key?.ownObjectsOnly ?? false,
    projectId: p.key?.projectId ?? null,
  };
}

/**
 * Projects the caller reaches: every project for a superuser (unless through an own-objects key,
 * which keeps to the projects the user belongs to), otherwise the user's projects; a
 * project-bound key reaches only its project.
 */
export function reachesAllProjects(r: Reach): boolean {
  return r.superuser && !r.ownOnly;
}

/**
 * Whether a user may add and remove a project's members and set their roles (spec §6): the
 * project's admins and superusers. `role` is the user's role in the project (null: none).
 */
export function mayManageMembers(user: { isSuperuser: boolean }, role: 'admin' | 'member' | null): boolean {
  return user.isSuperuser || role === 'admin';
}

/**
 * Whether a user may make and use API keys: everyone, or while keys are in beta
 * (SIMPLEVM_API_KEYS_FOR=superusers) superusers only. The one place this is decided.
 */
export function apiKeysEnabledFor(apiKeysFor: 'superusers' | 'all', user: { isSuperuser: boolean }): boolean {
  return apiKeysFor === 'all' || user.isSuperuser;
}
