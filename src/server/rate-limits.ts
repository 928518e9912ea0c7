/**
 * Rate limits: how many attempts a client may make in a minute, counted in Redis when there is one
 * (so every instance draws on the same budget) and in this process otherwise.
 *
 * Three budgets, each a fixed one-minute window that starts at the first attempt it counts:
 * - sign-in per client address: every `logIn` and `signUp` call counts, whatever its outcome;
 * - login failures per account: keyed on the lower-cased email whether or not an account has it,
 *   so the answer never tells which accounts exist;
 * - operations per signed-in user (anonymous ones per client address), over HTTP, SSE and
 *   WebSocket alike, checked by `useOperationRateLimit` before any resolver runs.
 *
 * Every check happens before the work it protects (above all before scrypt), and takes its point
 * first: a hundred concurrent guesses cannot all slip past a check that only counted them after.
 * A login attempt therefore counts as a failure until it succeeds; a success then clears the
 * account's failures, so an owner who mistyped a few times is not left one typo from a lockout.
 * Only someone who knows the password can clear them, and while the account is over its budget
 * even the right password is refused unhashed; the price is that a guesser gets a fresh budget
 * each time the owner logs in, which is still a handful of guesses a minute.
 *
 * When Redis is unreachable or slow, each limiter falls back to an in-memory insurance limiter
 * with the same budget: a Redis outage neither opens the gates nor locks everyone out; it only
 * means each instance counts on its own until Redis is back.
 */
import { createHash } from 'node:crypto';
import type { Plugin } from '@envelop/core';
import type { GraphQLError } from 'graphql';
import Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Limits } from '../config';
import { rateLimited } from '../graphql/errors';
import { defaultLogger, type Logger } from '../infra/log';
import type { Context, Viewer } from './context';

const WINDOW_SECONDS = 60;
// A Redis that answers slower than this counts as down: the insurance limiter answers instead.
const REDIS_COMMAND_TIMEOUT_MS = 500;

export interface RateLimitStore {
  /** `redis://...` to share counters between instances; unset, each process counts on its own. */
  redisUrl: string | undefined;
  /** Names the keys, so deployments and test runs sharing one Redis never share counters. */
  databaseId: string;
  /** Where Redis connection trouble is reported; default: defaultLogger(). */
  log?: Logger;
}

type Budget = 'signin' | 'loginFailures' | 'operations';

/** Each budget's environment variable: what a refusal is reported as. */
const BUDGET_LIMITS = {
  signin: 'RATE_LIMIT_SIGNIN_PER_IP',
  loginFailures: 'RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT',
  operations: 'RATE_LIMIT_OPERATIONS_PER_USER',
} as const satisfies Record<Budget, string>;

/** The limit a refusal was over, named by its environment variable. */
export type RateLimitName = (typeof BUDGET_LIMITS)[Budget];

/** The budgets in `Limits`, each checked with one call before the work it protects. */
export class RateLimits {
  private constructor(
    private readonly limiters: Record<Budget, RateLimiterAbstract | undefined>,
    private readonly redis: Redis | undefined,
    private readonly onRefused: ((limit: RateLimitName) => void) | undefined,
  ) {}

  /**
   * Creates the limiters for `limits` (a limit of 0 is off). With a Redis URL, waits for the first
   * connection; if that fails it logs, counts in memory, and keeps reconnecting in the background.
   * `onRefused` is told of every refusal (for metrics).
   */
  static async open(
    limits: Limits,
    store: RateLimitStore,
    onRefused?: (limit: RateLimitName) => void,
  ): Promise<RateLimits> {
    const redis =
      store.redisUrl === undefined ? undefined : await connect(store.redisUrl, store.log ?? defaultLogger());
    const limiter = (name: string, points: number): RateLimiterAbstract | undefined => {
      if (points === 0) return undefined;
      const options = { keyPrefix: `bugzapp:ratelimit:${store.databaseId}:${name}`, points, duration: WINDOW_SECONDS };
      if (redis === undefined) return new RateLimiterMemory(options);
      return new RateLimiterRedis({
        ...options,
        storeClient: redis,
        // Fail over to the insurance limiter at once rather than queue behind a reconnect.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(options),
        // Once a key is over budget, refuse it here until its window ends instead of asking Redis
        // again for every request of a flood.
        inMemoryBlockOnConsumed: points + 1,
      });
    };
    return new RateLimits(
      {
        signin: limiter('signin', limits.rateLimitSigninPerIp),
        loginFailures: limiter('login-failures', limits.rateLimitLoginFailuresPerAccount),
        operations: limiter('operations', limits.rateLimitOperationsPerUser),
      },
      redis,
      onRefused,
    );
  }

  /** Counts a `logIn` or `signUp` attempt from `clientAddress`; throws RATE_LIMITED past the budget. */
  async signInAttempt(clientAddress: string): Promise<void> {
    const refusal = await this.take('signin', clientAddress);
    if (refusal !== undefined) throw refusal;
  }

  /**
   * Counts a login attempt for `email` (normalised) as a failure, before the password is checked;
   * throws RATE_LIMITED past the budget. Call `loginSucceeded` when the password is right.
   */
  async loginAttempt(email: string): Promise<void> {
    const refusal = await this.take('loginFailures', accountKey(email));
    if (refusal !== undefined) throw refusal;
  }

  /** Clears `email`'s failures: whoever logged in knew the password. */
  async loginSucceeded(email: string): Promise<void> {
    await this.limiters.loginFailures?.delete(accountKey(email));
  }

  /** Counts one operation for `viewer`, or for `clientAddress` when anonymous; the error past the budget. */
  operation(viewer: Viewer | null, clientAddress: string): Promise<GraphQLError | undefined> {
    return this.take('operations', viewer === null ? `address:${clientAddress}` : `user:${viewer.id}`);
  }

  /** Closes the Redis connection, if any. */
  async close(): Promise<void> {
    if (this.redis === undefined) return;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis?.disconnect());
    else this.redis.disconnect();
  }

  private async take(budget: Budget, key: string): Promise<GraphQLError | undefined> {
    try {
      await this.limiters[budget]?.consume(key);
      return undefined;
    } catch (refusal) {
      // A RateLimiterRes is a refusal; anything else is a store failure the insurance limiter
      // could not absorb, which is a bug, not a reason to refuse.
      if (refusal instanceof RateLimiterRes) {
        this.onRefused?.(BUDGET_LIMITS[budget]);
        return rateLimited(refusal.msBeforeNext / 1000);
      }
      throw refusal;
    }
  }
}

/**
 * Refuses an operation over its viewer's (or anonymous address's) budget with RATE_LIMITED, before
 * any resolver runs. HTTP, SSE and each WebSocket `subscribe` message all pass through here.
 */
export function useOperationRateLimit(): Plugin<Context> {
  const limit = async ({ args, setResultAndStopExecution }: OperationStart) => {
    const { rateLimits, viewer, clientAddress } = args.contextValue;
    const refusal = await rateLimits.operation(viewer, clientAddress);
    if (refusal !== undefined) setResultAndStopExecution({ errors: [refusal] });
  };
  return { onExecute: limit, onSubscribe: limit };
}

/** What execute and subscribe hooks both receive: the operation's context and a way to answer it. */
interface OperationStart {
  args: { contextValue: Context };
  setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
}

// Hashed: a key of bounded length whatever the client sent, and no email addresses in Redis.
function accountKey(email: string): string {
  return `account:${createHash('sha256').update(email).digest('base64url')}`;
}

async function connect(url: string, log: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    // While Redis is away commands fail at once (and the insurance limiter answers) instead of queueing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  });
  // ioredis reconnects by itself; without a listener its errors would crash the process.
  redis.on('error', (error: Error) => log.error({ redis: 'rate-limits' }, `Redis rate-limit error: ${error.message}`));
  await new Promise<void>((resolve) => {
    const settle = (error?: Error) => {
      redis.off('ready', settle);
      redis.off('error', settle);
      if (error !== undefined) log.warn('Rate limits count in memory until Redis is reachable.');
      resolve();
    };
    redis.once('ready', settle);
    redis.once('error', settle);
  });
  return redis;
}
