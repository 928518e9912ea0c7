import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import type { Config } from './config';
import { openBus } from './events/bus';
import { EventFeed } from './events/feed';
import { useErrorMasking } from './graphql/masking';
import { useInputHygiene } from './graphql/input-hygiene';
import { operationLimits } from './graphql/limits';
import { ResponseCache, useResponseCache } from './graphql/response-cache';
import { schema } from './graphql/schema';
import { routesOf } from './modules/realtime/audience';
import { useSharedSubscriptionResults } from './modules/realtime/shared-results';
import { openDatabase, type Database } from './infra/db';
import { databaseId, migrate } from './infra/migrations';
import { resolveJwtSecret, TokenService } from './server/auth';
import type { Context } from './server/context';
import { clientAddress } from './server/client-address';
import { buildContext } from './server/http-context';
import { corsOptions, CSRF_HEADER, httpPlugins, limitRequestBody } from './server/http';
import { RateLimits, useOperationRateLimit } from './server/rate-limits';
import { useTokenExpiry } from './server/token-expiry';
import { Viewers } from './server/viewers';
import { serveWebSockets } from './server/websocket';

export interface App {
  readonly db: Database;
  readonly tokens: TokenService;
  readonly events: EventFeed;
  /** Listens on `port` (default: the configured one; 0 for any free port) and returns where. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /** Stops accepting requests, closes open connections and the database. */
  stop(): Promise<void>;
}

const EXAMPLE_OPERATIONS = /* GraphQL */ `
  # Welcome to BugZapp. Sign up (the first account becomes an admin), then put
  #   { "Authorization": "Bearer <token>" }
  # in the Headers tab below and run the other operations.

  mutation SignUp {
    signUp(input: { email: "ada@example.com", name: "Ada", password: "correct-horse" }) {
      token
      user {
        id
        name
        role
      }
    }
  }

  query MyBugs {
    me {
      name
    }
    bugs(first: 10, filter: { status: [OPEN, IN_PROGRESS] }, orderBy: { field: PRIORITY, direction: DESC }) {
      totalCount
      edges {
        node {
          key
          title
          status
          priority
          assignee {
            name
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

const logError = (message: string, error: unknown) => console.error(message, error);

/** Opens the database, brings its schema up to date and wires HTTP to the GraphQL schema. */
export async function createApp(config: Config): Promise<App> {
  const db = await openDatabase({ ...config, owner: 'the BugZapp server' });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  if (config.logSql) db.onQuery((sql) => console.debug(`[sql] ${sql}`));
  const tokens = new TokenService(await resolveJwtSecret(config), config.jwtTtlSeconds);
  const bus = await openBus(config.redisUrl, await databaseId(db)).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const events = await EventFeed.open(db.prisma, bus, {
    pollMs: config.eventPollMs,
    retentionDays: config.eventRetentionDays,
    routesOf: (event) => routesOf(db.prisma, event),
  });
  const rateLimits = await RateLimits.open(config.limits, {
    redisUrl: config.redisUrl,
    databaseId: await databaseId(db),
  });
  const viewers = new Viewers(db.prisma, config.jwtTtlSeconds * 1000);
  events.onEvent((event) => viewers.onEvent(event));
  const services = { prisma: db.prisma, tokens, events, viewers, rateLimits };

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql
      ? { title: 'BugZapp', defaultQuery: EXAMPLE_OPERATIONS, additionalHeaders: { [CSRF_HEADER]: 'graphiql' } }
      : false,
    // Serves GraphiQL's bundle from the package instead of a CDN, so it works offline too.
    renderGraphiQL,
    landingPage: false,
    cors: corsOptions(config.corsOrigins),
    // limitRequestBody (below) reads at most MAX_BODY_BYTES before yoga sees the request.
    maxRequestBodySize: false,
    // Our own masking plugin rather than yoga's, which would also log every expected error it maps.
    maskedErrors: false,
    plugins: [
      ...httpPlugins(),
      ...operationLimits(config),
      useOperationRateLimit(),
      useTokenExpiry(),
      useSharedSubscriptionResults(logError),
      useInputHygiene(),
      ...(config.responseCache ? [useResponseCache(new ResponseCache(events, config.databaseUrl !== undefined))] : []),
      useErrorMasking(logError),
    ],
    // Over WebSocket, the authorization and address come from the socket (see serveWebSockets)
    // rather than from this request's headers.
    context: (initial) =>
      buildContext(
        services,
        typeof initial.authorization === 'string'
          ? initial.authorization
          : (initial.request as Request | undefined)?.headers.get('authorization'),
        typeof initial.clientAddress === 'string'
          ? initial.clientAddress
          : clientAddress(initial.req as IncomingMessage, config.trustProxy),
      ),
  });
  const server = http.createServer(
    limitRequestBody(yoga.requestListener, { maxBytes: config.limits.maxBodyBytes, corsOrigins: config.corsOrigins }),
  );
  const webSockets = serveWebSockets(yoga, server, {
    services,
    limits: config.limits,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    connectionInitWaitTimeout: config.wsInitTimeoutMs,
  });

  return {
    db,
    tokens,
    events,
    start: (port = config.port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        // A deep accept queue: thousands of clients reconnecting at once after a restart would
        // overflow Node's default of 511 and be reset before their WebSocket upgrade.
        server.listen({ port, backlog: 4096 }, () => {
          const { port: bound } = server.address() as AddressInfo;
          resolve({ port: bound, url: `http://localhost:${bound}/graphql` });
        });
      }),
    async stop() {
      await webSockets.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await events.close();
      await bus.close();
      await rateLimits.close();
      await db.close();
    },
  };
}
