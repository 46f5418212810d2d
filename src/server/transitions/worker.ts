// The one worker that drives transitions in flight. Each instance runs one; a transition is
// claimed with a lease, so exactly one worker drives it, and a dead instance's work is taken
// over once its lease runs out (or at once, when it shut down cleanly and released it).
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { CloudProvider } from '../cloud/provider.js';
import type { Db } from '../db/index.js';
import type { Transition } from '../db/types.js';
import { type Finish, type TransitionRegistry, definitionFor } from './definitions.js';
import {
  claimTransition, completeTransition, findClaimedTransition, listDueTransitions, releaseLeases, rescheduleTransition,
} from './transitions.repository.js';

export interface WorkerOptions {
  pollMs: number;
  leaseMs: number;
  batch?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class TransitionWorker {
  readonly id = `worker-${randomUUID()}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly cloud: CloudProvider,
    /** Each resource's transitions, registered by the composition root (portal.ts). */
    private readonly transitions: TransitionRegistry,
    private readonly log: FastifyBaseLogger,
    private readonly opts: WorkerOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // The id that transitions.lease_owner and transition_history.finished_by name this instance by.
    this.log.info({ worker: this.id }, 'transition worker started');
    this.schedule(0);
  }

  /** Looks for due work now (called after a request queued a transition). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops taking work, waits for the current round and gives back this instance's leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    try {
      await releaseLeases(this.db.kysely, this.id);
    } catch (err) {
      this.log.warn({ err }, 'could not release transition leases');
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick().then(() => undefined).finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        } else {
          this.schedule(this.opts.pollMs);
        }
      });
    }, ms);
    this.timer.unref?.();
  }

  /** One round: claims what is due and advances each claimed transition by one step. */
  async tick(): Promise<number> {
    let due: Transition[];
    try {
      due = await listDueTransitions(this.db.kysely, iso(Date.now()), this.opts.batch ?? 32);
    } catch (err) {
      this.log.warn({ err }, 'transition worker cannot read the database');
      return 0;
    }
    let advanced = 0;
    await Promise.all(
      due.map(async (t) => {
        try {
          const now = Date.now();
          if (!(await claimTransition(this.db.kysely, t.id, this.id, iso(now), iso(now + this.opts.leaseMs)))) return;
          // Another instance may have moved it on between our listing and our claim: act on it as it is now.
          const claimed = await findClaimedTransition(this.db.kysely, t.id, this.id);
          if (!claimed) return;
          advanced += 1;
          await this.advance(claimed);
        } catch (err) {
          this.log.warn({ err, transition: t.id }, 'transition step failed; it will be retried');
        }
      }),
    );
    return advanced;
  }

  private async advance(t: Transition): Promise<void> {
    const def = definitionFor(this.transitions, t);
    const params = JSON.parse(t.params) as Record<string, unknown>;
    const now = Date.now();
    if (t.deadline_at <= iso(now)) {
      await this.complete(t, 'error', def.fail(t, params, `The ${t.action} did not finish in time.`));
      return;
    }
    try {
      if (t.phase === 'call') {
        await def.call(this.cloud, t, params);
        await rescheduleTransition(this.db.kysely, t.id, this.id, iso(Date.now() + this.cloud.pollIntervalMs), 'poll');
        return;
      }
      const result = await def.check(this.cloud, t, params);
      if (result.pending) {
        await rescheduleTransition(this.db.kysely, t.id, this.id, iso(Date.now() + Math.min(this.cloud.pollIntervalMs, 2000)), 'poll');
        return;
      }
      await this.complete(t, result.outcome, result.finish);
    } catch (err) {
      // The cloud failed to answer: back off and try again until the deadline.
      const backoff = Math.min(30_000, 250 * 2 ** Math.min(t.attempts, 7));
      this.log.warn({ err, transition: t.id, attempts: t.attempts }, 'cloud request failed; retrying');
      await rescheduleTransition(this.db.kysely, t.id, this.id, iso(Date.now() + backoff), t.phase);
    }
  }

  private async complete(t: Transition, outcome: 'success' | 'error', finish: Finish): Promise<void> {
    await this.db.kysely.transaction().execute(async (trx) => {
      const nowIso = iso(Date.now());
      if (await completeTransition(trx, t, this.id, outcome, nowIso)) await finish(trx, nowIso);
    });
  }
}
