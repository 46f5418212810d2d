// Rate limits (spec §1): requests a minute per key and per session user, and failed
// authentications a minute per client IP. Fixed one-minute windows, counted in memory, or in Redis
// (REDIS_URL) so that every instance shares them.
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Principal } from './principal.js';

const WINDOW_MS = 60_000;

export interface Counter {
  /** Adds one to the counter of this window and returns the new count. */
  hit(key: string, windowMs: number): Promise<number>;
  /** The count of this window, without adding. */
  peek(key: string, windowMs: number): Promise<number>;
  close(): Promise<void>;
}

const windowOf = (windowMs: number, now = Date.now()) => Math.floor(now / windowMs);

export class MemoryCounter implements Counter {
  private readonly counts = new Map<string, number>();
  private window = -1;

  private roll(windowMs: number): number {
    const w = windowOf(windowMs);
    // Old windows are dropped wholesale; memory stays bounded by one window's callers.
    if (w !== this.window) {
      this.counts.clear();
      this.window = w;
    }
    return w;
  }

  async hit(key: string, windowMs: number): Promise<number> {
    this.roll(windowMs);
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }

  async peek(key: string, windowMs: number): Promise<number> {
    this.roll(windowMs);
    return this.counts.get(key) ?? 0;
  }

  async close(): Promise<void> {}
}

export class RedisCounter implements Counter {
  private readonly redis: Redis;

  constructor(url: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false, connectTimeout: 2000 });
    // Connection trouble is reported by each command; a listener keeps it from crashing the process.
    this.redis.on('error', () => {});
  }

  private key(key: string, windowMs: number): string {
    return `simplevm:rl:${key}:${windowOf(windowMs)}`;
  }

  async hit(key: string, windowMs: number): Promise<number> {
    const k = this.key(key, windowMs);
    const results = await this.redis.multi().incr(k).pexpire(k, windowMs * 2).exec();
    return Number(results?.[0]?.[1] ?? 0);
  }

  async peek(key: string, windowMs: number): Promise<number> {
    return Number((await this.redis.get(this.key(key, windowMs))) ?? 0);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function tooMany(what: string): AppError {
  const retryAfter = Math.max(1, Math.ceil((WINDOW_MS - (Date.now() % WINDOW_MS)) / 1000));
  return new AppError('rate_limited', `Too many ${what}; retry in ${retryAfter} s.`, { headers: { 'retry-after': String(retryAfter) } });
}

export class RateLimits {
  constructor(private readonly config: Pick<Config, 'rateLimit' | 'authFailLimit'>, readonly counter: Counter, private readonly onError: (err: unknown) => void = () => {}) {}

  /** Counts a request of a key or a session user; 429 beyond SIMPLEVM_RATE_LIMIT a minute; undefined (nothing to wait for) when the limit is off. */
  hitPrincipal(p: Principal): Promise<void> | undefined {
    if (this.config.rateLimit === 0) return undefined;
    // Named by key prefix and username, which stay unique however many databases share one Redis.
    const bucket = p.key ? `key:${p.key.prefix}` : `user:${p.user.username}`;
    return this.count(() => this.counter.hit(bucket, WINDOW_MS)).then((n) => {
      if (n > this.config.rateLimit) throw tooMany('requests');
    });
  }

  /** 429 when the address has failed to authenticate too often this minute; undefined when the limit is off. */
  assertNotThrottled(ip: string): Promise<void> | undefined {
    if (this.config.authFailLimit === 0) return undefined;
    return this.count(() => this.counter.peek(`authfail:${ip}`, WINDOW_MS)).then((n) => {
      if (n >= this.config.authFailLimit) throw tooMany('failed authentications from your address');
    });
  }

  async noteFailure(ip: string): Promise<void> {
    if (this.config.authFailLimit === 0) return;
    await this.count(() => this.counter.hit(`authfail:${ip}`, WINDOW_MS));
  }

  /** A counter that cannot be reached does not stop the portal: the limit is skipped and logged. */
  private async count(fn: () => Promise<number>): Promise<number> {
    try {
      return await fn();
    } catch (err) {
      this.onError(err);
      return 0;
    }
  }

  close(): Promise<void> {
    return this.counter.close();
  }
}

export function createRateLimits(config: Config, onError?: (err: unknown) => void): RateLimits {
  return new RateLimits(config, config.redisUrl ? new RedisCounter(config.redisUrl) : new MemoryCounter(), onError);
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: RateLimits;
  }
}

/** Records a failed authentication of this request's address. */
export function noteAuthFailure(request: FastifyRequest): Promise<void> {
  return request.server.rateLimits.noteFailure(request.ip);
}
