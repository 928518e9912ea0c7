import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client } from 'graphql-ws';
import { decodeGlobalId } from '../src/graphql/ids';
import * as ops from './operations';
import type { InboxPageQuery } from './gql/graphql';
import { createBug, createProject, errorOf, missingId, signUp, type TestUser } from './helpers/fixtures';
import { recordSql, useServer } from './helpers/server';
import { connect, listenFromNow } from './helpers/subscriptions';

/** The uuid inside a global ID, for the rows written with SQL. */
const uuidOf = (globalId: string) => decodeGlobalId(globalId).id;

describe('the inbox', () => {
  const server = useServer();
  const clients: Client[] = [];
  let ada: TestUser, grace: TestUser, linus: TestUser, ken: TestUser, outsider: TestUser;
  let projectId: string;

  beforeAll(async () => {
    await signUp(server.current, 'admin'); // the first account is an admin; nobody below is
    ada = await signUp(server.current, 'Ada');
    grace = await signUp(server.current, 'Grace');
    linus = await signUp(server.current, 'Linus');
    ken = await signUp(server.current, 'Ken');
    outsider = await signUp(server.current, 'Eve');
    projectId = (await createProject(server.current, ada, [grace, linus, ken])).id;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
  });

  const inbox = (user: TestUser, variables: { first?: number; after?: string | null; unreadOnly?: boolean } = {}) =>
    server.current.ok(ops.Notifications, { first: 100, ...variables }, user.token);
  const comment = (user: TestUser, bugId: string, body: string) =>
    server.current
      .ok(ops.AddComment, { input: { bugId, body } }, user.token)
      .then((result) => result.addComment.comment);
  const markRead = (user: TestUser, input: { ids?: string[]; all?: boolean }) =>
    server.current.request(ops.MarkNotificationsRead, { input }, user.token);
  /** Subscribes from the current end of the log, on `client` or a socket of its own. */
  const listen = <Data, Variables>(user: TestUser, document: TypedDocumentNode<Data, Variables>, client?: Client) =>
    listenFromNow(server.current, clients, user, document, {} as Omit<Variables, 'after'>, client);

  describe('who hears of a change', () => {
    const seen = new Map<string, Set<string>>();

    /** What each of these people found in their inbox since the last look, oldest first, as `KIND: message`. */
    async function news(...users: TestUser[]): Promise<Record<string, string[]>> {
      const found: Record<string, string[]> = {};
      for (const user of users) {
        const known = seen.get(user.id) ?? new Set<string>();
        seen.set(user.id, known);
        const { notifications } = await inbox(user);
        const fresh = notifications.edges.map((edge) => edge.node).filter((node) => !known.has(node.id));
        fresh.forEach((node) => known.add(node.id));
        found[user.name] = fresh.reverse().map((node) => `${node.kind}: ${node.message}`);
      }
      return found;
    }
    const everyone = () => news(ada, grace, linus, ken, outsider);

    it('tells each watcher of a status change, a comment, an assignment and an edit, never the one who made it', async () => {
      await everyone(); // whatever came before
      const bug = await createBug(server.current, ada, projectId, { title: 'Crash on save', assigneeId: grace.id });
      const name = `${bug.key} "Crash on save"`;
      expect(await everyone()).toEqual({
        Ada: [],
        Grace: [`BUG_ASSIGNED: Ada assigned you ${name}`],
        Linus: [],
        Ken: [],
        Eve: [],
      });

      await comment(linus, bug.id, 'Happens to me too');
      expect(await everyone()).toEqual({
        Ada: [`COMMENT_ADDED: Linus commented on ${name}`],
        Grace: [`COMMENT_ADDED: Linus commented on ${name}`],
        Linus: [],
        Ken: [],
        Eve: [],
      });

      await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, grace.token);
      expect(await everyone()).toEqual({
        Ada: [`STATUS_CHANGED: Grace moved ${name} from OPEN to IN_PROGRESS`],
        Grace: [],
        Linus: [`STATUS_CHANGED: Grace moved ${name} from OPEN to IN_PROGRESS`],
        Ken: [],
        Eve: [],
      });

      await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, priority: 'CRITICAL' } }, ada.token);
      expect(await everyone()).toEqual({ Ada: [], Grace: [], Linus: [], Ken: [], Eve: [] });

      await server.current.ok(
        ops.UpdateBug,
        { input: { bugId: bug.id, title: 'Crash on save as PDF', priority: 'HIGH' } },
        ada.token,
      );
      const renamed = `${bug.key} "Crash on save as PDF"`;
      expect(await everyone()).toEqual({
        Ada: [],
        Grace: [`BUG_EDITED: Ada edited the title of ${renamed}`],
        Linus: [`BUG_EDITED: Ada edited the title of ${renamed}`],
        Ken: [],
        Eve: [],
      });
      await server.current.ok(
        ops.UpdateBug,
        { input: { bugId: bug.id, title: 'Crash on save', description: 'Large files only' } },
        linus.token,
      );
      expect(await everyone()).toMatchObject({
        Ada: [`BUG_EDITED: Linus edited the title and description of ${name}`],
        Grace: [`BUG_EDITED: Linus edited the title and description of ${name}`],
        Linus: [],
      });

      // Ken unwatched the bug: assigned it, he is told all the same (and still does not watch it).
      await server.current.ok(ops.UnwatchBug, { input: { bugId: bug.id } }, ken.token);
      await server.current.ok(ops.AssignBug, { input: { bugId: bug.id, assigneeId: ken.id } }, ada.token);
      expect(await everyone()).toEqual({
        Ada: [],
        Grace: [`BUG_ASSIGNED: Ada assigned ${name} to Ken`],
        Linus: [`BUG_ASSIGNED: Ada assigned ${name} to Ken`],
        Ken: [`BUG_ASSIGNED: Ada assigned you ${name}`],
        Eve: [],
      });
      await server.current.ok(ops.AssignBug, { input: { bugId: bug.id, assigneeId: null } }, grace.token);
      expect(await everyone()).toEqual({
        Ada: [`BUG_ASSIGNED: Grace unassigned ${name}`],
        Grace: [],
        Linus: [`BUG_ASSIGNED: Grace unassigned ${name}`],
        Ken: [],
        Eve: [],
      });
    });

    it('tells an assignee who files the bug for themselves nothing', async () => {
      await everyone();
      await createBug(server.current, grace, projectId, { assigneeId: grace.id });
      expect(await everyone()).toEqual({ Ada: [], Grace: [], Linus: [], Ken: [], Eve: [] });
    });
  });

  it('pages newest first with first and after, counts what is unread, and filters it', async () => {
    const reader = await signUp(server.current, 'Reader');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: reader.id } }, ada.token);
    const bug = await createBug(server.current, ada, projectId, { title: 'Paged inbox' });
    await server.current.ok(ops.WatchBug, { input: { bugId: bug.id } }, reader.token);
    for (let i = 1; i <= 7; i++) await comment(ada, bug.id, `comment ${i}`);

    const bodies: string[] = [];
    let after: string | null = null;
    for (const expected of [3, 3, 1]) {
      const { notifications } = await inbox(reader, { first: 3, after });
      expect(notifications.edges).toHaveLength(expected);
      expect(notifications.totalCount).toBe(7);
      bodies.push(...notifications.edges.map((edge) => edge.node.comment?.body ?? ''));
      expect(notifications.pageInfo.hasNextPage).toBe(expected === 3);
      after = notifications.pageInfo.endCursor;
    }
    expect(bodies).toEqual([7, 6, 5, 4, 3, 2, 1].map((i) => `comment ${i}`));

    const { notifications, unreadNotificationCount } = await inbox(reader);
    expect(unreadNotificationCount).toBe(7);
    expect(notifications.edges.every((edge) => edge.node.readAt === null)).toBe(true);
    const [newest, second] = notifications.edges.map((edge) => edge.node);

    const marked = await markRead(reader, { ids: [second!.id] });
    expect(marked.data?.markNotificationsRead).toEqual({
      unreadCount: 6,
      notifications: [{ id: second!.id, readAt: expect.any(String) as unknown }],
    });
    const unread = await inbox(reader, { unreadOnly: true });
    expect(unread.unreadNotificationCount).toBe(6);
    expect(unread.notifications.totalCount).toBe(6);
    expect(unread.notifications.edges.map((edge) => edge.node.id)).not.toContain(second!.id);
    expect(unread.notifications.edges[0]?.node.id).toBe(newest!.id);
    const unreadPage = await inbox(reader, {
      unreadOnly: true,
      first: 2,
      after: unread.notifications.edges[1]?.cursor,
    });
    expect(unreadPage.notifications.edges.map((edge) => edge.node.comment?.body)).toEqual(['comment 4', 'comment 3']);

    const all = await markRead(reader, { all: true });
    expect(all.data?.markNotificationsRead).toEqual({ unreadCount: 0, notifications: [] });
    const after_ = await inbox(reader);
    expect(after_.unreadNotificationCount).toBe(0);
    expect(after_.notifications.totalCount).toBe(7); // read, not gone
    expect(after_.notifications.edges.every((edge) => edge.node.readAt !== null)).toBe(true);
    expect((await inbox(reader, { unreadOnly: true })).notifications.edges).toEqual([]);
  });

  it('marks read only your own notifications, given either ids or all: true', async () => {
    const bug = await createBug(server.current, ada, projectId, { assigneeId: linus.id });
    await comment(grace, bug.id, 'For both of you');
    const adasNewest = (await inbox(ada, { first: 1 })).notifications.edges[0]!.node;
    const linusNewest = (await inbox(linus, { first: 1 })).notifications.edges[0]!.node;
    const unreadBefore = (await inbox(ada)).unreadNotificationCount;

    expect(errorOf(await markRead(ada, { ids: [adasNewest.id], all: true }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'ids',
    });
    expect(errorOf(await markRead(ada, {}))).toEqual({ code: 'BAD_USER_INPUT', field: 'ids' });
    expect(errorOf(await markRead(ada, { ids: ['garbage'] }))?.code).toBe('BAD_USER_INPUT');
    // Someone else's: NOT_FOUND, as for one that does not exist, and nothing is marked, not even Ada's own.
    for (const ids of [[linusNewest.id], [missingId('Notification')], [adasNewest.id, linusNewest.id]]) {
      expect(errorOf(await markRead(ada, { ids }))).toEqual({ code: 'NOT_FOUND', field: 'ids' });
    }
    expect((await inbox(ada)).unreadNotificationCount).toBe(unreadBefore);
    expect((await inbox(linus, { first: 1 })).notifications.edges[0]?.node.readAt).toBeNull();
  });

  it('answers node(id) for your own notification, and NOT_FOUND for anyone else, as for one that does not exist', async () => {
    const bug = await createBug(server.current, ada, projectId, { title: 'Node lookup', assigneeId: grace.id });
    const mine = (await inbox(grace, { first: 1 })).notifications.edges[0]!.node;
    expect(mine.message).toBe(`Ada assigned you ${bug.key} "Node lookup"`);
    expect(await server.current.ok(ops.NotificationNode, { id: mine.id }, grace.token)).toEqual({
      node: { id: mine.id, __typename: 'Notification', message: mine.message },
    });
    for (const other of [ada, outsider]) {
      const theirs = await server.current.request(ops.NotificationNode, { id: mine.id }, other.token);
      expect(errorOf(theirs)).toEqual({ code: 'NOT_FOUND' });
      const missing = await server.current.request(
        ops.NotificationNode,
        { id: missingId('Notification') },
        other.token,
      );
      expect(theirs).toEqual(missing);
    }
  });

  it('delivers the same notification, same id, live on each device and in the inbox; reading on one reaches the others', async () => {
    const reader = await signUp(server.current, 'Reader');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: reader.id } }, ada.token);
    const bug = await createBug(server.current, ada, projectId, { title: 'Two devices' });
    await server.current.ok(ops.WatchBug, { input: { bugId: bug.id } }, reader.token);
    const phone = connect(server.current, reader);
    const laptop = connect(server.current, reader);
    const onPhone = await listen(reader, ops.OnInbox, phone);
    const onLaptop = await listen(reader, ops.OnInbox, laptop);
    const readsOnLaptop = await listen(reader, ops.OnNotificationsRead, laptop);

    const first = await comment(ada, bug.id, 'First');
    const second = await comment(grace, bug.id, 'Second');
    const live = [(await onPhone.next()).notifications, (await onPhone.next()).notifications];
    expect([(await onLaptop.next()).notifications, (await onLaptop.next()).notifications]).toEqual(live);
    expect(live.map((notification) => notification.comment?.id)).toEqual([first.id, second.id]);
    expect(live[0]).toMatchObject({
      kind: 'COMMENT_ADDED',
      message: `Ada commented on ${bug.key} "Two devices"`,
      readAt: null,
      bug: { id: bug.id },
      actor: { id: ada.id },
    });
    const { notifications } = await inbox(reader, { first: 2 });
    expect(notifications.edges.map((edge) => edge.node)).toEqual([live[1], live[0]]);

    // Read on the phone (over HTTP, as a phone would); the laptop hears of it.
    const marked = await markRead(reader, { ids: [live[0]!.id] });
    const readAt = marked.data?.markNotificationsRead.notifications[0]?.readAt;
    expect(readAt).toEqual(expect.any(String));
    expect((await readsOnLaptop.next()).notificationsRead).toMatchObject({
      all: false,
      unreadCount: 1,
      notifications: [{ id: live[0]!.id, readAt }],
    });
    await markRead(reader, { all: true });
    expect((await readsOnLaptop.next()).notificationsRead).toMatchObject({
      all: true,
      unreadCount: 0,
      notifications: [],
    });
    // Marking read what is already read changes nothing, and tells nobody.
    await markRead(reader, { all: true });
    await comment(ada, bug.id, 'Third');
    expect((await onLaptop.next()).notifications.comment?.body).toBe('Third');
    expect(readsOnLaptop.pending).toBe(0);
  });

  it('keeps a notification of a project you left, but no longer shows its bug, comment or actor', async () => {
    const leaving = await signUp(server.current, 'Margaret');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: leaving.id } }, ada.token);
    const bug = await createBug(server.current, ada, projectId, {
      title: 'Secret roadmap leak',
      assigneeId: leaving.id,
    });
    await comment(ada, bug.id, 'Top secret details');
    const before = (await inbox(leaving)).notifications.edges.map((edge) => edge.node);
    expect(before.map((node) => node.message)).toEqual([
      `Ada commented on ${bug.key} "Secret roadmap leak"`,
      `Ada assigned you ${bug.key} "Secret roadmap leak"`,
    ]);
    expect(before[0]).toMatchObject({
      bug: { id: bug.id },
      comment: { body: 'Top secret details' },
      actor: { id: ada.id },
    });

    await server.current.ok(ops.RemoveProjectMember, { input: { projectId, userId: leaving.id } }, ada.token);
    const after = await inbox(leaving);
    expect(after.unreadNotificationCount).toBe(2);
    expect(after.notifications.edges.map((edge) => edge.node)).toEqual(
      before.map((node) => ({
        ...node,
        bug: null,
        comment: null,
        actor: null,
        message: expect.any(String) as unknown,
      })),
    );
    const messages = after.notifications.edges.map((edge) => edge.node.message);
    expect(messages).toEqual([
      'A bug you can no longer see got a comment.',
      'A bug you can no longer see was assigned.',
    ]);
    const node = await server.current.ok(ops.NotificationNode, { id: before[0]!.id }, leaving.token);
    expect(node.node).toMatchObject({ message: 'A bug you can no longer see got a comment.' });
    for (const message of [...messages, JSON.stringify(node)]) {
      expect(message).not.toContain(bug.key);
      expect(message).not.toContain('Secret');
    }
  });
});

describe('an inbox of 10,000 notifications', () => {
  // No event poll and no response cache: every statement counted is one the query itself ran.
  const server = useServer({ EVENT_POLL_MS: '600000', RESPONSE_CACHE: 'false' });
  let reader: TestUser;

  /** Runs SQL on the server's own database (PGlite belongs to the server's process). */
  const sql = <Row>(text: string, params?: unknown[]) =>
    server.current.app.db.withSession((session) => session.query<Row>(text, params));

  beforeAll(async () => {
    const ada = await signUp(server.current, 'Ada');
    reader = await signUp(server.current, 'Reader');
    const others = [await signUp(server.current, 'Grace'), await signUp(server.current, 'Linus')];
    const project = await createProject(server.current, ada, [reader, ...others]);
    const bug = await createBug(server.current, ada, project.id, { title: 'Busy bug' });
    // 10,000 comment notifications for the reader, one in a hundred unread, as the outbox writes
    // them (at positions no event has; one a second, the newest now), then as many for each of the
    // others, all newer: an index on the time order alone would have to pass all of theirs first.
    const notify = (recipient: TestUser, positions: number) =>
      sql(
        `INSERT INTO "Notification" ("id", "recipientId", "kind", "actorId", "projectId", "bugId", "position", "data", "readAt", "createdAt")
         SELECT gen_random_uuid(), $1::uuid, 'COMMENT_ADDED'::"NotificationKind", $2::uuid, $3::uuid, $4::uuid,
                $5::int + i, '{}', CASE WHEN i % 100 = 0 THEN NULL ELSE now() END, now() - (10000 - i) * interval '1 second'
         FROM generate_series(1, 10000) AS i`,
        [uuidOf(recipient.id), uuidOf(ada.id), uuidOf(project.id), uuidOf(bug.id), positions],
      );
    await notify(reader, 1_000_000);
    for (const other of others) await notify(other, 2_000_000);
    await sql('VACUUM ANALYZE "Notification"');
  });

  /** Runs `run`, and returns the statements Prisma sent meanwhile with their parameters. */
  async function recordWithParams(run: () => Promise<unknown>): Promise<{ query: string; params: unknown[] }[]> {
    type QueryEvent = { query: string; params: string };
    const prisma = server.current.app.db.prisma as unknown as {
      $on(event: 'query', listener: (event: QueryEvent) => void): void;
    };
    const statements: { query: string; params: unknown[] }[] = [];
    let recording = true;
    prisma.$on('query', (event) => {
      if (recording) statements.push({ query: event.query, params: JSON.parse(event.params) as unknown[] });
    });
    try {
      await run();
    } finally {
      recording = false;
    }
    return statements;
  }

  /** PostgreSQL's plan for a statement, as text. */
  const explain = async ({ query, params }: { query: string; params: unknown[] }) =>
    (await sql<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`, params)).map((row) => row['QUERY PLAN']).join('\n');

  it('loads the first page in as many statements for 100 as for 20, newest first', async () => {
    await server.current.ok(ops.InboxPage, { first: 1 }, reader.token); // the token's user, looked up once
    let large: InboxPageQuery | undefined;
    const forTwenty = await recordSql(server.current, () =>
      server.current.ok(ops.InboxPage, { first: 20 }, reader.token),
    );
    const forHundred = await recordSql(
      server.current,
      async () => (large = await server.current.ok(ops.InboxPage, { first: 100 }, reader.token)),
    );
    expect(large?.notifications.edges).toHaveLength(100);
    const times = large!.notifications.edges.map((edge) => Date.parse(edge.node.occurredAt));
    expect(times.every((time, i) => i === 0 || time < times[i - 1]!)).toBe(true);
    expect(large?.notifications.edges[0]?.node).toMatchObject({
      readAt: null,
      message: expect.stringMatching(/^Ada commented on/) as unknown,
    });
    expect(forHundred).toHaveLength(forTwenty.length);
    expect(forHundred).toHaveLength(1);
  });

  it('counts the unread in one statement', async () => {
    let count: number | undefined;
    const statements = await recordSql(server.current, async () => {
      count = (await server.current.ok(ops.UnreadNotificationCount, {}, reader.token)).unreadNotificationCount;
    });
    expect(count).toBe(100);
    expect(statements).toHaveLength(1);
  });

  it('reads the first page through Notification_recipientId_seq_idx, never scanning the table', async () => {
    const statements = await recordWithParams(() => server.current.ok(ops.InboxPage, { first: 20 }, reader.token));
    const plan = await explain(statements.find((statement) => statement.query.includes('"Notification"'))!);
    expect(plan).toMatch(/Index (Only )?Scan (Backward )?using "?Notification_recipientId_seq_idx"?/);
    expect(plan).not.toMatch(/Seq Scan on "?Notification"?/);
  });

  it('counts the unread through Notification_recipientId_readAt_idx, never scanning the table', async () => {
    const statements = await recordWithParams(() => server.current.ok(ops.UnreadNotificationCount, {}, reader.token));
    const plan = await explain(statements.find((statement) => statement.query.includes('"Notification"'))!);
    expect(plan).toMatch(/Index (Only )?Scan using "?Notification_recipientId_readAt_idx"?/);
    expect(plan).not.toMatch(/Seq Scan on "?Notification"?/);
  });
});
