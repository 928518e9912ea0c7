// `npm run seed`: loads the demo data into the configured database, unless it has users already.
// On the embedded database this needs the server stopped (it owns the directory); `npm start -- --seed`
// seeds as the server starts instead.
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/infra/db';
import { describeDemoData, seedDemoData } from '../src/infra/demo-data';
import { migrate } from '../src/infra/migrations';

async function main(): Promise<void> {
  const db = await openDatabase({ ...loadConfig(), owner: 'npm run seed' });
  try {
    await migrate(db);
    if (!(await seedDemoData(db))) {
      console.log('The database already has users; not seeding. Use an empty DATA_DIR or database.');
      return;
    }
    for (const line of describeDemoData({ passwords: true })) console.log(line);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error && error.name === 'DataDirectoryLockedError' ? error.message : error);
  process.exit(1);
});
