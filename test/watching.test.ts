import * as ops from './operations';
import { createBug, createProject, errorOf, missingId, signUp, type TestUser } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('watching bugs', () => {
  const server = useServer();
  let owner: TestUser, assignee: TestUser, commenter: TestUser, bystander: TestUser, outsider: TestUser;
  let projectId: string;

  beforeAll(async () => {
    await signUp(server.current, 'admin'); // the first account is an admin; nobody below is
    owner = await signUp(server.current, 'Ada');
    assignee = await signUp(server.current, 'Grace');
    commenter = await signUp(server.current, 'Linus');
    bystander = await signUp(server.current, 'Ken');
    outsider = await signUp(server.current, 'Eve');
    projectId = (await createProject(server.current, owner, [assignee, commenter, bystander])).id;
  });

  /** The bug's watchers' names in order, as `user` sees them, and whether `user` watches it. */
  async function watchersOf(bugId: string, user: TestUser) {
    const { bug } = await server.current.ok(ops.BugWatchers, { id: bugId }, user.token);
    return { names: bug.watchers.edges.map((edge) => edge.node.name), viewerIsWatching: bug.viewerIsWatching };
  }
  const comment = (user: TestUser, bugId: string, body = 'Seen it too') =>
    server.current.ok(ops.AddComment, { input: { bugId, body } }, user.token);
  const assign = (user: TestUser, bugId: string, assigneeId: string | null) =>
    server.current.ok(ops.AssignBug, { input: { bugId, assigneeId } }, user.token);
  const watch = (user: TestUser, bugId: string) => server.current.ok(ops.WatchBug, { input: { bugId } }, user.token);
  const unwatch = (user: TestUser, bugId: string) =>
    server.current.ok(ops.UnwatchBug, { input: { bugId } }, user.token);
  const newestNotification = async (user: TestUser) => {
    const { notifications } = await server.current.ok(ops.Notifications, { first: 1 }, user.token);
    return notifications.edges[0]?.node;
  };

  it('starts the reporter, the assignee and every commenter watching, in the order they came', async () => {
    const bug = await createBug(server.current, owner, projectId, { assigneeId: assignee.id });
    await comment(commenter, bug.id);
    await comment(owner, bug.id); // already watching: listed once

    expect(await watchersOf(bug.id, bystander)).toEqual({ names: ['Ada', 'Grace', 'Linus'], viewerIsWatching: false });
    for (const user of [owner, assignee, commenter]) {
      expect((await watchersOf(bug.id, user)).viewerIsWatching).toBe(true);
    }
    // The reporter and the assignee start at once; the reporter still comes first, whoever that is.
    const other = await createBug(server.current, assignee, projectId, { assigneeId: owner.id });
    expect((await watchersOf(other.id, bystander)).names).toEqual(['Grace', 'Ada']);
  });

  it('pages the watchers with first and after', async () => {
    const bug = await createBug(server.current, owner, projectId, { assigneeId: assignee.id });
    await comment(commenter, bug.id);
    await watch(bystander, bug.id);

    const first = await server.current.ok(ops.BugWatchers, { id: bug.id, first: 3 }, owner.token);
    expect(first.bug.watchers.edges.map((edge) => edge.node.name)).toEqual(['Ada', 'Grace', 'Linus']);
    expect(first.bug.watchers.pageInfo.hasNextPage).toBe(true);
    const rest = await server.current.ok(
      ops.BugWatchers,
      { id: bug.id, first: 3, after: first.bug.watchers.pageInfo.endCursor },
      owner.token,
    );
    expect(rest.bug.watchers.edges.map((edge) => edge.node.name)).toEqual(['Ken']);
    expect(rest.bug.watchers.pageInfo.hasNextPage).toBe(false);

    // The limits of every list: at most 100 a page, and only a cursor this list gave out.
    const tooMany = await server.current.request(ops.BugWatchers, { id: bug.id, first: 101 }, owner.token);
    expect(errorOf(tooMany)).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    const { bug: history } = await server.current.ok(ops.BugActivity, { id: bug.id, first: 1 }, owner.token);
    for (const after of [history.activity.pageInfo.endCursor, 'garbage']) {
      const foreign = await server.current.request(ops.BugWatchers, { id: bug.id, after }, owner.token);
      expect(errorOf(foreign)).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it('lets anyone who may read the bug watch and unwatch it, answering with the bug', async () => {
    const bug = await createBug(server.current, owner, projectId);
    expect((await watch(bystander, bug.id)).watchBug.bug).toEqual({ id: bug.id, viewerIsWatching: true });
    expect((await watch(bystander, bug.id)).watchBug.bug.viewerIsWatching).toBe(true); // twice: no change
    expect(await watchersOf(bug.id, owner)).toEqual({ names: ['Ada', 'Ken'], viewerIsWatching: true });

    expect((await unwatch(bystander, bug.id)).unwatchBug.bug).toEqual({ id: bug.id, viewerIsWatching: false });
    expect((await unwatch(owner, bug.id)).unwatchBug.bug.viewerIsWatching).toBe(false);
    expect(await watchersOf(bug.id, owner)).toEqual({ names: [], viewerIsWatching: false });
  });

  it('keeps an explicit unwatch: commenting again does not undo it, nor does being assigned, though the assignee is told', async () => {
    const bug = await createBug(server.current, owner, projectId, { title: 'Flaky upload' });
    await comment(commenter, bug.id);
    await unwatch(commenter, bug.id);
    await comment(commenter, bug.id, 'Still flaky');
    expect(await watchersOf(bug.id, commenter)).toEqual({ names: ['Ada'], viewerIsWatching: false });

    await assign(owner, bug.id, commenter.id);
    expect((await watchersOf(bug.id, commenter)).viewerIsWatching).toBe(false);
    expect(await newestNotification(commenter)).toMatchObject({
      kind: 'BUG_ASSIGNED',
      message: `Ada assigned you ${bug.key} "Flaky upload"`,
      bug: { id: bug.id },
    });

    // Watching again by hand is the way back; the watcher joins at the end of the list.
    await watch(commenter, bug.id);
    expect(await watchersOf(bug.id, owner)).toEqual({ names: ['Ada', 'Linus'], viewerIsWatching: true });
    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, owner.token);
    expect(await newestNotification(commenter)).toMatchObject({
      kind: 'STATUS_CHANGED',
      message: `Ada moved ${bug.key} "Flaky upload" from OPEN to IN_PROGRESS`,
    });
  });

  it('lists a watcher who unwatched and came back after those who stayed', async () => {
    const bug = await createBug(server.current, owner, projectId, { assigneeId: assignee.id });
    await unwatch(owner, bug.id);
    await comment(commenter, bug.id);
    await watch(owner, bug.id);
    expect((await watchersOf(bug.id, owner)).names).toEqual(['Grace', 'Linus', 'Ada']);
  });

  it('refuses to watch a bug you may not read: NOT_FOUND, as for a bug that does not exist', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const answers = [
      await server.current.request(ops.WatchBug, { input: { bugId: bug.id } }, outsider.token),
      await server.current.request(ops.UnwatchBug, { input: { bugId: bug.id } }, outsider.token),
      await server.current.request(ops.WatchBug, { input: { bugId: missingId('Bug') } }, owner.token),
      await server.current.request(ops.UnwatchBug, { input: { bugId: missingId('Bug') } }, owner.token),
    ];
    for (const refused of answers) expect(errorOf(refused)).toEqual({ code: 'NOT_FOUND', field: 'bugId' });
    expect(await watchersOf(bug.id, owner)).toEqual({ names: ['Ada'], viewerIsWatching: true });
  });

  it('ends the watch of a member removed from the project; rejoining, they hear nothing until they watch or comment', async () => {
    const leaving = await signUp(server.current, 'Margaret');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: leaving.id } }, owner.token);
    const bug = await createBug(server.current, owner, projectId, { title: 'Slow search' });
    const unwatched = await createBug(server.current, owner, projectId, { title: 'Unwatched before leaving' });
    await comment(leaving, bug.id);
    await unwatch(leaving, unwatched.id);
    expect((await watchersOf(bug.id, owner)).names).toEqual(['Ada', 'Margaret']);

    await server.current.ok(ops.RemoveProjectMember, { input: { projectId, userId: leaving.id } }, owner.token);
    expect((await watchersOf(bug.id, owner)).names).toEqual(['Ada']);
    const { notifications: before } = await server.current.ok(ops.Notifications, {}, leaving.token);

    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: leaving.id } }, owner.token);
    expect(await watchersOf(bug.id, leaving)).toEqual({ names: ['Ada'], viewerIsWatching: false });
    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, owner.token);
    await comment(owner, bug.id, 'Anyone?');
    const { notifications: after } = await server.current.ok(ops.Notifications, {}, leaving.token);
    expect(after.totalCount).toBe(before.totalCount);

    // Commenting starts the watch again; so does watching by hand. Leaving forgot the old unwatch.
    await comment(leaving, bug.id, 'Back again');
    await comment(leaving, unwatched.id, 'Back here too');
    expect((await watchersOf(unwatched.id, leaving)).viewerIsWatching).toBe(true);
    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'RESOLVED' } }, owner.token);
    expect(await newestNotification(leaving)).toMatchObject({
      kind: 'STATUS_CHANGED',
      message: `Ada moved ${bug.key} "Slow search" from IN_PROGRESS to RESOLVED`,
    });
  });
});
