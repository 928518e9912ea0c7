import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { useMaskedErrors } from '@envelop/core';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import type { Config } from './config';
import { maskError } from './graphql/errors';
import { schema } from './graphql/schema';
import { openDatabase, type Database } from './infra/db';
import { migrate } from './infra/migrations';
import { resolveJwtSecret, TokenService } from './server/auth';
import type { Context } from './server/context';
import { buildContext } from './server/http-context';

export interface App {
  readonly db: Database;
  readonly tokens: TokenService;
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

/** Opens the database, brings its schema up to date and wires HTTP to the GraphQL schema. */
export async function createApp(config: Config): Promise<App> {
  const db = await openDatabase(config);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  if (config.logSql) db.onQuery((sql) => console.debug(`[sql] ${sql}`));
  const tokens = new TokenService(await resolveJwtSecret(config), config.jwtTtlSeconds);
  const services = { prisma: db.prisma, tokens };

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql ? { title: 'BugZapp', defaultQuery: EXAMPLE_OPERATIONS } : false,
    // Serves GraphiQL's bundle from the package instead of a CDN, so it works offline too.
    renderGraphiQL,
    landingPage: false,
    // Our own masking plugin rather than yoga's, which would also log every expected error it maps.
    maskedErrors: false,
    plugins: [
      useMaskedErrors({ maskError: (error) => maskError(error, (message, cause) => console.error(message, cause)) }),
    ],
    context: ({ request }) => buildContext(services, request.headers.get('authorization')),
  });
  const server = http.createServer(yoga.requestListener);

  return {
    db,
    tokens,
    start: (port = config.port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          const { port: bound } = server.address() as AddressInfo;
          resolve({ port: bound, url: `http://localhost:${bound}/graphql` });
        });
      }),
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await db.close();
    },
  };
}
