// What the worker needs of a transition (ask the cloud, check whether it is done, write the end
// state) and the registry in which it finds each one. The resources define their transitions
// (modules/<resource>/<resource>.transitions.ts) and the composition root (portal.ts) registers
// them, so that the engine knows no resource and a resource's life stays in its own folder.
import type { Transaction } from 'kysely';
import type { CloudProvider } from '../cloud/provider.js';
import type { Database, Transition } from '../db/types.js';

export type Finish = (trx: Transaction<Database>, nowIso: string) => Promise<void>;

/** `pending`: look again later; otherwise the function that writes the end state. */
export type CheckResult = { pending: true } | { pending: false; outcome: 'success' | 'error'; finish: Finish };

export interface TransitionDefinition {
  call(cloud: CloudProvider, t: Transition, params: Record<string, unknown>): Promise<void>;
  check(cloud: CloudProvider, t: Transition, params: Record<string, unknown>): Promise<CheckResult>;
  /** The end state when the transition fails for good (timeout, persistent cloud errors). */
  fail(t: Transition, params: Record<string, unknown>, reason: string): Finish;
}

export const pending: CheckResult = { pending: true };
export const done = (finish: Finish): CheckResult => ({ pending: false, outcome: 'success', finish });
export const failed = (finish: Finish): CheckResult => ({ pending: false, outcome: 'error', finish });

/**
 * Every object type's transitions, by action: a transitions row names its definition by its
 * `object_type` and `action`. Typed by the table's object types, so that one left out does not compile.
 */
export type TransitionRegistry = { readonly [T in Transition['object_type']]: Readonly<Record<string, TransitionDefinition>> };

export function definitionFor(registry: TransitionRegistry, t: Pick<Transition, 'object_type' | 'action'>): TransitionDefinition {
  // Own properties only: an action read from the database must never find an Object.prototype member.
  const byAction = Object.hasOwn(registry, t.object_type) ? registry[t.object_type] : undefined;
  const d = byAction && Object.hasOwn(byAction, t.action) ? byAction[t.action] : undefined;
  if (!d) throw new Error(`no transition ${t.object_type}:${t.action}`);
  return d;
}
