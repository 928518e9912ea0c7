import type { Client } from 'graphql-ws';
import * as ops from './operations';
import { encodeCursor } from '../src/events/event';
import { decodeGlobalId } from '../src/graphql/ids';
import { postgresUrl } from './helpers/database';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { createStorage, startServer, useServer, type Storage } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

describe('resuming with a cursor', () => {
  const server = useServer();
  const clients: Client[] = [];
  let owner: TestUser, member: TestUser;
  let projectId: string, otherProjectId: string;

  beforeAll(async () => {
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    projectId = (await createProject(server.current, owner, [member])).id;
    otherProjectId = (await createProject(server.current, owner)).id;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
  });

  const client = (user: TestUser) => {
    const created = connect(server.current, user);
    clients.push(created);
    return created;
  };
  const cursorNow = async () => (await server.current.ok(ops.EventCursor, {}, owner.token)).eventCursor;
  const title = (text: string) => createBug(server.current, owner, projectId, { title: text });

  it('replays exactly what was missed, in order, then goes on live', async () => {
    const first = client(member);
    const live = subscribe(first, ops.OnBugChanged, { after: await cursorNow() });
    await title('seen');
    const seen = (await live.next()).bugChanged;
    expect(seen.bug.title).toBe('seen');
    await first.dispose();

    // While away: two changes they may see, one in a project they are not in.
    await title('missed 1');
    await createBug(server.current, owner, otherProjectId, { title: 'not theirs' });
    await title('missed 2');

    const resumed = subscribe(client(member), ops.OnBugChanged, { after: seen.cursor });
    expect((await resumed.next()).bugChanged.bug.title).toBe('missed 1');
    expect((await resumed.next()).bugChanged.bug.title).toBe('missed 2');
    await title('live');
    expect((await resumed.next()).bugChanged.bug.title).toBe('live');
    // No duplicate of anything replayed: the next change is the next thing.
    await title('after');
    expect((await resumed.next()).bugChanged.bug.title).toBe('after');
  });

  it('replays from far back exactly what the subscriber may see, past the events whose checks are kept', async () => {
    const start = await cursorNow();
    // More events than the checks are kept for (64), so the oldest are checked afresh on replay.
    const titles: string[] = [];
    for (let i = 0; i < 70; i++) {
      if (i === 3) await createBug(server.current, owner, otherProjectId, { title: 'not theirs' });
      titles.push(`far ${i}`);
      await title(`far ${i}`);
    }
    const resumed = subscribe(client(member), ops.OnBugChanged, { after: start });
    const replayed: string[] = [];
    for (let i = 0; i < titles.length; i++) replayed.push((await resumed.next()).bugChanged.bug.title);
    expect(replayed).toEqual(titles);
  });

  it('gives each event a cursor that resumes right after it, on every subscription', async () => {
    const start = await cursorNow();
    await title('one');
    await title('two');
    const all = subscribe(client(owner), ops.OnBugChanged, { after: start });
    const one = (await all.next()).bugChanged;
    const fromOne = subscribe(client(owner), ops.OnBugChanged, { after: one.cursor });
    expect((await fromOne.next()).bugChanged.bug.title).toBe('two');
    expect(one.bug.title).toBe('one');
  });

  it.each([
    ['garbage', 'not-a-cursor', 'MALFORMED_CURSOR'],
    ['a node ID', Buffer.from('Bug:1').toString('base64'), 'MALFORMED_CURSOR'],
    ['a cursor this server never issued', encodeCursor(10n ** 12n), 'UNKNOWN_CURSOR'],
  ])('refuses %s with BAD_USER_INPUT', async (_case, after, reason) => {
    const refused = subscribe(client(member), ops.OnNotification, { after });
    expect((await refused.errors())[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after', reason });
  });

  it('refuses a cursor older than the retention window with reason CURSOR_EXPIRED', async () => {
    const old = await cursorNow();
    await title('newer');
    // Time passes: everything so far is eight days old (the window is seven by default).
    await server.current.app.db.prisma.event.updateMany({ data: { createdAt: new Date(Date.now() - 8 * 86_400_000) } });
    const refused = subscribe(client(member), ops.OnBugChanged, { after: old });
    const [error] = await refused.errors();
    expect(error?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after', reason: 'CURSOR_EXPIRED' });
    expect(error?.message).toMatch(/7-day/);
    // The newest cursor is never too old: there is nothing after it to have missed.
    const fromNewest = subscribe(client(member), ops.OnBugChanged, { after: await cursorNow() });
    await title('fresh');
    expect((await fromNewest.next()).bugChanged.bug.title).toBe('fresh');
  });

  // Immediate: the transaction fails after the event row is written. Deferred: it fails at COMMIT,
  // after every statement has run. pglite-prisma-adapter 0.7.2 loses errors raised by COMMIT (its
  // transaction promise is caught once the transaction has started), so a commit that fails cannot
  // even be reported on PGlite; our schema has no deferred checks, so its commits do not fail.
  const timings = postgresUrl === undefined ? ['IMMEDIATE'] : ['IMMEDIATE', 'DEFERRED'];
  it.each(timings)('publishes nothing for a change that rolls back (%s failure)', async (timing) => {
    const bug = await title('commented');
    const db = server.current.app.db;
    await db.withSession((session) =>
      session.exec(`
        CREATE FUNCTION refuse_comment() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'refused'; END $$;
        CREATE CONSTRAINT TRIGGER refuse_comment AFTER INSERT ON "Event" INITIALLY ${timing}
          FOR EACH ROW WHEN (NEW.type = 'COMMENT_ADDED' AND NEW."actorId" = '${decodeGlobalId(member.id).id}')
          EXECUTE FUNCTION refuse_comment();`),
    );
    try {
      const before = await cursorNow();
      const watching = subscribe(client(owner), ops.OnCommentAdded, { bugId: bug.id, after: before });
      const changes = subscribe(client(owner), ops.OnBugChanged, { projectId, after: before });

      const failed = await server.current.request(
        ops.AddComment,
        { input: { bugId: bug.id, body: 'rolled back' } },
        member.token,
      );
      expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(await cursorNow()).toBe(before);
      expect(await db.prisma.comment.count({ where: { bugId: decodeGlobalId(bug.id).id } })).toBe(0);

      await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: 'kept' } }, owner.token);
      expect((await watching.next()).commentAdded.comment.body).toBe('kept');
      expect((await changes.next()).bugChanged.action).toBe('COMMENTED');
    } finally {
      await db.withSession((session) =>
        session.exec('DROP TRIGGER refuse_comment ON "Event"; DROP FUNCTION refuse_comment();'),
      );
    }
  });
});

describe('events after a restart', () => {
  let storage: Storage;
  afterAll(() => storage?.dispose());

  it('are still replayable from a cursor issued before it', async () => {
    storage = await createStorage();
    const before = await startServer(storage);
    const owner = await signUp(before, 'owner');
    const project = await createProject(before, owner);
    const { eventCursor } = await before.ok(ops.EventCursor, {}, owner.token);
    const written = await createBug(before, owner, project.id, { title: 'written before the restart' });
    await before.stop();

    const after = await startServer(storage);
    const client = connect(after, owner);
    try {
      const replay = subscribe(client, ops.OnBugChanged, { after: eventCursor });
      expect((await replay.next()).bugChanged).toMatchObject({ action: 'CREATED', bug: { id: written.id } });
      // Positions go on from where they were: the next event follows without a gap.
      const next = await createBug(after, owner, project.id, { title: 'after' });
      expect((await replay.next()).bugChanged.bug.id).toBe(next.id);
    } finally {
      await client.dispose();
      await after.stop();
    }
  });
});
