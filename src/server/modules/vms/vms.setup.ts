// A VM's first-boot setup reports (spec §10): the VM posts its phases with the token its user data
// carries; the portal keeps the token's digest only, takes each phase once, and keeps the log's tail.
import type { Transaction } from 'kysely';
import { PostgresAdapter } from 'kysely';
import { reachOf } from '../../auth/policy.js';
import type { Principal } from '../../auth/principal.js';
import { constantTimeEqual, sha256Hex } from '../../auth/tokens.js';
import type { Config } from '../../config.js';
import { type AppContext, nowIso } from '../../context.js';
import type { Database } from '../../db/types.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { writeAudit } from '../audit/audit.service.js';
import { isPlausibleId } from '../shared.schemas.js';
import { type SetupRecord, findVm } from './vms.repository.js';

export type SetupPhase = 'running' | 'done' | 'failed';

export interface SetupView {
  state: 'pending' | 'running' | 'done' | 'failed' | 'unknown';
  updated_at: string | null;
  exit_code: number | null;
}


/** At most this much of the setup log is taken (the tail the VM sends). */
export const MAX_SETUP_LOG = 64 * 1024;

export const setupTokenDigest = sha256Hex;

/**
 * The setup as the VM shows it: null when nothing runs at first boot; `unknown` when no report
 * came within SIMPLEVM_SETUP_TIMEOUT_S of the VM becoming ACTIVE.
 */
export function setupOf(config: Pick<Config, 'setupTimeoutS'>, vm: SetupRecord, now = Date.now()): SetupView | null {
  const state = vm.setup_state as SetupView['state'] | null;
  if (state === null) return null;
  return { state: now >= setupOverdueAt(config, vm) ? 'unknown' : state, updated_at: vm.setup_updated_at, exit_code: vm.setup_exit_code };
}

/** When the setup's view turns `unknown` for want of a report (Infinity: it never will as it stands). */
export function setupOverdueAt(config: Pick<Config, 'setupTimeoutS'>, vm: SetupRecord): number {
  const waiting = vm.setup_state === 'pending' || vm.setup_state === 'running';
  return waiting && vm.active_at !== null ? Date.parse(vm.active_at) + config.setupTimeoutS * 1000 + 1 : Number.POSITIVE_INFINITY;
}

/** Which phase may follow which: each is taken once, and nothing after the end. */
const NEXT: Readonly<Record<string, readonly SetupPhase[]>> = { pending: ['running', 'done', 'failed'], running: ['done', 'failed'] };

const tokenMatches = (token: string, digest: string | null): boolean => digest !== null && constantTimeEqual(sha256Hex(token), digest);

/**
 * Takes a report from the VM: 404 for a wrong or missing token (or no such VM: the two are not
 * told apart), 409 when the VM is not ACTIVE or the phase was reported already or comes too late.
 */
export async function reportSetup(
  ctx: AppContext,
  id: string,
  token: string | undefined,
  report: { phase: SetupPhase; exit_code?: number | null; log?: string },
  ip: string | null,
): Promise<SetupView> {
  const lost = () => notFound('No such VM, or not its setup token.');
  if (!token || !isPlausibleId(id)) throw lost();
  if (report.log !== undefined && Buffer.byteLength(report.log, 'utf8') > MAX_SETUP_LOG) throw invalid('log', 'Send at most the last 64 KiB of the log.');
  return ctx.db.kysely.transaction().execute(async (trx: Transaction<Database>) => {
    const pg = trx.getExecutor().adapter instanceof PostgresAdapter;
    const query = trx
      .selectFrom('vms')
      .select(['openstack_id', 'owner_id', 'project_id', 'status', 'setup_state', 'setup_token_digest', 'setup_updated_at', 'setup_exit_code', 'active_at'])
      .where('openstack_id', '=', id);
    const vm = await (pg ? query.forUpdate() : query).executeTakeFirst();
    if (!vm || !tokenMatches(token, vm.setup_token_digest)) throw lost();
    if (vm.status !== 'ACTIVE') throw new AppError('invalid_state', `The VM is ${vm.status}: setup reports are taken while it is ACTIVE.`);
    if (!(NEXT[vm.setup_state ?? ''] ?? []).includes(report.phase)) {
      throw new AppError('invalid_state', `The setup is ${vm.setup_state}: a "${report.phase}" report is not taken now.`);
    }
    const now = nowIso();
    const patch = {
      setup_state: report.phase,
      setup_updated_at: now,
      setup_exit_code: report.phase === 'running' ? null : (report.exit_code ?? (report.phase === 'done' ? 0 : null)),
      ...(report.log !== undefined ? { setup_log: report.log } : {}),
      updated_at: now,
    };
    await trx.updateTable('vms').set(patch).where('openstack_id', '=', id).execute();
    await writeAudit(trx, null, null, ip, {
      action: 'vm.setup_report', objectType: 'vm', objectId: id, subjectId: vm.owner_id, projectId: vm.project_id, detail: { phase: report.phase },
    });
    return setupOf(ctx.config, { ...vm, ...patch }) as SetupView;
  });
}

/** The kept setup log of a VM within reach: empty when none came yet, or nothing runs at its first boot. */
export async function setupLogOf(ctx: AppContext, p: Principal, id: string): Promise<string> {
  const vm = isPlausibleId(id) ? await findVm(ctx.db.kysely, reachOf(p), id) : undefined;
  if (!vm) throw notFound('No such VM.');
  const row = await ctx.db.kysely.selectFrom('vms').select('setup_log').where('openstack_id', '=', id).executeTakeFirst();
  return row?.setup_log ?? '';
}
