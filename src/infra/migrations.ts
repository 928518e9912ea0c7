import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Database, SqlSession } from './db';
import { defaultLogger, type Logger } from './log';

/** Where `prisma migrate` keeps migrations, and where we read them from. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');

/** The advisory lock key Prisma Migrate takes, so our runner and `prisma migrate deploy` exclude each other. */
const MIGRATE_LOCK_KEY = 72707369;

// The bookkeeping table exactly as Prisma Migrate creates it, so either tool can take over from the other.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

export interface Migration {
  name: string;
  sql: string;
  /** SHA-256 of migration.sql, hex: what Prisma records and compares. */
  checksum: string;
}

interface AppliedMigration {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/** Reads `prisma/migrations/<name>/migration.sql`, in name order (names start with a timestamp). */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  return Promise.all(
    names.sort().map(async (name) => {
      const sql = await fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * Applies every migration not yet recorded in `_prisma_migrations`, each in its own transaction
 * together with its record, under Prisma Migrate's advisory lock so concurrent starts apply it once.
 * Returns the names it applied; a migration edited since it was applied is reported to `log`.
 */
export async function migrate(db: Database, dir = MIGRATIONS_DIR, log: Logger = defaultLogger()): Promise<string[]> {
  const migrations = await readMigrations(dir);
  return db.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
    try {
      await session.exec(CREATE_MIGRATIONS_TABLE);
      const applied = await session.query<AppliedMigration>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
      );
      const byName = new Map(applied.map((row) => [row.migration_name, row]));
      const done: string[] = [];
      for (const migration of migrations) {
        const record = byName.get(migration.name);
        if (record !== undefined && record.finished_at === null) {
          throw new Error(
            `Migration ${migration.name} started earlier and did not finish; fix the database, then mark it with \`prisma migrate resolve\`.`,
          );
        }
        if (record !== undefined) {
          if (record.checksum !== migration.checksum) {
            log.warn(
              `Migration ${migration.name} was edited after it was applied; the database keeps the old version.`,
            );
          }
          continue;
        }
        await apply(session, migration);
        done.push(migration.name);
      }
      return done;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY]);
    }
  });
}

async function apply(session: SqlSession, migration: Migration): Promise<void> {
  await session.exec('BEGIN');
  try {
    await session.exec(migration.sql);
    await session.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), now(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await session.exec('COMMIT');
  } catch (error) {
    await session.exec('ROLLBACK');
    throw new Error(`Migration ${migration.name} failed and was rolled back: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * A name for this database that no other database has: the random id its first migration was
 * recorded under. Instances of one deployment agree on it; two deployments sharing a Redis do not.
 */
export async function databaseId(db: Database): Promise<string> {
  const [first] = await db.withSession((session) =>
    session.query<{ id: string }>(
      'SELECT "id" FROM "_prisma_migrations" ORDER BY "started_at", "migration_name" LIMIT 1',
    ),
  );
  if (first === undefined) throw new Error('The database has no migrations applied.');
  return first.id;
}
