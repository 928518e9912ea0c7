import fs from 'node:fs/promises';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createApp, type App, type AppOptions } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createScratchDatabase, postgresUrl, scratchFolder } from './database';
import { seedEmptyCluster } from './pglite-cluster';

export interface GraphQLResponse<Data> {
  data?: Data | null;
  errors?: GraphQLFormattedError[];
}

export interface TestServer {
  app: App;
  url: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Sends one operation over HTTP, as `token`'s user when given. */
  request<Data, Variables>(
    document: TypedDocumentNode<Data, Variables>,
    variables?: Variables,
    token?: string,
  ): Promise<GraphQLResponse<Data>>;
  /** Like request, but fails the test on any error and returns the data. */
  ok<Data, Variables>(
    document: TypedDocumentNode<Data, Variables>,
    variables?: Variables,
    token?: string,
  ): Promise<Data>;
  /** Stops the server; the database and data folder stay, for a restart. */
  stop(): Promise<void>;
}

export interface Storage {
  dataDir: string;
  databaseUrl: string | undefined;
  /** Removes the data folder and, on PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

/** A fresh, empty place to keep data: a temporary folder, plus a scratch database when on PostgreSQL. */
export async function createStorage(): Promise<Storage> {
  const dataDir = await fs.mkdtemp(path.join(scratchFolder, 'bugzapp-test-'));
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  if (postgresUrl === undefined) await seedEmptyCluster(dataDir);
  else scratch = await createScratchDatabase(postgresUrl);
  return {
    dataDir,
    databaseUrl: scratch?.url,
    async dispose() {
      await scratch?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the real app on a free port over `storage`, configured from `env` as in production, with
 * `options` (a logger of the test's own) as given.
 */
export async function startServer(
  storage: Storage,
  env: NodeJS.ProcessEnv = {},
  options: AppOptions = {},
): Promise<TestServer> {
  const config = loadConfig({
    GRAPHIQL: 'false',
    // Quiet, so that jest's report is all there is; LOG_LEVEL=debug npm test shows what the servers do.
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // CI's PostgreSQL pass sets REDIS_URL: every suite then fans out through Redis.
    REDIS_URL: process.env.REDIS_URL,
    // Suites sign up and query as many users from 127.0.0.1 as they need; rate limits are tested
    // on their own (test/rate-limits.test.ts), which turns them back on.
    RATE_LIMIT_SIGNIN_PER_IP: '0',
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '0',
    RATE_LIMIT_OPERATIONS_PER_USER: '0',
    ...env,
    PORT: '0',
    DATA_DIR: storage.dataDir,
    DATABASE_URL: storage.databaseUrl,
  });
  const app = await createApp(config, options);
  const { url } = await app.start();

  const request: TestServer['request'] = async (document, variables, token) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await response.json()) as GraphQLResponse<never>;
  };

  return {
    app,
    url,
    dataDir: storage.dataDir,
    databaseUrl: storage.databaseUrl,
    request,
    async ok(document, variables, token) {
      const result = await request(document, variables, token);
      if (result.errors !== undefined) {
        throw new Error(`Unexpected GraphQL errors: ${JSON.stringify(result.errors, null, 2)}`);
      }
      return result.data!;
    },
    stop: () => app.stop(),
  };
}

/**
 * The usual suite setup: a fresh storage and a server over it, both disposed after the suite.
 * Call at the top of a describe block; read `.current` inside tests.
 */
export function useServer(env: NodeJS.ProcessEnv = {}, options: AppOptions = {}): { current: TestServer } {
  const holder = {} as { current: TestServer };
  let storage: Storage;
  beforeAll(async () => {
    storage = await createStorage();
    holder.current = await startServer(storage, env, options);
  });
  afterAll(async () => {
    await holder.current?.stop();
    await storage?.dispose();
  });
  return holder;
}

/** The SQL statements the database runs while `run` does. */
export async function recordSql(server: TestServer, run: () => Promise<unknown>): Promise<string[]> {
  const statements: string[] = [];
  const stop = server.app.db.onQuery((sql) => statements.push(sql));
  try {
    await run();
  } finally {
    stop();
  }
  return statements;
}
