// Writing the audit log (spec §7). An act and its event commit together: `auditedTransaction`
// runs the act and writes its success event in one database transaction; when the act is refused
// (bad input, wrong state, quota), the refusal is recorded as a failure after the rollback.
import type { Transaction } from 'kysely';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import type { Database } from '../../db/types.js';
import { AppError } from '../../errors.js';
import { insertAuditEvent } from './audit.repository.js';
import type { AuditAction } from '../../../shared/contract.js';

export interface AuditEvent {
  action: AuditAction;
  objectType?: string | null;
  objectId?: string | null;
  /** The user whose object or key the act concerns (they see the event in their log). */
  subjectId?: number | null;
  /** The project the act concerns: a key bound to a project sees only that project's events. */
  projectId?: number | null;
  outcome?: 'success' | 'failure';
  /** Overrides the principal's key prefix (for acts on a key). */
  keyPrefix?: string | null;
  /**
   * What the bare action does not say (spec §7): the `os_action` of an action, the name of what is
   * created; a failure adds its error `code`. Small and never secret: it is shown to the user.
   */
  detail?: AuditDetail | null;
}

export type AuditDetail = Record<string, string | number | boolean | null>;

type Q = AppContext['db']['kysely'] | Transaction<Database>;

export async function writeAudit(q: Q, actor: { id: number; username: string } | null, keyPrefix: string | null, ip: string | null, e: AuditEvent): Promise<void> {
  await insertAuditEvent(q, {
    at: new Date().toISOString(),
    actor_id: actor?.id ?? null,
    actor: actor?.username ?? null,
    key_prefix: e.keyPrefix !== undefined ? e.keyPrefix : keyPrefix,
    action: e.action,
    object_type: e.objectType ?? null,
    object_id: e.objectId ?? null,
    subject_id: e.subjectId ?? null,
    project_id: e.projectId ?? null,
    ip,
    outcome: e.outcome ?? 'success',
    detail: e.detail ? JSON.stringify(e.detail) : null,
  });
}

export const auditAs = (q: Q, p: Principal, e: AuditEvent) => writeAudit(q, p.user, p.key?.prefix ?? null, p.ip, e);

const RECORDED_REFUSALS = new Set(['invalid', 'invalid_state', 'quota_exceeded', 'permission_denied']);

/**
 * Runs an act in a transaction together with its audit event. `fn` fills in what it learns of the
 * event (object id, owner) as it goes. A refusal is recorded with its error code in `detail`, and
 * with only the object id the act was called with: an id `fn` set names an object that it was
 * creating, and that the rollback undid (a refused create names no object, spec §7).
 */
export async function auditedTransaction<T>(
  ctx: AppContext,
  p: Principal,
  event: AuditEvent,
  fn: (trx: Transaction<Database>, event: AuditEvent) => Promise<T>,
): Promise<T> {
  const e: AuditEvent = { ...event };
  try {
    return await ctx.db.kysely.transaction().execute(async (trx) => {
      const result = await fn(trx, e);
      await auditAs(trx, p, { ...e, outcome: 'success' });
      return result;
    });
  } catch (err) {
    // A refusal of an act on an object within reach is worth recording; an unknown object is not.
    if (err instanceof AppError && RECORDED_REFUSALS.has(err.code)) {
      const failure: AuditEvent = { ...e, objectId: event.objectId ?? null, outcome: 'failure', detail: { ...e.detail, code: err.code } };
      await auditAs(ctx.db.kysely, p, failure).catch(() => {});
    }
    throw err;
  }
}
