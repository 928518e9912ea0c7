import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client } from 'graphql-ws';
import pg from 'pg';
import { decodeGlobalId } from '../src/graphql/ids';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { useServer, type TestServer } from './helpers/server';
import { connect, listenFromNow, subscribe } from './helpers/subscriptions';

/**
 * Plain SQL, as psql or another service would send it: on PostgreSQL over a connection of its own,
 * on the embedded database through the server's own connection (the only one it has).
 */
async function runSql(server: TestServer, sql: string, params: unknown[] = []): Promise<void> {
  if (server.databaseUrl === undefined) {
    await server.app.db.withSession((session) => session.query(sql, params));
    return;
  }
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    await client.query(sql, params);
  } finally {
    await client.end();
  }
}

async function eventCount(server: TestServer): Promise<number> {
  return server.app.db.withSession(async (session) => {
    const [row] = await session.query<{ count: number }>('SELECT count(*)::int AS count FROM "Event"');
    return row!.count;
  });
}

const uuid = (globalId: string) => decodeGlobalId(globalId).id;

describe('changes made outside the API', () => {
  const server = useServer({ EVENT_POLL_MS: '100' });
  const clients: Client[] = [];
  let owner: TestUser, member: TestUser;
  let projectId: string;

  beforeAll(async () => {
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    projectId = (await createProject(server.current, owner, [member])).id;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
  });

  const listen = <Data, Variables>(
    user: TestUser,
    document: TypedDocumentNode<Data, Variables>,
    variables: Omit<Variables, 'after'>,
  ) => listenFromNow(server.current, clients, user, document, variables);

  const history = async (bugId: string) =>
    (await server.current.ok(ops.OutsideHistory, { id: bugId }, member.token)).bug.activity.edges.map(
      (edge) => edge.node,
    );

  it("an UPDATE of a bug's title reaches bugChanged once, with no actor, and enters the bug's history", async () => {
    const bug = await createBug(server.current, owner, projectId, { title: 'Typed in the app' });
    const changes = await listen(member, ops.OutsideOnBugChanged, { projectId });

    await runSql(server.current, `UPDATE "Bug" SET "title" = 'Fixed up in psql', "updatedAt" = now() WHERE "id" = $1`, [
      uuid(bug.id),
    ]);
    expect((await changes.next()).bugChanged).toEqual({
      action: 'UPDATED',
      actor: null,
      changes: [{ field: 'title', from: 'Typed in the app', to: 'Fixed up in psql' }],
      bug: { id: bug.id, title: 'Fixed up in psql' },
    });
    // The next thing heard is the API's own write, once: the SQL update was delivered once.
    await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, priority: 'HIGH' } }, owner.token);
    expect((await changes.next()).bugChanged).toMatchObject({
      action: 'UPDATED',
      actor: { id: owner.id },
      changes: [{ field: 'priority', from: 'MEDIUM', to: 'HIGH' }],
    });
    expect(changes.pending).toBe(0);

    expect((await history(bug.id)).slice(-2)).toEqual([
      {
        kind: 'UPDATED',
        actor: null,
        changes: [{ field: 'title', from: 'Typed in the app', to: 'Fixed up in psql' }],
        comment: null,
      },
      {
        kind: 'UPDATED',
        actor: { id: owner.id },
        changes: [{ field: 'priority', from: 'MEDIUM', to: 'HIGH' }],
        comment: null,
      },
    ]);
  });

  it('a status UPDATE is a STATUS_CHANGED, and an update that changes nothing visible is no event', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const changes = await listen(member, ops.OutsideOnBugChanged, { projectId });
    const before = await eventCount(server.current);
    await runSql(server.current, `UPDATE "Bug" SET "updatedAt" = now() WHERE "id" = $1`, [uuid(bug.id)]);
    expect(await eventCount(server.current)).toBe(before);

    await runSql(server.current, `UPDATE "Bug" SET "status" = 'IN_PROGRESS' WHERE "id" = $1`, [uuid(bug.id)]);
    expect((await changes.next()).bugChanged).toMatchObject({
      action: 'STATUS_CHANGED',
      actor: null,
      changes: [{ field: 'status', from: 'OPEN', to: 'IN_PROGRESS' }],
    });
  });

  it('an INSERT of a comment reaches commentAdded and bugChanged once, with no actor, and enters history', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const comments = await listen(member, ops.OnCommentAdded, { bugId: bug.id });
    const changes = await listen(member, ops.OutsideOnBugChanged, { projectId });

    await runSql(
      server.current,
      `INSERT INTO "Comment" ("id", "bugId", "authorId", "body", "updatedAt") VALUES (gen_random_uuid(), $1, $2, 'Imported from the old tracker', now())`,
      [uuid(bug.id), uuid(owner.id)],
    );
    expect((await comments.next()).commentAdded.comment).toMatchObject({
      body: 'Imported from the old tracker',
      author: { id: owner.id },
    });
    expect((await changes.next()).bugChanged).toMatchObject({ action: 'COMMENTED', actor: null, changes: [] });

    await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: 'Through the API' } }, member.token);
    expect((await comments.next()).commentAdded.comment.body).toBe('Through the API');
    expect((await changes.next()).bugChanged).toMatchObject({ action: 'COMMENTED', actor: { id: member.id } });
    expect(comments.pending).toBe(0);
    expect(changes.pending).toBe(0);

    const entries = await history(bug.id);
    expect(entries.filter((entry) => entry.kind === 'COMMENTED')).toEqual([
      { kind: 'COMMENTED', actor: null, changes: [], comment: { body: 'Imported from the old tracker' } },
      { kind: 'COMMENTED', actor: { id: member.id }, changes: [], comment: { body: 'Through the API' } },
    ]);
  });

  it('a comment deleted from the database before its event is read: the subscriber gets an error in its place, then the rest in order', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const { eventCursor: after } = await server.current.ok(ops.EventCursor, {}, member.token);
    const comment = (body: string) =>
      server.current.ok(ops.AddComment, { input: { bugId: bug.id, body } }, owner.token);
    const gone = (await comment('Deleted before anyone read it')).addComment.comment;
    await comment('Still here');
    await runSql(server.current, `DELETE FROM "Comment" WHERE "id" = $1`, [uuid(gone.id)]);

    // Replayed from before both: the first event's result has only an error, sent as graphql-ws
    // sends any result; the second's is shared and sent straight from the stream.
    const client = connect(server.current, member);
    clients.push(client);
    const comments = subscribe(client, ops.OnCommentAdded, { bugId: bug.id, after });
    const [error] = await comments.errors();
    expect(error).toMatchObject({ path: ['commentAdded', 'comment'] });
    expect((await comments.next()).commentAdded.comment.body).toBe('Still here');
    await comment('Live');
    expect((await comments.next()).commentAdded.comment.body).toBe('Live');
    expect(comments.pending).toBe(0);
  });

  it("keeps each of the API's own writes to exactly one event", async () => {
    const writes = [
      () => createBug(server.current, owner, projectId, { title: 'One event' }),
      () => server.current.ok(ops.CreateProject, { input: { key: 'OUTS', name: 'Outside' } }, owner.token),
    ];
    for (const write of writes) {
      const before = await eventCount(server.current);
      await write();
      expect(await eventCount(server.current)).toBe(before + 1);
    }
    const bug = await createBug(server.current, owner, projectId);
    for (const write of [
      () => server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: 'x' } }, owner.token),
      () => server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title: 'Renamed' } }, owner.token),
      () => server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, owner.token),
      () => server.current.ok(ops.AssignBug, { input: { bugId: bug.id, assigneeId: member.id } }, owner.token),
    ]) {
      const before = await eventCount(server.current);
      await write();
      expect(await eventCount(server.current)).toBe(before + 1);
    }
  });
});
