import path from 'node:path';

/** Everything the app reads from its environment, validated once at start. */
export interface Config {
  /** HTTP port; 0 picks a free one. `PORT`, default 4000. */
  port: number;
  /** Folder for the embedded database and the development JWT secret. `DATA_DIR`, default `./data`. */
  dataDir: string;
  /** `postgresql://...` to use a real PostgreSQL; unset, the embedded PGlite in `dataDir` is used. */
  databaseUrl: string | undefined;
  /** HS256 signing secret, at least 32 characters. Unset outside production: generated once into `dataDir`. */
  jwtSecret: string | undefined;
  /** How long a token stays valid, in seconds. `JWT_TTL_SECONDS`, default 7 days. */
  jwtTtlSeconds: number;
  /** `NODE_ENV === 'production'` makes a missing secret fatal and hides GraphiQL unless asked for. */
  production: boolean;
  /** Serve GraphiQL on /graphql. `GRAPHIQL=true|false`, default: on except in production. */
  graphiql: boolean;
  /** Log every SQL statement Prisma runs. `LOG_SQL=true`, default off. */
  logSql: boolean;
  /** `redis://...` to fan events out to every instance; unset, events stay in this process. */
  redisUrl: string | undefined;
  /** How long a WebSocket may stay open without `connection_init`. `WS_INIT_TIMEOUT_MS`, default 10 s. */
  wsInitTimeoutMs: number;
  /** How long events stay replayable. `EVENT_RETENTION_DAYS`, default 7. */
  eventRetentionDays: number;
  /** How often each instance checks the event table for events the bus did not bring. `EVENT_POLL_MS`, default 1 s. */
  eventPollMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const MIN_SECRET_LENGTH = 32;

/** Reads and validates the environment; throws a ConfigError that says what to fix. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const jwtSecret = nonEmpty(env.JWT_SECRET);
  if (jwtSecret !== undefined && jwtSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters long.`);
  }
  if (production && jwtSecret === undefined) {
    throw new ConfigError(
      `JWT_SECRET is required when NODE_ENV=production (at least ${MIN_SECRET_LENGTH} random characters, e.g. \`openssl rand -base64 48\`).`,
    );
  }
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgresql:// (or be unset for the embedded database).');
  }
  const redisUrl = nonEmpty(env.REDIS_URL);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL must start with redis:// or rediss:// (or be unset for a single instance).');
  }
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    dataDir: path.resolve(nonEmpty(env.DATA_DIR) ?? 'data'),
    databaseUrl,
    jwtSecret,
    jwtTtlSeconds: integer(env, 'JWT_TTL_SECONDS', 7 * 24 * 3600, 60, 365 * 24 * 3600),
    production,
    graphiql: boolean(env, 'GRAPHIQL', !production),
    logSql: boolean(env, 'LOG_SQL', false),
    redisUrl,
    wsInitTimeoutMs: integer(env, 'WS_INIT_TIMEOUT_MS', 10_000, 100, 600_000),
    eventRetentionDays: integer(env, 'EVENT_RETENTION_DAYS', 7, 1, 3650),
    eventPollMs: integer(env, 'EVENT_POLL_MS', 1000, 10, 600_000),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name])?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}".`);
}
