import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import Redis from 'ioredis';

export interface Bus {
  readonly engine: PubSubEngine;
  /**
   * The one channel every instance of this database publishes committed events to; each filters
   * for its own subscribers. Named after the database, so deployments sharing a Redis never mix.
   */
  readonly channel: string;
  /** `memory` within this process, `redis` across every instance sharing REDIS_URL. */
  readonly kind: 'memory' | 'redis';
  close(): Promise<void>;
}

/** In-process by default; with a Redis URL, graphql-redis-subscriptions over two ioredis connections. */
export async function openBus(redisUrl: string | undefined, databaseId: string): Promise<Bus> {
  const channel = `bugzapp:events:${databaseId}`;
  if (redisUrl === undefined) return { engine: new PubSub(), channel, kind: 'memory', close: () => Promise.resolve() };

  const connect = async (role: string, options: { enableOfflineQueue: boolean }) => {
    const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, ...options });
    // ioredis reconnects by itself; without a listener its errors would crash the process.
    client.on('error', (error: Error) => console.error(`Redis ${role} error:`, error.message));
    await client.connect();
    return client;
  };
  // A publish while Redis is away fails at once instead of queueing: the event is already in the
  // table, and every instance's poll picks it up.
  const publisher = await connect('publisher', { enableOfflineQueue: false });
  const subscriber = await connect('subscriber', { enableOfflineQueue: true }).catch((error: unknown) => {
    publisher.disconnect();
    throw error;
  });
  const engine = new RedisPubSub({ publisher, subscriber });
  return {
    engine,
    channel,
    kind: 'redis',
    close: async () => {
      await engine.close();
    },
  };
}
