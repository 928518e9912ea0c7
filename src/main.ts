import os from 'node:os';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { DataDirectoryLockedError } from './infra/data-dir-lock';
import { describeDemoData, seedDemoData } from './infra/demo-data';
import { createLogger, type Logger } from './infra/log';

/**
 * How long stopping may run past SHUTDOWN_TIMEOUT_MS (closing sockets, the event feed, the bus and
 * the database) before the process gives up on it and exits with 1.
 */
const STOP_GRACE_MS = 5_000;

/** The app's logger, once the configuration says how to make it. */
let log: Logger | undefined;

/**
 * What a signal does. While the server starts: remember it, and stop the server gracefully once it
 * is up (main); a second one exits at once, for a start that hangs. Installed before anything
 * starts: a signal that came while the server was starting (its port may already accept
 * connections) would otherwise kill it on the spot, its database lock left behind.
 */
let pendingSignal: NodeJS.Signals | undefined;
let onSignal = (signal: NodeJS.Signals) => {
  if (pendingSignal !== undefined) process.exit(128 + os.constants.signals[signal]);
  pendingSignal = signal;
};
process.on('SIGTERM', (signal) => onSignal(signal));
process.on('SIGINT', (signal) => onSignal(signal));

async function main(): Promise<void> {
  const config = loadConfig();
  const appLog = (log = createLogger({ level: config.logLevel, pretty: config.logPretty }));
  const app = await createApp(config, { log: appLog });
  // `npm start -- --seed`: the way to load the demo data into an embedded database this server owns.
  if (process.argv.includes('--seed')) {
    const lines = (await seedDemoData(app.db))
      ? describeDemoData({ passwords: false })
      : ['The database already has users; not seeding.'];
    for (const line of lines) appLog.info(line);
  }
  const { port, url } = await app.start();
  const storage =
    config.databaseUrl === undefined ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL at DATABASE_URL';
  appLog.info(
    { port, url, storage: config.databaseUrl === undefined ? 'pglite' : 'postgresql', graphiql: config.graphiql },
    `BugZapp is listening on ${url} (${storage}${config.graphiql ? '; GraphiQL on' : ''})`,
  );

  // The first signal stops gracefully (see App.stop); a second one, from someone who will not wait,
  // exits at once, as a process killed by that signal would.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      appLog.warn(`${signal} again: exiting without finishing the shutdown`);
      process.exit(128 + os.constants.signals[signal]);
    }
    stopping = true;
    appLog.info(`${signal}: shutting down`);
    setTimeout(() => {
      appLog.error(`Shutdown took longer than ${config.shutdownTimeoutMs + STOP_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs + STOP_GRACE_MS).unref();
    app.stop().then(
      () => {
        appLog.info('Stopped');
        process.exit(0);
      },
      (error: unknown) => {
        appLog.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  onSignal = shutdown;
  if (pendingSignal !== undefined) shutdown(pendingSignal);
}

main().catch((error: unknown) => {
  // Without a configuration there is no logger of the app's yet: what stopped it goes to stderr.
  const fatal =
    log ?? createLogger({ level: 'info', pretty: process.env.NODE_ENV !== 'production' && process.stderr.isTTY }, 2);
  if (error instanceof ConfigError) fatal.fatal(`Configuration error: ${error.message}`);
  else if (error instanceof DataDirectoryLockedError) fatal.fatal(error.message);
  else fatal.fatal({ err: error }, 'BugZapp could not start');
  process.exit(1);
});
