import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import type { Config } from './config';
import { openBus } from './events/bus';
import { EventFeed } from './events/feed';
import { useErrorMasking, type MaskingLog } from './graphql/masking';
import { useInputHygiene } from './graphql/input-hygiene';
import { operationLimits } from './graphql/limits';
import { ResponseCache, useResponseCache } from './graphql/response-cache';
import { schema } from './graphql/schema';
import { pruneInbox } from './modules/inbox/inbox';
import { routesOf } from './modules/realtime/audience';
import { useSharedSubscriptionResults } from './modules/realtime/shared-results';
import { openDatabase, type Database } from './infra/db';
import { createLogger, yogaLogger, type Logger } from './infra/log';
import { databaseId, migrate, MIGRATIONS_DIR } from './infra/migrations';
import { resolveJwtSecret, TokenService } from './server/auth';
import type { Context } from './server/context';
import { clientAddress } from './server/client-address';
import { compressResults } from './server/compression';
import { graphiqlPage } from './server/graphiql';
import { buildContext } from './server/http-context';
import { corsOptions, CSRF_HEADER, httpPlugins, limitRequestBody } from './server/http';
import { Metrics } from './server/metrics';
import { serveProbes } from './server/probes';
import { RateLimits, useOperationRateLimit } from './server/rate-limits';
import { logRequests, requestLog, useOperationLog } from './server/request-log';
import { drainable } from './server/shutdown';
import { useTokenExpiry } from './server/token-expiry';
import { Viewers } from './server/viewers';
import { serveWebSockets } from './server/websocket';

export interface App {
  readonly db: Database;
  readonly tokens: TokenService;
  readonly events: EventFeed;
  /** Listens on `port` (default: the configured one; 0 for any free port) and returns where. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /**
   * Stops accepting connections, lets HTTP requests in flight finish (for up to
   * SHUTDOWN_TIMEOUT_MS, then cuts them), closes every WebSocket with 1001, then the event feed, bus
   * and database.
   */
  stop(): Promise<void>;
}

/** What createApp takes besides the configuration. */
export interface AppOptions {
  /** Where the app logs; default: a logger made from the configuration (LOG_LEVEL, LOG_PRETTY) on stdout. */
  log?: Logger;
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

/** Opens the database, brings its schema up to date and wires HTTP to the GraphQL schema. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger({ level: config.logLevel, pretty: config.logPretty });
  /** The logger of the operation `context` belongs to, when there is one (see Context.log). */
  const logOf = (context: Readonly<Record<string, unknown>> | undefined): Logger =>
    (context?.log as Logger | undefined) ?? requestLog(context?.req) ?? log;
  const logError: MaskingLog = (message, error, context) => logOf(context).error({ err: error }, message);
  const db = await openDatabase({ ...config, owner: 'the BugZapp server', log });
  try {
    await migrate(db, MIGRATIONS_DIR, log);
  } catch (error) {
    await db.close();
    throw error;
  }
  if (config.logSql) {
    const sqlLog = log.child({ component: 'sql' });
    db.onQuery((sql) => sqlLog.info({ sql }, 'sql'));
  }
  const tokens = new TokenService(await resolveJwtSecret(config), config.jwtTtlSeconds);
  const bus = await openBus(config.redisUrl, await databaseId(db), log).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  // Read when scraped, by which time `events` is there.
  const metrics = config.metrics
    ? new Metrics({ backlog: () => events.backlog(), poolStats: () => db.poolStats() })
    : undefined;
  const events = await EventFeed.open(db.prisma, bus, {
    pollMs: config.eventPollMs,
    retentionDays: config.eventRetentionDays,
    routesOf: (event) => routesOf(db.prisma, event),
    onPublish: metrics?.published,
    log: (message, error) => log.error({ err: error }, message),
  });
  const upkeep = everyHour(
    async () => {
      await pruneInbox(db.prisma, config.notificationRetentionDays);
      await db.upkeep();
    },
    (error) => log.error({ err: error }, 'The hourly upkeep (inbox pruning, VACUUM on PGlite) failed'),
  );
  const rateLimits = await RateLimits.open(
    config.limits,
    {
      redisUrl: config.redisUrl,
      databaseId: await databaseId(db),
      log,
    },
    metrics?.refused,
  );
  const viewers = new Viewers(db.prisma, config.jwtTtlSeconds * 1000);
  events.onEvent((event) => viewers.onEvent(event));
  const services = { prisma: db.prisma, tokens, events, viewers, rateLimits };
  const graphiql = graphiqlPage(renderGraphiQL);

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql
      ? { title: 'BugZapp', defaultQuery: EXAMPLE_OPERATIONS, additionalHeaders: { [CSRF_HEADER]: 'graphiql' } }
      : false,
    // Serves GraphiQL's bundle from the package instead of a CDN, so it works offline too; rendered
    // once, and served compressed with an ETag (see graphiql.ts).
    renderGraphiQL: graphiql.render,
    landingPage: false,
    cors: corsOptions(config.corsOrigins),
    // limitRequestBody (below) reads at most MAX_BODY_BYTES before yoga sees the request.
    maxRequestBodySize: false,
    // Our own masking plugin rather than yoga's, which would also log every expected error it maps.
    maskedErrors: false,
    logging: yogaLogger(log.child({ component: 'yoga' })),
    plugins: [
      ...httpPlugins(),
      // After httpPlugins: its Cache-Control replaces their no-store on the page alone.
      graphiql.plugin,
      // Before the plugins that may answer an operation themselves, so that it hears of every one.
      useOperationLog(),
      // Before every plugin that can answer an operation in its stead (limits, rate limits, the
      // response cache), so that their answers are counted too.
      ...(metrics === undefined ? [] : [metrics.operationPlugin()]),
      ...operationLimits(config),
      useOperationRateLimit(),
      useTokenExpiry(),
      useSharedSubscriptionResults(logError, metrics?.subscriptionStarted),
      useInputHygiene(),
      ...(config.responseCache ? [useResponseCache(new ResponseCache(events, config.databaseUrl !== undefined))] : []),
      useErrorMasking(logError),
    ],
    // Over WebSocket, the authorization, address and logger come from the socket (see
    // serveWebSockets) rather than from this request.
    context: (initial) =>
      buildContext(
        services,
        typeof initial.authorization === 'string'
          ? initial.authorization
          : (initial.request as Request | undefined)?.headers.get('authorization'),
        typeof initial.clientAddress === 'string'
          ? initial.clientAddress
          : clientAddress(initial.req as IncomingMessage, config.trustProxy),
        logOf(initial),
      ),
  });
  /** Set when stop() begins: /ready answers 503 from then on. */
  let stopping = false;
  const requests = drainable(
    // Probes come before the request log, which would otherwise gain a line per probe.
    serveProbes(
      logRequests(
        compressResults(
          limitRequestBody(yoga.requestListener, {
            maxBytes: config.limits.maxBodyBytes,
            corsOrigins: config.corsOrigins,
          }),
        ),
        log,
      ),
      {
        checks: {
          // Its error goes to the log only: the probe's answer must not show where the database is.
          database: () =>
            db.prisma.$queryRaw`SELECT 1`.catch((error: unknown) => {
              throw new Error('SELECT 1 failed', { cause: error });
            }),
          ...(config.redisUrl === undefined ? {} : { redis: () => bus.check() }),
        },
        metrics,
        metricsToken: config.metricsToken,
        log: (message, error) => log.warn({ err: error }, message),
        stopping: () => stopping,
      },
    ),
  );
  const server = http.createServer(requests.listener);
  const webSockets = serveWebSockets(yoga, server, {
    services,
    limits: config.limits,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    connectionInitWaitTimeout: config.wsInitTimeoutMs,
    keepAliveMs: config.wsKeepAliveMs,
    log,
    metrics,
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
      stopping = true;
      // Listening stops at once; requests in flight finish while the sockets are told to go.
      const drained = requests.drain(server, config.shutdownTimeoutMs, log);
      await webSockets.dispose();
      await drained;
      await upkeep.stop();
      await events.close();
      await bus.close();
      await rateLimits.close();
      await db.close();
    },
  };
}

/**
 * Runs `job` now and then once an hour, in the background, one run at a time. `stop` ends the
 * schedule and waits for a run under way, so that the database is not closed under it.
 */
function everyHour(job: () => Promise<void>, onError: (error: unknown) => void): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= job()
      .catch(onError)
      .finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, 3600_000).unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
