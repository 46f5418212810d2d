// Key changes across instances, on PostgreSQL: what lets each instance keep verified keys in memory
// (modules/keys/keys.verify.ts) while a revocation still holds everywhere before its DELETE answers.
//
//   - Writes that change a key check's answer NOTIFY `simplevm_keys` with `u:<user id>` from a
//     trigger, in their own transaction (migration 202612070002): heard at the commit, never before.
//   - Each serving instance LISTENs on a connection of its own and drops the user's entries as it
//     hears them. It keeps a heartbeat row (`portal_instances`) with a lease, and says in it whether
//     it answers from memory (`caching`).
//   - A change is settled (settleKeyChanges) by a barrier: `b:<n>` sent after the change committed.
//     PostgreSQL delivers notifications in commit order, so an instance that has heard the barrier
//     has heard the change; it acknowledges (`key_cache_acks`). The writer waits until every live
//     caching instance has acknowledged, or its lease has lapsed.
//   - Fail closed: an instance answers from memory only while it is listening and its own lease (as
//     it last wrote it, by its own clock, less a margin) holds. When its LISTEN connection is lost
//     it drops everything, says `caching = 0`, and reads every key from the database until it
//     listens again.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

export const KEY_CHANNEL = 'simplevm_keys';

export interface KeyFeedTiming {
  /** How long a heartbeat keeps an instance live (default 4 s): the longest a revocation waits for a silent instance. */
  leaseMs: number;
  /** How often the heartbeat is written (default 1 s). */
  heartbeatMs: number;
}

const DEFAULT_TIMING: KeyFeedTiming = { leaseMs: 4000, heartbeatMs: 1000 };
/** The instance stops trusting its memory this long before the lease it wrote lapses. */
const MARGIN_MS = 500;
/** Acknowledgements and dead instances' rows are swept this often, and kept this long. */
const SWEEP_EVERY_MS = 30_000;
const ACKS_KEPT_MS = 60_000;
const DEAD_ROWS_KEPT_MS = 3_600_000;

const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

type Queryable = Pick<pg.Pool, 'query'>;

/** What an instance is told: a user's key checks may answer differently (`null`: anyone's). */
export type KeyChangeListener = (userId: number | null) => void;

export class KeyFeed {
  readonly instanceId = randomUUID();
  /**
   * Changes at every change heard and whenever the instance starts or stops trusting its memory.
   * A read that began at one generation may be kept only if the generation is still the same when
   * it ends: nothing it read can have changed since unheard.
   */
  generation = 0;
  private client: pg.Client | null = null;
  private listening = false;
  /** performance.now() until which the lease this instance last wrote holds (less the margin). */
  private trustedUntil = 0;
  private readonly listeners = new Set<KeyChangeListener>();
  private readonly timing: KeyFeedTiming;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastSweep = 0;
  /** The heartbeat row's writes, one after another, so that a later `caching` is never overwritten by an earlier one. */
  private rowWrites: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pool: Queryable,
    private readonly url: string,
    timing: Partial<KeyFeedTiming> = {},
    private readonly warn: (msg: string, err?: unknown) => void = () => {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...timing };
  }

  /** Listens, writes the first heartbeat, and keeps both going until close(). */
  async start(): Promise<void> {
    await this.connect();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.timing.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  onChange(listener: KeyChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** May key checks be answered from memory now? False while not listening or once the lease may have lapsed. */
  trusted(): boolean {
    if (!this.listening) return false;
    if (performance.now() < this.trustedUntil) return true;
    if (this.trustedUntil !== 0) {
      // The lease may have lapsed: a revocation may have stopped waiting for this instance.
      this.trustedUntil = 0;
      this.dropAll();
    }
    return false;
  }

  /** The backend process id of the LISTEN connection (tests and the benchmark cut it with pg_terminate_backend). */
  get listenerPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.distrust();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
    // A heartbeat stuck on a dead connection must not hold the shutdown up.
    await Promise.race([this.rowWrites, new Promise((r) => setTimeout(r, 2000).unref())]);
    // Gone: no revocation waits for this instance any more.
    await this.pool.query('delete from portal_instances where id = $1', [this.instanceId]).catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: `simplevm-listen ${this.instanceId}`.slice(0, 63) });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => {
      if (client === this.client) this.heard(n.payload ?? '');
    });
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    // Heard from the moment LISTEN takes effect (a barrier then is acknowledged, though nothing is
    // kept yet): a revocation that sees this instance's row say `caching` must not wait for nothing.
    this.client = client;
    try {
      await client.query(`listen ${KEY_CHANNEL}`);
    } catch (err) {
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      throw err;
    }
    this.listening = true;
    // Anything read before this moment was read while not listening: none of it may be kept.
    this.generation++;
    await this.heartbeat();
  }

  /** The LISTEN connection ended: forget everything, say so, and listen again as soon as possible. */
  private lost(client: pg.Client, err?: unknown): void {
    if (client !== this.client) return;
    this.client = null;
    this.distrust();
    client.end().catch(() => {});
    if (this.closed) return;
    this.warn('key change feed: LISTEN connection lost; key checks read the database until it is back', err);
    void this.writeRow();
    this.scheduleReconnect(100);
  }

  private scheduleReconnect(ms: number): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((err: unknown) => {
        this.warn('key change feed: cannot LISTEN yet', err);
        this.scheduleReconnect(Math.min(ms * 2, 2000));
      });
    }, ms);
    this.reconnectTimer.unref();
  }

  /** Stops answering from memory (until listening again) and drops everything kept. */
  private distrust(): void {
    this.listening = false;
    this.trustedUntil = 0;
    this.dropAll();
  }

  private dropAll(): void {
    this.generation++;
    for (const l of this.listeners) l(null);
  }

  private heard(payload: string): void {
    const kind = payload.slice(0, 2);
    if (kind === 'u:') {
      const userId = Number(payload.slice(2));
      this.generation++;
      for (const l of this.listeners) l(Number.isSafeInteger(userId) ? userId : null);
    } else if (kind === 'b:') {
      // Every change committed before the barrier was heard (and dropped) before it: acknowledge.
      const barrier = payload.slice(2);
      this.pool
        .query(`insert into key_cache_acks (barrier, instance_id, acked_at) values ($1, $2, ${NOW_MS}) on conflict do nothing`, [barrier, this.instanceId])
        .catch((err: unknown) => {
          // A barrier this instance cannot acknowledge must not hold a revocation up while the
          // instance goes on answering from memory: it stops doing so (and says caching = 0).
          this.warn('key change feed: cannot acknowledge a barrier; key checks read the database for now', err);
          if (this.client) this.lost(this.client, err);
        });
    }
  }

  /** Writes the heartbeat: live for another lease, and whether this instance answers from memory. */
  private heartbeat(): Promise<unknown> {
    return this.writeRow(true);
  }

  private writeRow(extend = false): Promise<unknown> {
    const write = async () => {
      if (this.closed) return;
      const sentAt = performance.now();
      const caching = this.listening ? 1 : 0;
      try {
        await this.pool.query(
          `insert into portal_instances (id, lease_until, caching, started_at) values ($1, ${NOW_MS} + $2, $3, $4)
           on conflict (id) do update set lease_until = excluded.lease_until, caching = excluded.caching`,
          [this.instanceId, this.timing.leaseMs, caching, new Date().toISOString()],
        );
      } catch (err) {
        // The lease this instance wrote last runs out by itself; trusted() stops the memory then.
        this.warn('key change feed: heartbeat not written', err);
        return;
      }
      // The lease runs from when the database wrote it, which is after sentAt: counted from sentAt,
      // by this process's clock, it ends no later than the database thinks.
      if (extend && caching === 1 && this.listening) {
        // After a lapse, a revocation may have gone by without waiting for this instance: start afresh.
        if (performance.now() >= this.trustedUntil) this.dropAll();
        this.trustedUntil = sentAt + this.timing.leaseMs - MARGIN_MS;
      }
      if (extend && sentAt - this.lastSweep > SWEEP_EVERY_MS) {
        this.lastSweep = sentAt;
        await this.pool.query(`delete from key_cache_acks where acked_at < ${NOW_MS} - $1`, [ACKS_KEPT_MS]).catch(() => {});
        await this.pool.query(`delete from portal_instances where lease_until < ${NOW_MS} - $1`, [DEAD_ROWS_KEPT_MS]).catch(() => {});
      }
    };
    this.rowWrites = this.rowWrites.then(write, write);
    return this.rowWrites;
  }
}

/**
 * Waits until every live instance that answers key checks from memory has heard every key change
 * committed before this call (see the top of this file). Call it after the transaction that made
 * the change has committed, never inside one. Returns the instances that did not answer in time
 * (none unless one is live but stuck: its lease is renewed, its barriers never acknowledged).
 */
export async function settleKeyChanges(pool: Queryable, opts: { timeoutMs?: number } = {}): Promise<string[]> {
  const { rows } = await pool.query<{ b: string }>(`select b::text as b, pg_notify('${KEY_CHANNEL}', 'b:' || b) from (select nextval('simplevm_key_barriers') as b) s`);
  const barrier = rows[0].b;
  const deadline = performance.now() + (opts.timeoutMs ?? 2 * DEFAULT_TIMING.leaseMs + 1000);
  let pause = 1;
  for (;;) {
    const waiting = await pool.query<{ id: string }>(
      `select i.id from portal_instances i where i.caching = 1 and i.lease_until > ${NOW_MS}
       and not exists (select 1 from key_cache_acks a where a.barrier = $1 and a.instance_id = i.id)`,
      [barrier],
    );
    if (waiting.rows.length === 0) return [];
    if (performance.now() > deadline) return waiting.rows.map((r) => r.id);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 25);
  }
}
