import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server the suites run against, from DATABASE_URL; undefined means the embedded
 * default. Each suite gets a database of its own there, so suites can run in parallel.
 */
export const postgresUrl = process.env.DATABASE_URL || undefined;

/** Where global-setup.ts left an empty, initialised PGlite cluster for the suites to copy. */
export const PGLITE_CLUSTER_ENV = 'BUGZAPP_TEST_PGLITE_CLUSTER';

/** Creates an empty database on the server at `postgresUrl` and returns its URL and a dropper. */
export async function createScratchDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bugzapp_test_${randomBytes(6).toString('hex')}`;
  await admin(baseUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(baseUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function admin(baseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
