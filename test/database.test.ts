import { openDatabase, type Database } from '../src/infra/db';
import { postgresUrl } from './helpers/database';
import { createStorage, type Storage } from './helpers/server';
import { countTurns } from './helpers/turns';

// PGlite runs statements on the server's own thread; PostgreSQL's answers arrive as socket reads.
const onPGlite = postgresUrl === undefined ? describe : describe.skip;

onPGlite('the embedded database', () => {
  let storage: Storage;
  let database: Database;
  beforeAll(async () => {
    storage = await createStorage();
    database = await openDatabase({ databaseUrl: undefined, dataDir: storage.dataDir, owner: 'database.test.ts' });
  });
  afterAll(async () => {
    await database?.close();
    await storage?.dispose();
  });

  it('lets the event loop turn between two statements, however many are asked for at once', async () => {
    // As an event's results for many groups of subscribers are: all asked for at once.
    const atOnce = countTurns();
    const turns = await Promise.all(
      Array.from({ length: 30 }, (_, i) => database.prisma.$queryRaw`SELECT ${i}::int AS n`.then(() => atOnce.turn)),
    );
    atOnce.stop();
    expect(new Set(turns).size).toBe(turns.length);

    // And one statement after another, as a transaction's are.
    const inTurn = countTurns();
    await database.prisma.$transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.$queryRaw`SELECT ${i}::int AS n`;
    });
    inTurn.stop();
    expect(inTurn.turn).toBeGreaterThanOrEqual(10);
  });
});
