import { createApp } from './app';
import { ConfigError, loadConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
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
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : error);
  process.exit(1);
});
