// `npm run db:migrate`: applies pending migrations to the configured database (the app also does this at start).
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/infra/db';
import { migrate } from '../src/infra/migrations';

async function main(): Promise<void> {
  const db = await openDatabase({ ...loadConfig(), owner: 'npm run db:migrate' });
  try {
    const applied = await migrate(db);
    console.log(applied.length === 0 ? 'The database is up to date.' : `Applied: ${applied.join(', ')}`);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error && error.name === 'DataDirectoryLockedError' ? error.message : error);
  process.exit(1);
});
