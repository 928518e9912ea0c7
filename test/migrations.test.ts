import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openDatabase, type Database } from '../src/infra/db';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../src/infra/migrations';
import { actualShape } from './helpers/actual-schema';
import { expectedShape } from './helpers/expected-schema';
import { createStorage, type Storage } from './helpers/server';

describe('migrations', () => {
  let storage: Storage;
  let db: Database;

  beforeAll(async () => {
    storage = await createStorage();
    db = await openDatabase(storage);
  });
  afterAll(async () => {
    await db?.close();
    await storage?.dispose();
  });

  it('build exactly the database that schema.prisma describes', async () => {
    expect(await migrate(db)).toEqual((await readMigrations()).map((migration) => migration.name));
    const expected = await expectedShape();
    const actual = await db.withSession(actualShape);

    // Compared part by part so a failure names what drifted.
    expect(actual.enums).toEqual(expected.enums);
    expect(actual.columns).toEqual(expected.columns);
    expect(actual.indexes).toEqual(expected.indexes);
    expect(actual.foreignKeys).toEqual(expected.foreignKeys);
    expect(Object.keys(expected.columns).length).toBeGreaterThan(30);
  });

  it('record themselves in _prisma_migrations as Prisma Migrate does, and apply once', async () => {
    const rows = await db.withSession((session) =>
      session.query<{
        migration_name: string;
        checksum: string;
        finished_at: Date | null;
        applied_steps_count: number;
      }>(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
      ),
    );
    const files = await readMigrations();
    expect(rows.map((row) => row.migration_name)).toEqual(files.map((file) => file.name));
    for (const [i, row] of rows.entries()) {
      const sql = await fs.readFile(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).not.toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(files[i]?.checksum).toBe(row.checksum);
    }
    expect(await migrate(db)).toEqual([]);
  });

  it('roll back a failing migration whole, recording nothing', async () => {
    const dir = await fs.mkdtemp(path.join(storage.dataDir, 'migrations-'));
    for (const migration of await readMigrations()) {
      await fs.mkdir(path.join(dir, migration.name));
      await fs.writeFile(path.join(dir, migration.name, 'migration.sql'), migration.sql);
    }
    await fs.mkdir(path.join(dir, '29990101000000_broken'));
    await fs.writeFile(
      path.join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE "Half" ("id" INTEGER);\nSELECT no_such_function();\n',
    );
    await expect(migrate(db, dir)).rejects.toThrow(/29990101000000_broken failed and was rolled back/);
    const [state] = await db.withSession((session) =>
      session.query<{ half: string | null; recorded: number }>(
        `SELECT to_regclass('public."Half"')::text AS half,
                (SELECT count(*)::int FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken') AS recorded`,
      ),
    );
    expect(state).toEqual({ half: null, recorded: 0 });
  });
});
