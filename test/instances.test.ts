import type { Client } from 'graphql-ws';
import * as ops from './operations';
import { postgresUrl } from './helpers/database';
import { createBug, createProject, signUp } from './helpers/fixtures';
import { createStorage, startServer, type Storage, type TestServer } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

// Several instances need a database they can share: PostgreSQL, not the embedded one.
const onPostgres = postgresUrl === undefined ? describe.skip : describe;
const onRedis = postgresUrl === undefined || process.env.REDIS_URL === undefined ? describe.skip : describe;

async function twoInstances(env: NodeJS.ProcessEnv) {
  const storage: Storage = await createStorage();
  const instances: TestServer[] = [await startServer(storage, env), await startServer(storage, env)];
  const clients: Client[] = [];
  return {
    instances,
    client(server: TestServer, user: Parameters<typeof connect>[1]) {
      const created = connect(server, user);
      clients.push(created);
      return created;
    },
    async dispose() {
      await Promise.all(clients.map((client) => Promise.resolve(client.dispose())));
      await Promise.all(instances.map((instance) => instance.stop()));
      await storage.dispose();
    },
  };
}

onRedis('two instances sharing PostgreSQL and Redis', () => {
  it('deliver a change made on either to every entitled subscriber on both, once', async () => {
    // A slow poll, so only Redis can make delivery prompt, and duplicates would show.
    const cluster = await twoInstances({ EVENT_POLL_MS: '600000' });
    try {
      const [a, b] = cluster.instances as [TestServer, TestServer];
      const owner = await signUp(a, 'owner');
      const member = await signUp(b, 'member');
      const project = await createProject(a, owner, [member]);
      const { eventCursor } = await a.ok(ops.EventCursor, {}, owner.token);
      const onA = subscribe(cluster.client(a, member), ops.OnBugChanged, { after: eventCursor });
      const onB = subscribe(cluster.client(b, member), ops.OnBugChanged, { after: eventCursor });
      const assigned = subscribe(cluster.client(b, member), ops.OnBugAssigned, { after: eventCursor });

      // Each change is awaited on both before the next, so only the bus can have carried it across.
      const fromA = await createBug(a, owner, project.id, { title: 'from A', assigneeId: member.id });
      for (const subscription of [onA, onB]) expect((await subscription.next()).bugChanged.bug.id).toBe(fromA.id);
      expect((await assigned.next()).bugAssigned.bug.id).toBe(fromA.id);
      const fromB = await createBug(b, owner, project.id, { title: 'from B' });
      for (const subscription of [onA, onB]) expect((await subscription.next()).bugChanged.bug.id).toBe(fromB.id);
      // Once: the next event after those two is the next change, on both.
      const last = await createBug(a, owner, project.id, { title: 'last' });
      expect((await onA.next()).bugChanged.bug.id).toBe(last.id);
      expect((await onB.next()).bugChanged.bug.id).toBe(last.id);
    } finally {
      await cluster.dispose();
    }
  });
});

onPostgres('instances without a shared bus', () => {
  it('still deliver each other’s events, read from the event table', async () => {
    const cluster = await twoInstances({ REDIS_URL: '', EVENT_POLL_MS: '50' });
    try {
      const [a, b] = cluster.instances as [TestServer, TestServer];
      const owner = await signUp(a, 'owner');
      const project = await createProject(a, owner);
      const { eventCursor } = await a.ok(ops.EventCursor, {}, owner.token);
      const onB = subscribe(cluster.client(b, owner), ops.OnBugChanged, { after: eventCursor });
      const first = await createBug(a, owner, project.id, { title: 'one' });
      const second = await createBug(a, owner, project.id, { title: 'two' });
      expect((await onB.next()).bugChanged.bug.id).toBe(first.id);
      expect((await onB.next()).bugChanged.bug.id).toBe(second.id);
    } finally {
      await cluster.dispose();
    }
  });
});
