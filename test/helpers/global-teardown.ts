import fs from 'node:fs/promises';
import { PGLITE_CLUSTER_ENV } from './database';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[PGLITE_CLUSTER_ENV];
  if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
}
