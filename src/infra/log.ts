import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

/*
 * One structured logger per app: JSON lines on stdout (one object per line, `msg` plus fields),
 * pretty-printed for a person at a terminal. The app makes it once (createApp, or main) and hands
 * children of it down: each HTTP request's carries `reqId`, each WebSocket's `connId`, so every
 * line an operation writes can be found from the id a client was given.
 *
 * What never reaches a line: tokens, passwords, `Authorization` values. Nothing logs headers,
 * variables or connection parameters to begin with (an operation logs its name, type and codes;
 * a request its method and path, never its query string, where a GET carries its variables);
 * `redact` is the second line of defence should someone log one of those objects anyway.
 */

export type { Logger };

/** The levels `LOG_LEVEL` takes, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the app's logger writes (from LOG_LEVEL and LOG_PRETTY). */
export interface LogOptions {
  /** Lines below this level are not written; `silent` writes none. */
  level: LogLevel;
  /**
   * Human-readable lines (pino-pretty) instead of JSON. pino-pretty is a devDependency: where it
   * is not installed (a production install), lines stay JSON and one warning says so.
   */
  pretty: boolean;
}

/** Where a value sits in a logged object, if one is ever logged; see the header. */
const REDACTED_PATHS = [
  'authorization',
  'password',
  'token',
  'variables',
  'connectionParams',
  '*.authorization',
  '*.password',
  '*.token',
  '*.variables',
  '*.connectionParams',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
];

/**
 * The app's logger at `options.level`. To a file descriptor (default stdout): JSON, or pretty
 * lines when `options.pretty`, written synchronously so that nothing is lost when the process
 * exits right after a line. To a stream (tests read the lines): always JSON.
 */
export function createLogger(options: LogOptions, destination: DestinationStream | number = 1): Logger {
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (typeof destination !== 'number') return pino(settings, destination);
  const pretty = options.pretty ? prettyStream(destination) : undefined;
  if (pretty instanceof Error) {
    const log = pino(settings, pino.destination({ fd: destination, sync: true }));
    log.warn(`LOG_PRETTY: ${pretty.message}; logging JSON instead.`);
    return log;
  }
  return pino(settings, pretty ?? pino.destination({ fd: destination, sync: true }));
}

/**
 * pino-pretty writing to `fd`, or an Error when it is not installed. Required here and only when
 * wanted, so that a production install (without devDependencies) never needs it.
 */
function prettyStream(fd: number): PinoPretty.PrettyStream | Error {
  let build: typeof PinoPretty;
  try {
    build = createRequire(__filename)('pino-pretty') as typeof PinoPretty;
  } catch {
    return new Error('pino-pretty is not installed (it is a devDependency)');
  }
  // Colours only where the stream is a terminal that shows them (pino-pretty's own check).
  return build({ destination: fd, sync: true, translateTime: 'SYS:HH:MM:ss.l' });
}

let fallback: Logger | undefined;

/**
 * A logger for code that runs without an app's (scripts, and library code a test calls directly):
 * `LOG_LEVEL` when it is a valid level, else info; JSON.
 */
export function defaultLogger(): Logger {
  const level = LOG_LEVELS.find((name) => name === process.env.LOG_LEVEL?.trim().toLowerCase()) ?? 'info';
  fallback ??= createLogger({ level, pretty: false });
  return fallback;
}

/** Yoga's logger interface over `log`: yoga's own messages (debug chatter, errors it catches) as lines. */
export function yogaLogger(log: Logger): Record<'debug' | 'info' | 'warn' | 'error', (...args: unknown[]) => void> {
  const line =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      if (!log.isLevelEnabled(level)) return;
      const error = args.find((arg): arg is Error => arg instanceof Error);
      // Yoga logs strings and errors; anything else is named by its type rather than printed,
      // so that nothing it holds (a request, its headers) can reach a line.
      const message = args
        .filter((arg) => !(arg instanceof Error))
        .map((arg) => (typeof arg === 'string' ? arg : `[${typeof arg}]`))
        .join(' ');
      if (error === undefined) log[level](message);
      else log[level]({ err: error }, message === '' ? error.message : message);
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
