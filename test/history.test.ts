import type { Client } from 'graphql-ws';
import { decodeGlobalId } from '../src/graphql/ids';
import * as ops from './operations';
import type { BugActivityQuery } from './gql/graphql';
import { createBug, createProject, errorOf, signUp, type TestUser } from './helpers/fixtures';
import { recordSql, useServer, type TestServer } from './helpers/server';
import { listenFromNow } from './helpers/subscriptions';

type Entry = NonNullable<BugActivityQuery['bug']>['activity']['edges'][number]['node'];

/** The uuid inside a global ID, for the rows written with SQL. */
const uuidOf = (globalId: string) => decodeGlobalId(globalId).id;

/** Every entry of a bug's history, read page after page of `pageSize`. */
async function wholeHistory(server: TestServer, user: TestUser, bugId: string, pageSize = 100): Promise<Entry[]> {
  const entries: Entry[] = [];
  let after: string | null | undefined;
  do {
    const { bug } = await server.ok(ops.BugActivity, { id: bugId, first: pageSize, after }, user.token);
    entries.push(...bug.activity.edges.map((edge) => edge.node));
    after = bug.activity.pageInfo.hasNextPage ? bug.activity.pageInfo.endCursor : undefined;
  } while (after !== undefined);
  return entries;
}

/** An entry as a short line: who did what, and each change as `field: from -> to`. */
const line = (entry: Entry) =>
  [
    `${entry.actor?.name ?? 'nobody'} ${entry.kind}`,
    ...entry.changes.map((change) => `${change.field}: ${change.from ?? 'null'} -> ${change.to ?? 'null'}`),
    ...(entry.comment === null ? [] : [`comment: ${entry.comment.body}`]),
  ].join(', ');

describe("a bug's history", () => {
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

  const update = (user: TestUser, bugId: string, fields: { title?: string; description?: string; priority?: 'LOW' }) =>
    server.current.ok(ops.UpdateBug, { input: { bugId, ...fields } }, user.token);
  const move = (user: TestUser, bugId: string, status: 'IN_PROGRESS' | 'RESOLVED') =>
    server.current.ok(ops.UpdateBugStatus, { input: { bugId, status } }, user.token);
  const assign = (user: TestUser, bugId: string, assigneeId: string | null) =>
    server.current.ok(ops.AssignBug, { input: { bugId, assigneeId } }, user.token);

  it('records every kind of change, each field with its old and new value, oldest first', async () => {
    const bug = await createBug(server.current, ada, projectId, {
      title: 'Login fails',
      description: 'On Safari',
      priority: 'HIGH',
      assigneeId: grace.id,
    });
    await server.current.ok(
      ops.UpdateBug,
      { input: { bugId: bug.id, title: 'Login fails on Safari', description: 'Since 17.2', priority: 'CRITICAL' } },
      ada.token,
    );
    await update(ada, bug.id, { title: 'Login fails on Safari' }); // changes nothing: no entry
    await update(grace, bug.id, { priority: 'LOW' });
    await move(grace, bug.id, 'IN_PROGRESS');
    await assign(ada, bug.id, linus.id);
    const { addComment } = await server.current.ok(
      ops.AddComment,
      { input: { bugId: bug.id, body: 'Reproduced' } },
      linus.token,
    );
    await assign(ada, bug.id, null);
    await server.current.ok(ops.WatchBug, { input: { bugId: bug.id } }, ken.token);

    const history = await wholeHistory(server.current, ken, bug.id);
    expect(history.map(line)).toEqual([
      'Ada CREATED, title: null -> Login fails, description: null -> On Safari, status: null -> OPEN, priority: null -> HIGH, assignee: null -> Grace',
      'Ada WATCHED',
      'Grace WATCHED',
      'Ada UPDATED, title: Login fails -> Login fails on Safari, description: On Safari -> Since 17.2, priority: HIGH -> CRITICAL',
      'Grace UPDATED, priority: CRITICAL -> LOW',
      'Grace STATUS_CHANGED, status: OPEN -> IN_PROGRESS',
      'Ada ASSIGNED, assignee: Grace -> Linus',
      'Linus WATCHED',
      'Linus COMMENTED, comment: Reproduced',
      'Ada ASSIGNED, assignee: Linus -> null',
      'Ken WATCHED',
    ]);
    expect(history[8]?.comment?.id).toBe(addComment.comment.id);
    expect(history[9]?.changes).toEqual([{ field: 'assignee', from: 'Linus', to: null }]);
    expect(history.map((entry) => entry.actor?.id).slice(0, 3)).toEqual([ada.id, ada.id, grace.id]);
    const times = history.map((entry) => Date.parse(entry.occurredAt));
    expect(times.every((time, i) => Number.isFinite(time) && (i === 0 || time >= times[i - 1]!))).toBe(true);
  });

  it('starts a bug filed with a title alone from its title, status and priority', async () => {
    const bug = await createBug(server.current, grace, projectId, { title: 'Typo on the landing page' });
    expect((await wholeHistory(server.current, grace, bug.id)).map(line)).toEqual([
      'Grace CREATED, title: null -> Typo on the landing page, status: null -> OPEN, priority: null -> MEDIUM',
      'Grace WATCHED',
    ]);
  });

  it('pages oldest first with first and after, the pages adding up to the whole history', async () => {
    const bug = await createBug(server.current, ada, projectId, { title: 'Paged', assigneeId: grace.id });
    for (const body of ['one', 'two', 'three', 'four']) {
      await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body } }, grace.token);
    }
    const whole = await wholeHistory(server.current, ada, bug.id);
    expect(whole.map(line)).toEqual([
      'Ada CREATED, title: null -> Paged, status: null -> OPEN, priority: null -> MEDIUM, assignee: null -> Grace',
      'Ada WATCHED',
      'Grace WATCHED',
      'Grace COMMENTED, comment: one',
      'Grace COMMENTED, comment: two',
      'Grace COMMENTED, comment: three',
      'Grace COMMENTED, comment: four',
    ]);

    const first = await server.current.ok(ops.BugActivity, { id: bug.id, first: 3 }, ada.token);
    expect(first.bug.activity.edges.map((edge) => edge.node.kind)).toEqual(['CREATED', 'WATCHED', 'WATCHED']);
    expect(first.bug.activity.pageInfo.hasNextPage).toBe(true);
    const second = await server.current.ok(
      ops.BugActivity,
      { id: bug.id, first: 3, after: first.bug.activity.pageInfo.endCursor },
      ada.token,
    );
    expect(second.bug.activity.edges.map((edge) => edge.node.comment?.body)).toEqual(['one', 'two', 'three']);
    expect(await wholeHistory(server.current, ada, bug.id, 2)).toEqual(whole);
  });

  it('sends the same changes with each bugChanged event', async () => {
    const bug = await createBug(server.current, ada, projectId, { title: 'Crash on save' });
    const events = await listenFromNow(server.current, clients, grace, ops.OnBugChanges, { projectId });

    await update(ada, bug.id, { title: 'Crash on save as PDF', description: 'Only for large files' });
    await move(ada, bug.id, 'IN_PROGRESS');
    await assign(ada, bug.id, grace.id);
    await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: 'Mine' } }, grace.token);

    expect((await events.next()).bugChanged).toEqual({
      action: 'UPDATED',
      bug: { id: bug.id },
      changes: [
        { field: 'title', from: 'Crash on save', to: 'Crash on save as PDF' },
        { field: 'description', from: '', to: 'Only for large files' },
      ],
    });
    expect((await events.next()).bugChanged).toEqual({
      action: 'STATUS_CHANGED',
      bug: { id: bug.id },
      changes: [{ field: 'status', from: 'OPEN', to: 'IN_PROGRESS' }],
    });
    expect((await events.next()).bugChanged).toMatchObject({
      action: 'ASSIGNED',
      changes: [{ field: 'assignee', from: null, to: 'Grace' }],
    });
    expect((await events.next()).bugChanged).toMatchObject({ action: 'COMMENTED', changes: [] });

    const history = await wholeHistory(server.current, ada, bug.id);
    expect(history.filter((entry) => entry.kind === 'UPDATED')[0]?.changes).toEqual([
      { field: 'title', from: 'Crash on save', to: 'Crash on save as PDF' },
      { field: 'description', from: '', to: 'Only for large files' },
    ]);
  });

  it('shows neither the history nor the watchers of a bug to someone who may not read it: the bug is NOT_FOUND', async () => {
    const bug = await createBug(server.current, ada, projectId, { assigneeId: grace.id });
    const answers = [
      await server.current.request(ops.BugActivity, { id: bug.id }, outsider.token),
      await server.current.request(ops.BugWatchers, { id: bug.id }, outsider.token),
    ];
    for (const denied of answers) {
      expect(errorOf(denied)).toEqual({ code: 'NOT_FOUND', field: 'id' });
      expect(denied.data).toBeNull();
    }
    const anonymous = await server.current.request(ops.BugActivity, { id: bug.id });
    expect(errorOf(anonymous)?.code).toBe('UNAUTHENTICATED');
  });
});

describe('a history of 1,000 entries', () => {
  // No event poll and no response cache: every statement counted is one the query itself ran.
  const server = useServer({ EVENT_POLL_MS: '600000', RESPONSE_CACHE: 'false' });
  let ada: TestUser;
  let bugId: string;

  beforeAll(async () => {
    ada = await signUp(server.current, 'Ada');
    const grace = await signUp(server.current, 'Grace');
    const project = await createProject(server.current, ada, [grace]);
    bugId = (await createBug(server.current, ada, project.id, { title: 'Title 0' })).id;
    // The bug's own two entries (CREATED, WATCHED), then 998 title edits by Ada and Grace in turn.
    await server.current.app.db.withSession((session) =>
      session.query(
        `INSERT INTO "BugActivity" ("id", "bugId", "kind", "actorId", "changes", "createdAt")
         SELECT gen_random_uuid(), $1::uuid, 'UPDATED'::"ActivityKind", (ARRAY[$2::uuid, $3::uuid])[1 + i % 2],
                jsonb_build_array(jsonb_build_object('field', 'title', 'from', 'Title ' || (i - 1), 'to', 'Title ' || i)),
                now() + i * interval '1 millisecond'
         FROM generate_series(1, 998) AS i`,
        [uuidOf(bugId), uuidOf(ada.id), uuidOf(grace.id)],
      ),
    );
  });

  it('pages through all 1,000 oldest first', async () => {
    const history = await wholeHistory(server.current, ada, bugId);
    expect(history).toHaveLength(1000);
    expect(history.slice(0, 3).map((entry) => entry.kind)).toEqual(['CREATED', 'WATCHED', 'UPDATED']);
    expect(history.slice(2).map((entry) => entry.changes[0]?.to)).toEqual(
      Array.from({ length: 998 }, (_, i) => `Title ${i + 1}`),
    );
    expect(history.slice(2, 4).map((entry) => entry.actor?.name)).toEqual(['Grace', 'Ada']);
  });

  it('loads a page of 100 entries with their actors in as many statements as a page of 10', async () => {
    const page = (first: number, after?: string) =>
      server.current.ok(ops.BugActivity, { id: bugId, first, after }, ada.token);
    const { bug: start } = await page(10);
    const after = start.activity.pageInfo.endCursor!;

    let large: BugActivityQuery | undefined;
    const forTen = await recordSql(server.current, () => page(10, after));
    const forHundred = await recordSql(server.current, async () => (large = await page(100, after)));
    expect(large?.bug.activity.edges).toHaveLength(100);
    expect(large?.bug.activity.edges.every((edge) => edge.node.actor?.name)).toBe(true);
    expect(forHundred).toHaveLength(forTen.length);
    // The bug and its page of history with each entry's actor and comment: one statement.
    expect(forHundred).toHaveLength(1);
    // The page is cut in SQL, from the cursor on, not by loading the history and slicing it.
    expect(forHundred[0]).toMatch(/FROM "public"."BugActivity".*LIMIT/s);
  });
});
