import fs from 'node:fs/promises';
import { pgliteDirectory } from '../../src/infra/db';
import { PGLITE_CLUSTER_ENV } from './database';

/**
 * Puts a copy of the empty cluster global-setup.ts made where a server will open its embedded
 * database, so that it skips initdb. Without the setup (a suite run on its own by an editor) it
 * does nothing, and PGlite runs initdb itself.
 */
export async function seedEmptyCluster(dataDir: string): Promise<void> {
  const cluster = process.env[PGLITE_CLUSTER_ENV];
  if (cluster === undefined) return;
  await fs.cp(cluster, pgliteDirectory(dataDir), { recursive: true });
}
