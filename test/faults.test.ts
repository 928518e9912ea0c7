import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { print } from 'graphql';
import Redis from 'ioredis';
import * as ops from './operations';
import { POOL_SIZE } from '../src/infra/db';
import { postgresUrl } from './helpers/database';
import { createBug, createProject, PASSWORD, signUp, type TestUser } from './helpers/fixtures';
import { startPostgresCluster, startRedis, type PrivateCluster, type PrivateRedis } from './helpers/private-servers';
import { createStorage, startServer, useServer, type Storage, type TestServer } from './helpers/server';
import { connect, subscribe, type Subscription } from './helpers/subscriptions';
import type { OnCommentAddedSubscription } from './gql/graphql';

// The faults these suites cause are logged by the servers on purpose (failed publishes, refused
// connections); the assertions say whether clients noticed.

/** How long any request may take while a service is down: an answer, even an error, and no hang. */
const PROMPT_MS = 3_000;
/** Short, so events missed by a dead bus arrive by the table poll within the tests' patience. */
const EVENT_POLL_MS = 200;

/** `promise`, or a failure naming `what` once `ms` have passed without an answer. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asks `check` every 100 ms until it returns true; fails naming `what` after `ms`. */
async function eventually(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Runs every step in turn, each even if one before it failed (a server that cannot stop must not
 * leave a redis-server or a cluster behind), then fails with the first error.
 */
async function disposeAll(...steps: (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** `GET /ready`: its status and body. */
async function readiness(server: TestServer): Promise<{ status: number; body: string }> {
  const response = await fetch(new URL('/ready', server.url), { signal: AbortSignal.timeout(PROMPT_MS) });
  return { status: response.status, body: await response.text() };
}

/**
 * Waits for `/ready` to answer 200, or 503 with `down` among the checks it names as down (its body
 * is `{ status, checks: { <part>: "ok" | "down: <why>" } }`); fails with its last answer.
 */
async function expectReadiness(server: TestServer, status: 200 | 503, down?: 'redis' | 'database'): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const last = await readiness(server).catch((error: Error) => ({ status: 0, body: error.message }));
    if (last.status === status && (down === undefined || downParts(last.body).includes(down))) return;
    // No such endpoint will not become one: say so at once rather than after the wait.
    if (last.status === 404 || Date.now() > deadline) {
      throw new Error(`/ready did not answer ${status}${down ? ` naming ${down}` : ''}: ${last.status} ${last.body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The parts a /ready body says are not ok. */
function downParts(body: string): string[] {
  try {
    const { checks } = JSON.parse(body) as { checks?: Record<string, string> };
    return Object.entries(checks ?? {})
      .filter(([, state]) => state !== 'ok')
      .map(([part]) => part);
  } catch {
    return [];
  }
}

/**
 * Comments on one bug, sent and received: the subscriber must end up with exactly the list that
 * was sent, in order, whatever failed in between.
 */
class Discussion {
  readonly sent: string[] = [];
  readonly received: string[] = [];

  constructor(
    private readonly writer: () => TestServer,
    private readonly user: TestUser,
    private readonly bugId: string,
    private readonly subscription: Subscription<OnCommentAddedSubscription>,
  ) {}

  /** Adds a comment through the writer, which must succeed promptly. */
  async say(body: string): Promise<void> {
    const result = await within(
      PROMPT_MS,
      `addComment "${body}"`,
      this.writer().request(ops.AddComment, { input: { bugId: this.bugId, body } }, this.user.token),
    );
    expect(result.errors).toBeUndefined();
    this.sent.push(body);
  }

  /** Takes the next `count` comments the subscriber received. */
  async hear(count: number): Promise<void> {
    for (let i = 0; i < count; i++) this.received.push((await this.subscription.next()).commentAdded.comment.body);
  }

  /** Everything sent has been received once, in order, and nothing else is on its way. */
  async expectEverythingOnce(): Promise<void> {
    await this.hear(this.sent.length - this.received.length);
    expect(this.received).toEqual(this.sent);
    // A duplicate would be on its way by the next poll or two.
    await new Promise((resolve) => setTimeout(resolve, 3 * EVENT_POLL_MS));
    expect(this.subscription.pending).toBe(0);
  }
}

/** A query that must succeed promptly: the bug with its comments. */
async function readBug(server: TestServer, user: TestUser, bugId: string) {
  const result = await within(
    PROMPT_MS,
    'the bug query',
    server.request(ops.Bug, { id: bugId, commentsFirst: 100 }, user.token),
  );
  expect(result.errors).toBeUndefined();
  return result.data!.bug;
}

describe('a Redis that is killed mid-run and restarted', () => {
  let redis: PrivateRedis;
  let storage: Storage;
  /** Writes go to `a`; the subscriber listens on `b`: another instance on PostgreSQL, the same one on PGlite. */
  let a: TestServer, b: TestServer;
  let client: Client;
  let owner: TestUser;
  let bugId: string;
  let discussion: Discussion;

  beforeAll(async () => {
    redis = await startRedis();
    storage = await createStorage();
    const env = {
      REDIS_URL: redis.url,
      EVENT_POLL_MS: String(EVENT_POLL_MS),
      // Generous budgets, but on: the rate limiter's Redis store is on every operation's path.
      RATE_LIMIT_SIGNIN_PER_IP: '1000',
      RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '1000',
      RATE_LIMIT_OPERATIONS_PER_USER: '100000',
    };
    a = await startServer(storage, env);
    // The embedded database has one owning process, so there it is one instance.
    b = postgresUrl === undefined ? a : await startServer(storage, env);
    owner = await signUp(a, 'owner');
    const project = await createProject(a, owner);
    bugId = (await createBug(a, owner, project.id)).id;
    const { eventCursor } = await a.ok(ops.EventCursor, {}, owner.token);
    client = connect(b, owner);
    discussion = new Discussion(
      () => a,
      owner,
      bugId,
      subscribe(client, ops.OnCommentAdded, { bugId, after: eventCursor }),
    );
  });

  /** The last test stops the instances itself. */
  let stopped = false;
  afterAll(() =>
    disposeAll(
      () => client?.dispose(),
      () => (stopped ? undefined : a?.stop()),
      () => (stopped || b === a ? undefined : b?.stop()),
      () => storage?.dispose(),
      () => redis?.dispose(),
    ),
  );

  const instances = () => (a === b ? [a] : [a, b]);

  it('carries events while it is up', async () => {
    await discussion.say('before 1');
    await discussion.say('before 2');
    await discussion.hear(2);
    expect(discussion.received).toEqual(discussion.sent);
  });

  it('while it hangs, every query and mutation still answers promptly and without an error', async () => {
    redis.freeze();
    for (let i = 1; i <= 2; i++) await discussion.say(`while frozen ${i}`);
    for (const server of instances()) {
      const bug = await readBug(server, owner, bugId);
      expect(bug.comments.edges.map((edge) => edge.node.body)).toEqual(discussion.sent);
    }
  });

  it('reports a hung Redis on /ready', async () => {
    for (const server of instances()) await expectReadiness(server, 503, 'redis');
  });

  it('once it answers again, is ready again, and the subscriber has had every event once', async () => {
    redis.thaw();
    for (const server of instances()) await expectReadiness(server, 200);
    await discussion.say('thawed');
    await discussion.expectEverythingOnce();
  });

  it('once killed, every query and mutation still answers promptly and without an error', async () => {
    // Killed while a mutation is on its way: its publish may be the one that meets the dead socket.
    await Promise.all([redis.kill(), discussion.say('as Redis dies')]);
    for (let i = 1; i <= 3; i++) await discussion.say(`while down ${i}`);
    for (const server of instances()) {
      const bug = await readBug(server, owner, bugId);
      expect(bug.comments.edges.map((edge) => edge.node.body)).toEqual(discussion.sent);
    }
    // Signing in draws on the sign-in and login budgets, kept in Redis while it is up.
    const login = await within(
      PROMPT_MS,
      'logIn',
      a.request(ops.LogIn, { input: { email: owner.email, password: PASSWORD } }),
    );
    expect(login.errors).toBeUndefined();
    const newcomer = await within(PROMPT_MS, 'signUp', signUp(b, 'newcomer'));
    expect((await b.ok(ops.Me, {}, newcomer.token)).me?.id).toBe(newcomer.id);
  });

  it('reports Redis down on /ready', async () => {
    for (const server of instances()) await expectReadiness(server, 503, 'redis');
  });

  it('delivers the events of mutations made while it was down, through the table poll', async () => {
    await discussion.hear(discussion.sent.length - discussion.received.length);
    expect(discussion.received).toEqual(discussion.sent);
  });

  it('once restarted, is ready again, carries events again, and nobody got one twice', async () => {
    await redis.start();
    for (const server of instances()) await expectReadiness(server, 200);
    // Every instance's bus connection has subscribed again, so events travel through Redis again
    // rather than only by the poll.
    const observer = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await observer.connect();
      await eventually(10_000, 'the instances did not subscribe again', async () => {
        const channels = (await observer.pubsub('CHANNELS', 'bugzapp:events:*')) as string[];
        if (channels.length !== 1) return false;
        const [, subscribers] = (await observer.pubsub('NUMSUB', channels[0]!)) as [string, number];
        return Number(subscribers) === instances().length;
      });
    } finally {
      observer.disconnect();
    }
    await discussion.say('after 1');
    await discussion.say('after 2');
    await discussion.expectEverythingOnce();
  });

  it('lets the instances stop promptly while it is down', async () => {
    await client.dispose();
    await redis.kill();
    stopped = true;
    // Neither a rejected stop nor a failure nobody handles (which would fail this suite) nor a
    // connection left reconnecting, which would keep the process alive.
    for (const server of instances()) await within(5_000, 'stop', server.stop());
    // ioredis gives a closed connection's socket 2 s to close before destroying it, and one that
    // died with Redis never says it closed: wait that out, or jest finds the timer still pending.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
  });
});

// The shared PostgreSQL other suites use must keep running: this suite restarts a cluster of its own.
const onPostgres = postgresUrl === undefined ? describe.skip : describe;

onPostgres('a PostgreSQL server that restarts', () => {
  let cluster: PrivateCluster;
  let dataDir: string;
  let server: TestServer;
  let client: Client;
  let owner: TestUser;
  let bugId: string;
  let discussion: Discussion;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bugzapp-test-'));
    server = await startServer(
      { dataDir, databaseUrl: cluster.url, dispose: () => Promise.resolve() },
      { EVENT_POLL_MS: String(EVENT_POLL_MS) },
    );
    owner = await signUp(server, 'owner');
    const project = await createProject(server, owner);
    bugId = (await createBug(server, owner, project.id)).id;
    const { eventCursor } = await server.ok(ops.EventCursor, {}, owner.token);
    client = connect(server, owner);
    discussion = new Discussion(
      () => server,
      owner,
      bugId,
      subscribe(client, ops.OnCommentAdded, { bugId, after: eventCursor }),
    );
  });

  afterAll(() =>
    disposeAll(
      () => client?.dispose(),
      () => server?.stop(),
      () => cluster?.dispose(),
      () => (dataDir === undefined ? undefined : fs.rm(dataDir, { recursive: true, force: true })),
    ),
  );

  it('serves and delivers before the restart', async () => {
    await discussion.say('before');
    await discussion.hear(1);
    await expectReadiness(server, 200);
  });

  it('while the database is down, answers promptly (with an error) and reports it on /ready', async () => {
    await cluster.stop();
    const query = await within(PROMPT_MS, 'the bug query', server.request(ops.Bug, { id: bugId }, owner.token));
    expect(query.errors).toBeDefined();
    // Refused, so it must never reach the subscriber (the last test compares what it received).
    const mutation = await within(
      PROMPT_MS,
      'addComment',
      server.request(ops.AddComment, { input: { bugId, body: 'while down' } }, owner.token),
    );
    expect(mutation.errors).toBeDefined();
    await expectReadiness(server, 503, 'database');
  });

  it('once it is back, the same server answers queries and mutations and is ready again', async () => {
    await cluster.start();
    await eventually(10_000, 'the bug query did not succeed again', async () => {
      const result = await server.request(ops.Bug, { id: bugId, commentsFirst: 100 }, owner.token);
      return result.errors === undefined;
    });
    await discussion.say('after 1');
    expect((await readBug(server, owner, bugId)).comments.edges.map((edge) => edge.node.body)).toEqual(discussion.sent);
    await expectReadiness(server, 200);
  });

  it('a subscriber from before the restart receives what happened after it, once, in order', async () => {
    await discussion.say('after 2');
    await discussion.expectEverythingOnce();
  });
});

describe('a write that finds the database busy', () => {
  const server = useServer({ DB_TRANSACTION_WAIT_MS: '200' });

  it('is refused with SERVER_BUSY and a 503, leaves nothing written, and goes through once the database is free', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    const bug = await createBug(server.current, owner, project.id);

    // Every connection taken by a transaction that holds on until released: PGlite has one, the
    // PostgreSQL pool POOL_SIZE. This is what thousands of subscribers resuming at once did.
    const { db } = server.current.app;
    const connections = db.kind === 'pglite' ? 1 : POOL_SIZE;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const holders = Array.from({ length: connections }, () =>
      db.prisma.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT 1`;
          holding++;
          await released;
        },
        { timeout: 30_000 },
      ),
    );
    await eventually(5_000, 'the holders did not take every connection', () =>
      Promise.resolve(holding === connections),
    );

    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${owner.token}`,
      },
      body: JSON.stringify({ query: print(ops.AddComment), variables: { input: { bugId: bug.id, body: 'busy' } } }),
    });
    const body = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    release();
    await Promise.all(holders);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVER_BUSY', retryAfter: 1 });

    const { bug: unchanged } = await server.current.ok(ops.Bug, { id: bug.id }, owner.token);
    expect(unchanged?.comments.totalCount).toBe(0);
    const { addComment } = await server.current.ok(
      ops.AddComment,
      { input: { bugId: bug.id, body: 'again' } },
      owner.token,
    );
    expect(addComment.comment.body).toBe('again');
  });
});
