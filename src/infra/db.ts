import fs from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client';
import { lockDataDirectory } from './data-dir-lock';
import { defaultLogger, type Logger } from './log';
import { statementNames } from './statement-names';

/** One connection's worth of raw SQL, for what Prisma Client cannot say: multi-statement scripts and session locks. */
export interface SqlSession {
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Runs one parameterised statement and returns its rows. */
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
}

/**
 * Spread into root reads that select nested lists (a page of bugs with their first comments): one
 * statement with LATERAL joins, each nested page limited in the database rather than in memory.
 */
export const JOINED = { relationLoadStrategy: 'join' } as const;

export interface Database {
  readonly prisma: PrismaClient;
  /** `pglite` for the embedded default, `postgresql` for a server at DATABASE_URL. */
  readonly kind: 'pglite' | 'postgresql';
  /** Runs `fn` on a single connection held for its whole duration. */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Calls `listener` with every SQL statement Prisma Client runs; returns the unsubscriber. */
  onQuery(listener: (sql: string) => void): () => void;
  /** The PostgreSQL pool's connections right now (for metrics); undefined on PGlite, which has no pool. */
  poolStats(): PoolStats | undefined;
  /**
   * What autovacuum does for a PostgreSQL server and nothing does for PGlite, a single-user
   * PostgreSQL without background workers: VACUUM (ANALYZE) of BugZapp's tables that hold rows, so
   * that the planner has statistics (without them it may join every bug's comments before sorting
   * for a page of 20) and dead rows are reused. Nothing to do on PostgreSQL.
   */
  upkeep(): Promise<void>;
  /** Closes Prisma Client and the driver; calling it again waits for the first close. */
  close(): Promise<void>;
}

/** A connection pool at one moment, as `pg.Pool` counts it. */
export interface PoolStats {
  /** Connections open, idle or lent out. */
  total: number;
  /** Open connections nobody is using. */
  idle: number;
  /** Queries waiting for a connection because every one is lent out. */
  waiting: number;
}

export interface DatabaseOptions {
  /** A postgresql:// URL; without one an embedded PGlite database lives in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Who opens an embedded database, for the message a second process gets (see data-dir-lock.ts). */
  owner?: string;
  /** Where a pooled PostgreSQL connection's failure is reported; default: defaultLogger(). */
  log?: Logger;
  /**
   * How long a transaction may wait for the connection before Prisma gives up on it (then
   * graphql/errors.ts answers SERVER_BUSY); default Prisma's own, 2 s.
   */
  transactionWaitMs?: number;
}

/** Opens the database the configuration names. One code path above the driver adapter. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl === undefined
    ? openPGlite(options.dataDir, options.owner ?? 'a BugZapp process', options.transactionWaitMs)
    : openPostgres(options.databaseUrl, options.log ?? defaultLogger(), options.transactionWaitMs);
}

/** Connections each instance keeps to PostgreSQL at most (`pg`'s own default). */
export const POOL_SIZE = 10;

/** Where in DATA_DIR the embedded database keeps its cluster. */
export const pgliteDirectory = (dataDir: string): string => path.join(dataDir, 'pglite');

async function openPGlite(dataDir: string, owner: string, transactionWaitMs: number | undefined): Promise<Database> {
  const unlock = lockDataDirectory(dataDir, owner);
  let pglite: PGlite;
  try {
    const directory = pgliteDirectory(dataDir);
    await fs.mkdir(directory, { recursive: true });
    pglite = await PGlite.create(directory);
    statementsTakeTurns(pglite);
  } catch (error) {
    unlock();
    throw error;
  }
  const session: SqlSession = {
    exec: async (sql) => void (await pglite.exec(sql)),
    query: async <Row>(sql: string, params?: unknown[]) => (await pglite.query<Row>(sql, params)).rows,
  };
  return withPrisma('pglite', new PrismaPGlite(pglite), transactionWaitMs, {
    // PGlite is a single connection: every caller already has it to itself.
    withSession: (fn) => fn(session),
    poolStats: () => undefined,
    upkeep: async () => {
      // Only tables holding rows: statistics of an empty table would tell the planner it stays
      // empty until the next run, and plans made for no rows are the wrong ones once rows come.
      const tables = await session.query<{ name: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
         WHERE schemaname = current_schema() AND pg_relation_size(format('%I.%I', schemaname, tablename)) > 0`,
      );
      if (tables.length > 0) await session.exec(`VACUUM (ANALYZE) ${tables.map((table) => table.name).join(', ')}`);
    },
    close: () => pglite.close().finally(unlock),
  });
}

/**
 * PGlite runs each statement on this thread, in WebAssembly, and answers in microtasks, which all
 * run before the event loop takes its next turn: a chain of statements (a mutation's transaction,
 * an event's results for dozens of groups of subscribers) held the loop from the first to the last,
 * up to a tenth of a second during a fan-out to 10,000 (bench/README.md). Here every statement
 * waits for a turn of the event loop once it has the connection, as an answer from a PostgreSQL
 * server comes in one: timers, sockets and requests run between two statements. Waiting with the
 * connection held keeps the statements in the order they were made, and costs nothing to anyone
 * else: PGlite runs one statement at a time whatever happens.
 */
function statementsTakeTurns(pglite: PGlite): void {
  const runExclusive = pglite._runExclusiveQuery.bind(pglite);
  pglite._runExclusiveQuery = (statement) =>
    runExclusive(() => new Promise<void>((resolve) => setImmediate(resolve)).then(statement));
}

function openPostgres(connectionString: string, log: Logger, transactionWaitMs: number | undefined): Database {
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE });
  // Without a listener an idle client's network error would crash the process.
  pool.on('error', (error) => log.error(`PostgreSQL pool error: ${error.message}`));
  return withPrisma('postgresql', new PrismaPg(pool, { statementNameGenerator: statementNames() }), transactionWaitMs, {
    withSession: async (fn) => {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (sql) => void (await client.query(sql)),
          query: async <Row>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as Row[],
        });
      } finally {
        client.release();
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    upkeep: async () => {},
    close: () => pool.end(),
  });
}

function withPrisma(
  kind: Database['kind'],
  adapter: PrismaPg | PrismaPGlite,
  transactionWaitMs: number | undefined,
  driver: Pick<Database, 'withSession' | 'poolStats' | 'upkeep' | 'close'>,
): Database {
  // Minimal errors: Prisma's default format captures a stack trace at every query's call site, to
  // point at it in the message; ours are masked before a client sees them (graphql/errors.ts).
  const prisma = new PrismaClient({
    adapter,
    errorFormat: 'minimal',
    log: [{ emit: 'event', level: 'query' }],
    ...(transactionWaitMs === undefined ? {} : { transactionOptions: { maxWait: transactionWaitMs } }),
  });
  const listeners = new Set<(sql: string) => void>();
  prisma.$on('query', (event) => listeners.forEach((listener) => listener(event.query)));
  let closing: Promise<void> | undefined;
  return {
    prisma,
    kind,
    withSession: driver.withSession,
    poolStats: driver.poolStats,
    upkeep: driver.upkeep,
    onQuery(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closing ??= prisma.$disconnect().then(() => driver.close());
      return closing;
    },
  };
}
