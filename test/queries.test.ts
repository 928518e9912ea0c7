import type {
  BugQuery,
  BugsWithEverythingQuery,
  BugsWithWatchersAndHistoryQuery,
  NotificationsWithEverythingQuery,
  ProjectsWithEverythingQuery,
} from './gql/graphql';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { recordSql, useServer, type TestServer } from './helpers/server';

/**
 * The statements `run` makes the database run, without the event feed's reads of the event log:
 * the feed reads it on its own (with Redis, whenever a message reaches it out of turn), whatever
 * the request does.
 */
async function requestSql(server: TestServer, run: () => Promise<unknown>): Promise<string[]> {
  return (await recordSql(server, run)).filter((sql) => !/FROM "public"."Event"/.test(sql));
}

describe('loading a page of bugs with everything around them', () => {
  // No event poll: its read of the event table would land among the statements this suite counts.
  // The cold path: no response cache, so every query reaches the database.
  const server = useServer({ EVENT_POLL_MS: '600000', RESPONSE_CACHE: 'false' });
  let alice: TestUser;

  beforeAll(async () => {
    alice = await signUp(server.current, 'alice');
    const bob = await signUp(server.current, 'bob');
    const carol = await signUp(server.current, 'carol');
    const projects = [
      await createProject(server.current, alice, [bob]),
      await createProject(server.current, bob, [alice, carol]),
      await createProject(server.current, carol, [alice, bob]),
    ];
    for (let i = 0; i < 24; i += 1) {
      const project = projects[i % 3]!;
      const bug = await createBug(server.current, i % 3 ? alice : bob, project.id, {
        assigneeId: i % 4 ? bob.id : undefined,
      });
      for (let c = 0; c < i % 7; c += 1) {
        await server.current.ok(
          ops.AddComment,
          { input: { bugId: bug.id, body: `comment ${c}` } },
          c % 2 ? alice.token : bob.token,
        );
      }
    }
  });

  it('runs the same small number of SQL statements for 2 bugs as for 20 (no N+1)', async () => {
    let small: BugsWithEverythingQuery | undefined;
    let large: BugsWithEverythingQuery | undefined;
    const forTwo = await requestSql(server.current, async () => {
      small = await server.current.ok(ops.BugsWithEverything, { first: 2 }, alice.token);
    });
    const forTwenty = await requestSql(server.current, async () => {
      large = await server.current.ok(ops.BugsWithEverything, { first: 20 }, alice.token);
    });

    expect(small?.bugs.edges).toHaveLength(2);
    expect(large?.bugs.edges).toHaveLength(20);
    const withComments = large!.bugs.edges.filter((edge) => edge.node.comments.edges.length > 0);
    expect(withComments.length).toBeGreaterThan(5);
    expect(withComments.every((edge) => edge.node.comments.edges.every((comment) => comment.node.author.name))).toBe(
      true,
    );
    expect(Math.max(...large!.bugs.edges.map((edge) => edge.node.comments.edges.length))).toBe(5);

    expect(forTwo).toHaveLength(forTwenty.length);
    // One statement for the bugs with everything around them (the viewer is known from earlier
    // requests: it is looked up once per token).
    expect(forTwenty).toHaveLength(1);
    // Each bug's first five comments are cut in SQL, not by fetching them all and slicing in memory.
    expect(forTwenty[0]).toMatch(/FROM "public"."Comment".*LIMIT/s);
  });

  it("leaves a bug's description in the database unless asked for it, and every password hash always", async () => {
    // A description is a bug's largest column, and a page of bugs does not show it.
    const page = await requestSql(server.current, () =>
      server.current.ok(ops.BugsWithEverything, { first: 20 }, alice.token),
    );
    const { bugs } = await server.current.ok(ops.Bugs, { first: 1 }, alice.token);
    let bug: BugQuery | undefined;
    const one = await requestSql(server.current, async () => {
      bug = await server.current.ok(ops.Bug, { id: bugs.edges[0]!.node.id }, alice.token);
    });

    expect(page.filter((sql) => sql.includes('"description"'))).toEqual([]);
    expect(one.some((sql) => sql.includes('"description"'))).toBe(true);
    expect(bug?.bug.description).toEqual(expect.any(String));
    expect([...page, ...one].filter((sql) => sql.includes('passwordHash'))).toEqual([]);
  });

  it('plans the page of bugs as a server in production would: prepared on PostgreSQL, with statistics on PGlite', async () => {
    const statements = await recordSql(server.current, () =>
      server.current.ok(ops.BugsWithEverything, { first: 20 }, alice.token),
    );
    const page = statements.find((sql) => sql.includes('FROM "public"."Bug"'));
    expect(page).toBeDefined();
    const app = server.current.app;
    if (app.db.kind === 'postgresql') {
      // pg lends the connection used last, so the session below is the one that ran the page.
      const prepared = await app.db.withSession((session) =>
        session.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements WHERE NOT from_sql'),
      );
      expect(prepared.map((row) => row.statement)).toContain(page);
    } else {
      // PGlite has no autovacuum: the app's hourly upkeep, run here now, gathers the planner's statistics.
      await app.db.upkeep();
      const [bugs] = await app.db.withSession((session) =>
        session.query<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE relname = 'Bug'`),
      );
      expect(bugs?.reltuples).toBe(24);
    }
  });

  it('runs as many statements for one project as for three, with every list field inside (no N+1)', async () => {
    let one: ProjectsWithEverythingQuery | undefined;
    let three: ProjectsWithEverythingQuery | undefined;
    const forOne = await requestSql(server.current, async () => {
      one = await server.current.ok(ops.ProjectsWithEverything, { first: 1 }, alice.token);
    });
    const forThree = await requestSql(server.current, async () => {
      three = await server.current.ok(ops.ProjectsWithEverything, { first: 3 }, alice.token);
    });

    expect(one?.projects.edges).toHaveLength(1);
    expect(three?.projects.edges).toHaveLength(3);
    const projects = three!.projects.edges.map((edge) => edge.node);
    expect(projects.every((project) => project.members.length >= 2 && project.bugs.edges.length === 5)).toBe(true);
    const comments = projects.flatMap((project) => project.bugs.edges.flatMap((edge) => edge.node.comments.edges));
    expect(comments.length).toBeGreaterThan(5);
    expect(comments.every((comment) => comment.node.author.name)).toBe(true);
    expect(three?.users.edges.length).toBe(3);

    expect(forOne).toHaveLength(forThree.length);
    // One statement for the projects and everything inside them, one for the users.
    expect(forThree).toHaveLength(2);
  });
  it('runs as many statements for 20 bugs as for 2 with their watchers and history inside (no N+1)', async () => {
    let small: BugsWithWatchersAndHistoryQuery | undefined;
    let large: BugsWithWatchersAndHistoryQuery | undefined;
    const forTwo = await requestSql(server.current, async () => {
      small = await server.current.ok(ops.BugsWithWatchersAndHistory, { first: 2 }, alice.token);
    });
    const forTwenty = await requestSql(server.current, async () => {
      large = await server.current.ok(ops.BugsWithWatchersAndHistory, { first: 20 }, alice.token);
    });

    expect(small?.bugs.edges).toHaveLength(2);
    const bugs = large!.bugs.edges.map((edge) => edge.node);
    expect(bugs).toHaveLength(20);
    expect(bugs.every((bug) => bug.watchers.edges.length > 0 && bug.activity.edges[0]?.node.kind === 'CREATED')).toBe(
      true,
    );
    expect(bugs.some((bug) => bug.viewerIsWatching) && bugs.some((bug) => !bug.viewerIsWatching)).toBe(true);
    const activity = bugs.flatMap((bug) => bug.activity.edges.map((edge) => edge.node));
    expect(activity.every((entry) => entry.actor?.name)).toBe(true);
    expect(activity.some((entry) => entry.comment?.body)).toBe(true);

    expect(forTwo).toHaveLength(forTwenty.length);
    // One statement: the bugs with their watchers and history, each cut to five in the database.
    expect(forTwenty).toHaveLength(1);
    expect(forTwenty[0]).toMatch(/FROM "public"."BugActivity".*LIMIT/s);
  });

  it('runs as many statements for 20 notifications as for 2, with their bug, comment and actor (no N+1)', async () => {
    let small: NotificationsWithEverythingQuery | undefined;
    let large: NotificationsWithEverythingQuery | undefined;
    const forTwo = await requestSql(server.current, async () => {
      small = await server.current.ok(ops.NotificationsWithEverything, { first: 2 }, alice.token);
    });
    const forTwenty = await requestSql(server.current, async () => {
      large = await server.current.ok(ops.NotificationsWithEverything, { first: 20 }, alice.token);
    });

    expect(small?.notifications.edges).toHaveLength(2);
    const notifications = large!.notifications.edges.map((edge) => edge.node);
    expect(notifications).toHaveLength(20);
    expect(notifications.every((notification) => notification.actor?.name && notification.bug?.key)).toBe(true);
    expect(notifications.filter((notification) => notification.comment?.author.name).length).toBeGreaterThan(5);

    expect(forTwo).toHaveLength(forTwenty.length);
    // One statement for the page with everything around each notification.
    expect(forTwenty).toHaveLength(1);
  });
});
