import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { DataDirectoryLockedError } from './infra/data-dir-lock';
import { describeDemoData, seedDemoData } from './infra/demo-data';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  // `npm start -- --seed`: the way to load the demo data into an embedded database this server owns.
  if (process.argv.includes('--seed')) {
    const lines = (await seedDemoData(app.db)) ? describeDemoData() : ['The database already has users; not seeding.'];
    for (const line of lines) console.log(line);
  }
  const { url } = await app.start();
  const storage =
    config.databaseUrl === undefined ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL at DATABASE_URL';
  console.log(`BugZapp is listening on ${url} (${storage}${config.graphiql ? '; GraphiQL on' : ''})`);

  const shutdown = async (signal: string) => {
    console.log(`${signal}: shutting down`);
    await app.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`Configuration error: ${error.message}`);
  else console.error(error instanceof DataDirectoryLockedError ? error.message : error);
  process.exit(1);
});
