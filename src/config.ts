import path from 'node:path';
import { LOG_LEVELS, type LogLevel } from './infra/log';

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
  /**
   * Answer repeated queries from memory until an event may have changed them (see
   * graphql/response-cache.ts). `RESPONSE_CACHE=false` turns it off; default on.
   */
  responseCache: boolean;
  /** Log every SQL statement Prisma runs. `LOG_SQL=true`, default off. */
  logSql: boolean;
  /** The quietest level logged: trace, debug, info, warn, error, fatal or silent. `LOG_LEVEL`, default info. */
  logLevel: LogLevel;
  /**
   * Human-readable log lines (pino-pretty, a devDependency) instead of JSON. `LOG_PRETTY`, default:
   * on when stdout is a terminal, except in production.
   */
  logPretty: boolean;
  /**
   * How long stopping (SIGTERM, SIGINT) waits for HTTP requests in flight before cutting them.
   * `SHUTDOWN_TIMEOUT_MS`, default 10 s.
   */
  shutdownTimeoutMs: number;
  /**
   * How long a write may wait for the database before it is refused with SERVER_BUSY: for the
   * embedded database's one connection, or a free one of the PostgreSQL pool. Nothing of the write
   * has happened then, so the client may simply try again. `DB_TRANSACTION_WAIT_MS`, default 10 s.
   */
  transactionWaitMs: number;
  /** `redis://...` to fan events out to every instance; unset, events stay in this process. */
  redisUrl: string | undefined;
  /** How long a WebSocket may stay open without `connection_init`. `WS_INIT_TIMEOUT_MS`, default 10 s. */
  wsInitTimeoutMs: number;
  /**
   * How often every WebSocket is pinged; one that has not answered by the next ping is dropped.
   * Under a proxy's idle timeout, so idle sockets stay open. `WS_KEEPALIVE_MS`, default 12 s.
   */
  wsKeepAliveMs: number;
  /** How long events stay replayable. `EVENT_RETENTION_DAYS`, default 7. */
  eventRetentionDays: number;
  /** How long inbox entries are kept, read or not. `NOTIFICATION_RETENTION_DAYS`, default 180, at least the event retention. */
  notificationRetentionDays: number;
  /** How often each instance checks the event table for events the bus did not bring. `EVENT_POLL_MS`, default 1 s. */
  eventPollMs: number;
  /** What a client may ask of the server; see Limits. */
  limits: Limits;
  /**
   * How many proxies in front of the server append to `X-Forwarded-For`: the client address is the
   * entry that many from the right. `TRUST_PROXY=true` means one; default 0 (false): the socket's
   * peer address, and the header is ignored.
   */
  trustProxy: number;
  /**
   * Browser origins granted CORS and WebSocket upgrades. `CORS_ORIGINS`, comma-separated exact
   * origins; default outside production: any http(s)://localhost or 127.0.0.1 port; in production: none.
   */
  corsOrigins: readonly string[] | 'localhost';
  /** Answer introspection queries (HTTP and WebSocket). `INTROSPECTION`, default: on except in production. */
  introspection: boolean;
  /** Collect Prometheus metrics and serve them on `/metrics`. `METRICS=false` does neither (404); default on. */
  metrics: boolean;
  /**
   * When set, `/metrics` answers only requests with `Authorization: Bearer <token>` (401 otherwise).
   * `METRICS_TOKEN`, default unset: anyone who can reach the port can read the metrics.
   */
  metricsToken: string | undefined;
}

/**
 * What one client may ask of the server. Every limit is an environment variable of the same name
 * in capitals (e.g. `MAX_QUERY_DEPTH`); `0` switches it off.
 */
export interface Limits {
  /** Lexical tokens in one GraphQL document, checked while parsing. `MAX_QUERY_TOKENS`, default 3,000. */
  maxQueryTokens: number;
  /** Nesting of fields in one operation. `MAX_QUERY_DEPTH`, default 12. */
  maxQueryDepth: number;
  /** Aliased fields in one operation. `MAX_QUERY_ALIASES`, default 30. */
  maxQueryAliases: number;
  /** Directives in one operation. `MAX_QUERY_DIRECTIVES`, default 50. */
  maxQueryDirectives: number;
  /** An operation's cost, a list costing its page size times what it selects. `MAX_QUERY_COST`, default 10,000. */
  maxQueryCost: number;
  /** HTTP request body, in bytes (413 past it). `MAX_BODY_BYTES`, default 1 MiB. */
  maxBodyBytes: number;
  /** One WebSocket frame, in bytes (closed with 1009 past it). `WS_MAX_PAYLOAD_BYTES`, default 1 MiB. */
  wsMaxPayloadBytes: number;
  /** Operations active at once on one socket. `WS_MAX_SUBSCRIPTIONS_PER_SOCKET`, default 100. */
  wsMaxSubscriptionsPerSocket: number;
  /** Messages a socket may send per second (closed with 4429 past it). `WS_MAX_MESSAGES_PER_SECOND`, default 50. */
  wsMaxMessagesPerSecond: number;
  /** Open sockets per user, per instance. `WS_MAX_SOCKETS_PER_USER`, default 20. */
  wsMaxSocketsPerUser: number;
  /** Data queued for a socket that is not reading (closed with 1013 past it). `WS_MAX_BUFFERED_BYTES`, default 1 MiB. */
  wsMaxBufferedBytes: number;
  /** `logIn` and `signUp` attempts per client address per minute. `RATE_LIMIT_SIGNIN_PER_IP`, default 10. */
  rateLimitSigninPerIp: number;
  /** Failed `logIn` attempts per account per minute. `RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT`, default 5. */
  rateLimitLoginFailuresPerAccount: number;
  /** Operations per signed-in user (anonymous: per address) per minute. `RATE_LIMIT_OPERATIONS_PER_USER`, default 600. */
  rateLimitOperationsPerUser: number;
}

const MIB = 1024 * 1024;

/** Each limit's environment variable, default and largest value. */
const LIMITS = {
  maxQueryTokens: ['MAX_QUERY_TOKENS', 3_000, 1_000_000],
  maxQueryDepth: ['MAX_QUERY_DEPTH', 12, 1_000],
  maxQueryAliases: ['MAX_QUERY_ALIASES', 30, 100_000],
  maxQueryDirectives: ['MAX_QUERY_DIRECTIVES', 50, 100_000],
  maxQueryCost: ['MAX_QUERY_COST', 10_000, 1_000_000_000],
  maxBodyBytes: ['MAX_BODY_BYTES', MIB, 1024 * MIB],
  wsMaxPayloadBytes: ['WS_MAX_PAYLOAD_BYTES', MIB, 1024 * MIB],
  wsMaxSubscriptionsPerSocket: ['WS_MAX_SUBSCRIPTIONS_PER_SOCKET', 100, 1_000_000],
  wsMaxMessagesPerSecond: ['WS_MAX_MESSAGES_PER_SECOND', 50, 1_000_000],
  wsMaxSocketsPerUser: ['WS_MAX_SOCKETS_PER_USER', 20, 1_000_000],
  wsMaxBufferedBytes: ['WS_MAX_BUFFERED_BYTES', MIB, 1024 * MIB],
  rateLimitSigninPerIp: ['RATE_LIMIT_SIGNIN_PER_IP', 10, 1_000_000],
  rateLimitLoginFailuresPerAccount: ['RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT', 5, 1_000_000],
  rateLimitOperationsPerUser: ['RATE_LIMIT_OPERATIONS_PER_USER', 600, 100_000_000],
} as const satisfies Record<keyof Limits, readonly [string, number, number]>;

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
    responseCache: boolean(env, 'RESPONSE_CACHE', true),
    logSql: boolean(env, 'LOG_SQL', false),
    logLevel: logLevel(env),
    logPretty: boolean(env, 'LOG_PRETTY', !production && process.stdout.isTTY === true),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    transactionWaitMs: integer(env, 'DB_TRANSACTION_WAIT_MS', 10_000, 1, 600_000),
    redisUrl,
    wsInitTimeoutMs: integer(env, 'WS_INIT_TIMEOUT_MS', 10_000, 100, 600_000),
    wsKeepAliveMs: integer(env, 'WS_KEEPALIVE_MS', 12_000, 100, 600_000),
    eventRetentionDays: integer(env, 'EVENT_RETENTION_DAYS', 7, 1, 3650),
    notificationRetentionDays: notificationRetentionDays(env),
    eventPollMs: integer(env, 'EVENT_POLL_MS', 1000, 10, 600_000),
    limits: Object.fromEntries(
      Object.entries(LIMITS).map(([key, [name, fallback, max]]) => [key, integer(env, name, fallback, 0, max)]),
    ) as unknown as Limits,
    trustProxy: trustProxy(env),
    corsOrigins: corsOrigins(env, production),
    introspection: boolean(env, 'INTROSPECTION', !production),
    metrics: boolean(env, 'METRICS', true),
    metricsToken: metricsToken(env),
  };
}

function metricsToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = nonEmpty(env.METRICS_TOKEN);
  // It travels as `Authorization: Bearer <token>`, which cannot carry whitespace.
  if (token !== undefined && /\s/.test(token)) {
    throw new ConfigError('METRICS_TOKEN must not contain whitespace (e.g. `openssl rand -hex 32`).');
  }
  return token;
}

function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const raw = nonEmpty(env.LOG_LEVEL)?.toLowerCase();
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS.find((name) => name === raw);
  if (level === undefined) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}".`);
  return level;
}

/** The inbox outlives the event log, so a notification is never gone while its event can still be replayed. */
function notificationRetentionDays(env: NodeJS.ProcessEnv): number {
  const events = integer(env, 'EVENT_RETENTION_DAYS', 7, 1, 3650);
  const days = integer(env, 'NOTIFICATION_RETENTION_DAYS', Math.max(180, events), 1, 36500);
  if (days < events) {
    throw new ConfigError(`NOTIFICATION_RETENTION_DAYS (${days}) must be at least EVENT_RETENTION_DAYS (${events}).`);
  }
  return days;
}

function trustProxy(env: NodeJS.ProcessEnv): number {
  const raw = nonEmpty(env.TRUST_PROXY)?.toLowerCase();
  if (raw === 'true') return 1;
  if (raw === 'false') return 0;
  return integer(env, 'TRUST_PROXY', 0, 0, 10);
}

function corsOrigins(env: NodeJS.ProcessEnv, production: boolean): readonly string[] | 'localhost' {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined) return production ? [] : 'localhost';
  const origins = raw
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(`CORS_ORIGINS must list origins like https://bugs.example.com (no path), got "${origin}".`);
    }
  }
  return origins;
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
