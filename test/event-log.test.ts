import * as ops from './operations';
import { decodeGlobalId } from '../src/graphql/ids';
import { createBug, createProject, signUp } from './helpers/fixtures';
import { recordSql, useServer } from './helpers/server';

describe('a long event log', () => {
  // The poll would go through the 20,000 events written below; nothing here needs it.
  const server = useServer({ EVENT_POLL_MS: '600000' });

  it('gives each write its position from the index, not by reading the whole log', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    const { db } = server.current.app;
    // 20,000 events, as months of use leave behind; each tells only `owner` that nothing was read.
    await db.withSession(async (session) => {
      await session.exec(`
        INSERT INTO "Event" ("position", "type", "userId", "data")
        SELECT (SELECT MAX("position") FROM "Event") + n, 'NOTIFICATIONS_READ', '${decodeGlobalId(owner.id).id}', '{"read":[]}'
        FROM generate_series(1, 20000) AS n;
        ANALYZE "Event";`);
    });

    type QueryEvent = { query: string; params: string };
    const statements: QueryEvent[] = [];
    const prisma = db.prisma as unknown as { $on(event: 'query', listener: (event: QueryEvent) => void): void };
    prisma.$on('query', (event) => statements.push(event));
    await createBug(server.current, owner, project.id, { title: 'Filed after months of events' });
    const newest = statements.find(({ query }) => /FROM "public"\."Event".*"position" DESC/s.test(query));
    expect(newest).toBeDefined();

    const plan = await db.withSession((session) =>
      session.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${newest!.query}`, JSON.parse(newest!.params) as unknown[]),
    );
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Only Scan Backward using "Event_pkey"/);
    expect(text).not.toMatch(/Seq Scan/);

    // And the cursor a client is handed now is past all of them.
    const { eventCursor } = await server.current.ok(ops.EventCursor, {}, owner.token);
    expect(Buffer.from(eventCursor, 'base64url').toString('utf8')).toMatch(/^event:200\d\d$/);
  });

  it('tells a burst of readers in two reads of the log that they have every event committed before they asked', async () => {
    const owner = await signUp(server.current, 'reader');
    const { db, events } = server.current.app;
    const append = () =>
      db.withSession((session) =>
        session.query<{ position: string }>(
          `INSERT INTO "Event" ("position", "type", "userId", "data")
           SELECT MAX("position") + 1, 'NOTIFICATIONS_READ', $1::uuid, '{"read":[]}' FROM "Event"
           RETURNING "position"::text`,
          [decodeGlobalId(owner.id).id],
        ),
      );

    // Whatever the table holds that this instance has not read yet (the 20,000 above), read first.
    await events.catchUp();
    // Written straight to the table: no bus brings it, and the poll is off.
    const [written] = await append();
    const reads = await recordSql(server.current, () =>
      Promise.all(Array.from({ length: 50 }, () => events.catchUp())),
    );
    expect(reads.filter((sql) => /FROM "public"."Event"/.test(sql))).toHaveLength(2);
    expect(events.head).toBe(BigInt(written!.position));

    // One read under way, an event committed, then another reader: it waits for a read that sees it.
    const first = events.catchUp();
    const [later] = await append();
    await Promise.all([first, events.catchUp()]);
    expect(events.head).toBe(BigInt(later!.position));
  });
});
