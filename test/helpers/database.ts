import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';

/**
 * The PostgreSQL server the suites run against, from DATABASE_URL; undefined means the embedded
 * default. Each suite gets a database of its own there, so suites can run in parallel.
 */
export const postgresUrl = process.env.DATABASE_URL || undefined;

/**
 * Where suites keep their data folders: in memory where Linux offers it (/dev/shm), because PGlite
 * reads and writes its files a page at a time and a disk makes each a costly system call (the
 * PGlite suite ran 277 s from /tmp, 246 s from /dev/shm); elsewhere the system's temporary folder.
 */
export const scratchFolder = (() => {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
})();

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
