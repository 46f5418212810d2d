// Rate limits (spec §1): requests a minute per key and per session user, and failed
// authentications a minute per client IP. Counted by rate-limiter-flexible, in memory, or in Redis
// (REDIS_URL) so that every instance shares them.
import { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Principal } from '../auth/principal.js';

const WINDOW_S = 60;

function tooMany(what: string, res: RateLimiterRes): AppError {
  const retryAfter = Math.min(WINDOW_S, Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
  return new AppError('rate_limited', `Too many ${what}; retry in ${retryAfter} s.`, { headers: { 'retry-after': String(retryAfter) } });
}

const FAILURES = 'failed authentications from your address';
const noRefund = async () => {};

export class RateLimits {
  /** Null when the limit is off. */
  private readonly requests: RateLimiterAbstract | null;
  private readonly failures: RateLimiterAbstract | null;

  /** `redis`: shared counters; null: this instance's memory. */
  constructor(
    private readonly config: Pick<Config, 'rateLimit' | 'authFailLimit'>,
    private readonly redis: Redis | null,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    const limiter = (name: string, points: number): RateLimiterAbstract | null => {
      if (points === 0) return null;
      const opts = { keyPrefix: `simplevm:rl:${name}`, points, duration: WINDOW_S };
      // Without Redis ready, a command fails at once instead of queueing: the limit is then skipped (count()).
      return redis ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true }) : new RateLimiterMemory(opts);
    };
    this.requests = limiter('req', config.rateLimit);
    this.failures = limiter('authfail', config.authFailLimit);
  }

  /** Counts a request of a key or a session user; 429 beyond SIMPLEVM_RATE_LIMIT a minute; undefined (nothing to wait for) when the limit is off. */
  hitPrincipal(p: Principal): Promise<void> | undefined {
    if (!this.requests) return undefined;
    // Named by key prefix and username, which stay unique however many databases share one Redis.
    const bucket = p.key ? `key:${p.key.prefix}` : `user:${p.user.username}`;
    return this.requests.consume(bucket).then(
      () => undefined,
      (rejected: unknown) => this.refusedOrSkipped(rejected, 'requests'),
    );
  }

  /**
   * Counts an attempt to authenticate (a login, a leak report) before it is judged, so that
   * concurrent attempts cannot all pass a check made before any of them was counted: 429 when the
   * address is over the limit. The answer refunds the attempt when it turns out not to be a failure.
   */
  async attempt(ip: string): Promise<() => Promise<void>> {
    const failures = this.failures;
    if (!failures) return noRefund;
    try {
      await failures.consume(ip);
    } catch (rejected) {
      this.refusedOrSkipped(rejected, FAILURES);
      return noRefund;
    }
    return async () => {
      await failures.reward(ip).catch((err: unknown) => this.onError(err));
    };
  }

  /**
   * 429 when the address has failed to authenticate too often this minute; undefined when the limit
   * is off. A request with an API key is checked like this and counted only when it fails
   * (noteFailure): counting every keyed request first would make a script's own parallel requests
   * throttle each other, and guessing a key (190 random bits) is hopeless however many race past.
   */
  assertNotThrottled(ip: string): Promise<void> | undefined {
    const failures = this.failures;
    if (!failures) return undefined;
    return failures.get(ip).then(
      (res) => {
        if (res && res.consumedPoints >= this.config.authFailLimit) throw tooMany(FAILURES, res);
      },
      (err: unknown) => this.refusedOrSkipped(err, FAILURES),
    );
  }

  async noteFailure(ip: string): Promise<void> {
    await this.failures?.penalty(ip).catch((err: unknown) => this.onError(err));
  }

  /** A limit reached is a 429; a counter that cannot be reached does not stop the portal: the limit is skipped and logged. */
  private refusedOrSkipped(rejected: unknown, what: string): void {
    if (rejected instanceof RateLimiterRes) throw tooMany(what, rejected);
    this.onError(rejected);
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
  }
}

export function createRateLimits(config: Config, onError?: (err: unknown) => void): RateLimits {
  let redis: Redis | null = null;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
    // Connection trouble is reported by each command; a listener keeps it from crashing the process.
    redis.on('error', () => {});
  }
  return new RateLimits(config, redis, onError);
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The limits, for routes that check credentials themselves (login, leak reports): they call
     * `attempt(request.ip)` before judging (see RateLimits.attempt). Through the instance, so that
     * modules need not import the guard that imports them.
     */
    rateLimits: RateLimits;
  }
}
