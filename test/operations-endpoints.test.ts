import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from 'graphql-ws';
import { serveProbes } from '../src/server/probes';
import * as ops from './operations';
import { createBug, createProject, signUp, uniqueKey } from './helpers/fixtures';
import { startRedis, type PrivateRedis } from './helpers/private-servers';
import { createStorage, startServer, useServer, type Storage, type TestServer } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

// /health, /ready and /metrics, from the outside: over HTTP, with real graphql-ws clients, and a
// Redis of the test's own that it kills and starts again.

const get = (server: TestServer, path: string, headers: Record<string, string> = {}) =>
  fetch(new URL(path, server.url), { headers });

async function ready(server: TestServer): Promise<{ status: number; body: unknown }> {
  const response = await get(server, '/ready');
  return { status: response.status, body: await response.json() };
}

async function scrape(server: TestServer, token?: string): Promise<string> {
  const response = await get(server, '/metrics', token === undefined ? {} : { authorization: `Bearer ${token}` });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** One sample of a Prometheus text exposition, by name and exact label set; undefined when absent. */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]);
    if (JSON.stringify(found.sort()) === wanted) return Number(match[3]);
  }
  return undefined;
}

/** Reads until `until` holds, every 100 ms for up to 10 s; the last reading when it does. */
async function eventually<T>(read: () => Promise<T>, until: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (until(value)) return value;
    if (Date.now() > deadline) throw new Error(`Still not there after 10 s: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The sample, once it has the value `until` wants. */
const sampleOnce = (
  server: TestServer,
  name: string,
  labels: Record<string, string>,
  until: (value?: number) => boolean,
) => eventually(async () => sample(await scrape(server), name, labels), until);

describe('operations endpoints', () => {
  describe('on a healthy server', () => {
    const server = useServer();
    const clients: Client[] = [];

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
    });

    it('answers /health with 200 and a tiny JSON body, to GET and HEAD only', async () => {
      const response = await get(server.current, '/health');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toEqual({ status: 'ok' });

      const head = await fetch(new URL('/health', server.current.url), { method: 'HEAD' });
      expect(head.status).toBe(200);
      const post = await fetch(new URL('/health', server.current.url), { method: 'POST', body: '{}' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    });

    it('answers /ready with 200 when the database (and Redis, when configured) answers', async () => {
      expect(await ready(server.current)).toEqual({
        status: 200,
        body: {
          status: 'ok',
          checks: { database: 'ok', ...(process.env.REDIS_URL ? { redis: 'ok' } : {}) },
        },
      });
    });

    it('counts a subscription while it runs, and the events it is sent, with their delay', async () => {
      const user = await signUp(server.current);
      const project = await createProject(server.current, user);
      const client = connect(server.current, user);
      clients.push(client);
      const field = { field: 'bugChanged' };
      const delivered = { type: 'BUG_CREATED' };
      const before = sample(await scrape(server.current), 'bugzapp_events_delivered_total', delivered);
      expect(before).toBe(0);

      const changes = subscribe(client, ops.OnBugChanged, { projectId: project.id });
      // Once counted, the subscription is listening: nothing sent from here on can be missed.
      await sampleOnce(server.current, 'bugzapp_subscriptions_active', field, (value) => value === 1);
      let exposition = await scrape(server.current);
      expect(sample(exposition, 'bugzapp_websocket_connections')).toBe(1);
      expect(
        sample(exposition, 'bugzapp_graphql_operations_total', {
          operation: 'OnBugChanged',
          type: 'subscription',
          outcome: 'ok',
        }),
      ).toBe(1);

      const bug = await createBug(server.current, user, project.id);
      expect((await changes.next()).bugChanged.bug.id).toBe(bug.id);
      exposition = await scrape(server.current);
      expect(sample(exposition, 'bugzapp_events_published_total', delivered)).toBe(1);
      expect(sample(exposition, 'bugzapp_events_delivered_total', delivered)).toBe(1);
      expect(sample(exposition, 'bugzapp_event_delivery_lag_seconds_count')).toBe(1);
      expect(sample(exposition, 'bugzapp_event_delivery_lag_seconds_bucket', { le: '+Inf' })).toBe(1);
      expect(sample(exposition, 'bugzapp_event_delivery_lag_seconds_sum')).toBeGreaterThanOrEqual(0);

      changes.close();
      await sampleOnce(server.current, 'bugzapp_subscriptions_active', field, (value) => value === 0);
      await client.dispose();
      await sampleOnce(server.current, 'bugzapp_websocket_connections', {}, (value) => value === 0);
    });

    it('counts operations by name, type and outcome, and times them', async () => {
      const user = await signUp(server.current);
      await server.current.ok(ops.Me, {}, user.token);
      const anonymous = await server.current.request(ops.CreateProject, {
        input: { key: uniqueKey(), name: 'Nope', description: 'Not signed in' },
      });
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      await fetch(server.current.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query Broken { noSuchField }' }),
      });

      const exposition = await scrape(server.current);
      const operations = (operation: string, type: string, outcome: string) =>
        sample(exposition, 'bugzapp_graphql_operations_total', { operation, type, outcome });
      expect(operations('Me', 'query', 'ok')).toBe(1);
      expect(operations('CreateProject', 'mutation', 'UNAUTHENTICATED')).toBe(1);
      expect(operations('Broken', 'query', 'GRAPHQL_VALIDATION_FAILED')).toBe(1);
      expect(
        sample(exposition, 'bugzapp_graphql_operation_duration_seconds_count', { operation: 'Me', type: 'query' }),
      ).toBe(1);
    });

    it('reads the outbox backlog and the pool when scraped, and serves the process metrics', async () => {
      const exposition = await scrape(server.current);
      expect(sample(exposition, 'bugzapp_outbox_backlog_events')).toBe(0);
      // PGlite is one connection: there is no pool to report.
      if (server.current.databaseUrl === undefined) {
        expect(sample(exposition, 'bugzapp_db_pool_connections')).toBeUndefined();
      } else {
        expect(sample(exposition, 'bugzapp_db_pool_connections')).toBeGreaterThanOrEqual(0);
        expect(sample(exposition, 'bugzapp_db_pool_waiting_queries')).toBe(0);
      }
      expect(
        sample(exposition, 'bugzapp_rate_limit_rejections_total', { limit: 'RATE_LIMIT_OPERATIONS_PER_USER' }),
      ).toBe(0);
      expect(sample(exposition, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    });
  });

  describe('with METRICS=false', () => {
    const server = useServer({ METRICS: 'false' });

    it('has no /metrics, and still answers /health and /ready', async () => {
      expect((await get(server.current, '/metrics')).status).toBe(404);
      expect((await get(server.current, '/health')).status).toBe(200);
      expect((await ready(server.current)).status).toBe(200);
    });
  });

  describe('with METRICS_TOKEN, and rate limits on', () => {
    const token = 'metrics-token-for-tests';
    const server = useServer({ METRICS_TOKEN: token, RATE_LIMIT_OPERATIONS_PER_USER: '1' });

    it('serves /metrics only with the token', async () => {
      const without = await get(server.current, '/metrics');
      expect(without.status).toBe(401);
      expect(without.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect((await get(server.current, '/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await get(server.current, '/metrics', { authorization: token })).status).toBe(401);
      await scrape(server.current, token);
    });

    it('counts rate-limit refusals by limit, and never limits the probes', async () => {
      expect((await server.current.request(ops.Me)).errors).toBeUndefined();
      expect((await server.current.request(ops.Me)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      for (let i = 0; i < 5; i++) {
        expect((await get(server.current, '/health')).status).toBe(200);
        expect((await ready(server.current)).status).toBe(200);
      }
      const exposition = await scrape(server.current, token);
      expect(
        sample(exposition, 'bugzapp_rate_limit_rejections_total', { limit: 'RATE_LIMIT_OPERATIONS_PER_USER' }),
      ).toBe(1);
      expect(
        sample(exposition, 'bugzapp_graphql_operations_total', {
          operation: 'Me',
          type: 'query',
          outcome: 'RATE_LIMITED',
        }),
      ).toBe(1);
    });
  });

  describe('when Redis goes away', () => {
    let redis: PrivateRedis;
    let storage: Storage;
    let server: TestServer;

    beforeAll(async () => {
      redis = await startRedis();
      storage = await createStorage();
      server = await startServer(storage, { REDIS_URL: redis.url });
    });

    afterAll(async () => {
      await server?.stop();
      await storage?.dispose();
      await redis?.dispose();
    });

    it('answers /ready with 503 naming Redis while GraphQL still works, and 200 once it is back', async () => {
      expect(await ready(server)).toEqual({
        status: 200,
        body: { status: 'ok', checks: { database: 'ok', redis: 'ok' } },
      });

      await redis.kill();
      const down = await eventually(
        () => ready(server),
        (answer) => answer.status === 503,
      );
      const { status, checks } = down.body as { status: string; checks: Record<string, string> };
      expect(status).toBe('unavailable');
      expect(checks.database).toBe('ok');
      expect(checks.redis).toMatch(/^down: \S/);
      // The event of a sign-up cannot go out on the bus; the table has it, and the API carries on.
      const user = await signUp(server);
      expect((await server.ok(ops.Me, {}, user.token)).me?.id).toBe(user.id);

      await redis.start();
      expect(
        await eventually(
          () => ready(server),
          (answer) => answer.status === 200,
        ),
      ).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', redis: 'ok' } } });
    });
  });
});

describe('/ready while stopping', () => {
  it('answers 503 once the server has begun to stop, though its database still answers', async () => {
    let stopping = false;
    const server = http.createServer(
      serveProbes((_req, res) => res.end(), {
        checks: { database: () => Promise.resolve() },
        metrics: undefined,
        metricsToken: undefined,
        log: () => undefined,
        stopping: () => stopping,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`;
    try {
      expect((await fetch(url)).status).toBe(200);
      stopping = true;
      const response = await fetch(url);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'stopping', checks: {} });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
