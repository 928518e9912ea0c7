import fs from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLITE_CLUSTER_ENV, postgresUrl, scratchFolder } from './database';

/**
 * On the embedded default, runs PGlite's initdb once for the whole run (about five seconds of CPU
 * each time) and leaves the empty cluster for every suite's storage to start from as a copy. Each
 * server still migrates its database from nothing, as on a first start.
 */
export default async function globalSetup(): Promise<void> {
  if (postgresUrl !== undefined) return;
  const dir = await fs.mkdtemp(path.join(scratchFolder, 'bugzapp-test-cluster-'));
  const cluster = await PGlite.create(dir);
  await cluster.close();
  // Jest starts its workers after this, and they inherit the environment.
  process.env[PGLITE_CLUSTER_ENV] = dir;
}
