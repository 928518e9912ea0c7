import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import Redis from 'ioredis';
import { defaultLogger, type Logger } from '../infra/log';

export interface Bus {
  readonly engine: PubSubEngine;
  /**
   * The one channel every instance of this database publishes committed events to; each filters
   * for its own subscribers. Named after the database, so deployments sharing a Redis never mix.
   */
  readonly channel: string;
  /** `memory` within this process, `redis` across every instance sharing REDIS_URL. */
  readonly kind: 'memory' | 'redis';
  /**
   * Resolves when the bus can carry events right now; otherwise rejects saying which part cannot.
   * In memory it always can; over Redis both connections must be up and the publisher must answer
   * a PING. It asks the connections the bus already has and opens none.
   */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * In-process by default; with a Redis URL, graphql-redis-subscriptions over two ioredis connections,
 * whose connection trouble goes to `log`.
 */
export async function openBus(
  redisUrl: string | undefined,
  databaseId: string,
  log: Logger = defaultLogger(),
): Promise<Bus> {
  const channel = `bugzapp:events:${databaseId}`;
  if (redisUrl === undefined) {
    return {
      engine: new PubSub(),
      channel,
      kind: 'memory',
      check: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  const connect = async (role: string, options: { enableOfflineQueue: boolean; commandTimeout?: number }) => {
    const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, ...options });
    // ioredis reconnects by itself; without a listener its errors would crash the process.
    client.on('error', (error: Error) => log.error({ redis: role }, `Redis ${role} error: ${error.message}`));
    await client.connect();
    return client;
  };
  // A publish while Redis is away fails at once instead of queueing: the event is already in the
  // table, and every instance's poll picks it up. A mutation answers only once its publish has, so
  // a Redis that hangs (connected, answering nothing) must not hold it either: past the timeout the
  // publish counts as failed, with the same fallback.
  const publisher = await connect('publisher', { enableOfflineQueue: false, commandTimeout: PUBLISH_TIMEOUT_MS });
  const subscriber = await connect('subscriber', { enableOfflineQueue: true }).catch((error: unknown) => {
    publisher.disconnect();
    throw error;
  });
  ignoreFailedUnsubscribes(subscriber);
  const engine = new RedisPubSub({ publisher, subscriber });
  return {
    engine,
    channel,
    kind: 'redis',
    check: async () => {
      // A connection that is not ready fails at once: while it reconnects, the subscriber would
      // queue a PING until Redis is back rather than answer it.
      for (const [role, client] of [
        ['publisher', publisher],
        ['subscriber', subscriber],
      ] as const) {
        if (client.status !== 'ready') throw new Error(`${role} connection is ${client.status}`);
      }
      await publisher.ping();
    },
    close: () => {
      // Not engine.close(), whose QUITs fail on a connection that is down (the publisher has no
      // offline queue) or wait for a Redis that hangs: stop() threw, and both connections went on
      // reconnecting, so a server stopped during an outage never let its process exit. Nothing
      // is left to say to Redis at this point: the feed has stopped listening and publishing.
      publisher.disconnect();
      subscriber.disconnect();
      return Promise.resolve();
    },
  };
}

/** How long Redis has to acknowledge a publish before it counts as failed (it answers in well under 1 ms). */
const PUBLISH_TIMEOUT_MS = 500;

/**
 * graphql-redis-subscriptions sends UNSUBSCRIBE and PUNSUBSCRIBE when the feed stops listening (at
 * stop) and drops their promises. While Redis is away those commands fail, and a rejection nobody
 * handles ends a Node process (or, in the tests, the suite) with MaxRetriesPerRequestError. A
 * failed unsubscribe needs no retry: the connection is about to be closed, and Redis forgets a
 * closed connection's subscriptions. So their failures are dropped here.
 */
function ignoreFailedUnsubscribes(subscriber: Redis): void {
  for (const command of ['unsubscribe', 'punsubscribe'] as const) {
    const send = subscriber[command].bind(subscriber) as (...channels: string[]) => Promise<unknown>;
    Object.assign(subscriber, { [command]: (...channels: string[]) => send(...channels).catch(() => 0) });
  }
}
