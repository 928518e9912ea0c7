import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client } from 'graphql-ws';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { useServer } from './helpers/server';
import { listenFromNow } from './helpers/subscriptions';

// Absence is proven by order: after the event a subscriber must not get, a sentinel it must get
// is sent, and the sentinel is what arrives first.

describe('subscriptions', () => {
  const server = useServer();
  const clients: Client[] = [];
  let admin: TestUser, owner: TestUser, member: TestUser, outsider: TestUser;
  let projectId: string;

  beforeAll(async () => {
    admin = await signUp(server.current, 'admin'); // the first account: an admin
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    outsider = await signUp(server.current, 'outsider');
    projectId = (await createProject(server.current, owner, [member])).id;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
  });

  const listen = <Data, Variables>(
    user: TestUser,
    document: TypedDocumentNode<Data, Variables>,
    variables?: Omit<Variables, 'after'>,
  ) => listenFromNow(server.current, clients, user, document, variables);

  const assign = (user: TestUser, bugId: string, assigneeId: string | null) =>
    server.current.ok(ops.AssignBug, { input: { bugId, assigneeId } }, user.token);
  const comment = (user: TestUser, bugId: string, body: string) =>
    server.current
      .ok(ops.AddComment, { input: { bugId, body } }, user.token)
      .then((result) => result.addComment.comment);
  const ownProject = (user: TestUser) => createProject(server.current, user).then((project) => project.id);

  it('bugAssigned reaches the new assignee only, at creation and on assignBug', async () => {
    const [toMember, toOwner, toOutsider, toAdmin] = await Promise.all([
      listen(member, ops.OnBugAssigned),
      listen(owner, ops.OnBugAssigned),
      listen(outsider, ops.OnBugAssigned),
      listen(admin, ops.OnBugAssigned),
    ]);
    const filed = await createBug(server.current, owner, projectId, { assigneeId: member.id });
    const later = await createBug(server.current, owner, projectId);
    await assign(owner, later.id, member.id);
    await assign(owner, later.id, member.id); // no change: no event

    const first = await toMember.next();
    expect(first.bugAssigned).toMatchObject({
      bug: { id: filed.id, assignee: { id: member.id } },
      assignedBy: { id: owner.id },
    });
    expect((await toMember.next()).bugAssigned.bug.id).toBe(later.id);

    // Sentinels: each of the others gets a bug of their own, which must be the first thing they see.
    const ownerSentinel = await createBug(server.current, owner, projectId, { assigneeId: owner.id });
    const outsiderSentinel = await createBug(server.current, outsider, await ownProject(outsider), {
      assigneeId: outsider.id,
    });
    const adminSentinel = await createBug(server.current, admin, await ownProject(admin), { assigneeId: admin.id });
    expect((await toOwner.next()).bugAssigned.bug.id).toBe(ownerSentinel.id);
    expect((await toOutsider.next()).bugAssigned.bug.id).toBe(outsiderSentinel.id);
    expect((await toAdmin.next()).bugAssigned.bug.id).toBe(adminSentinel.id);
    expect(toMember.pending).toBe(0);
  });

  it('commentAdded follows one readable bug; an unreadable one is NOT_FOUND', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const other = await createBug(server.current, owner, projectId);
    const denied = await listen(outsider, ops.OnCommentAdded, { bugId: bug.id });
    const missing = await listen(member, ops.OnCommentAdded, {
      bugId: 'QnVnOjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMA==',
    });
    expect((await denied.errors())[0]).toMatchObject({ extensions: { code: 'NOT_FOUND', field: 'bugId' } });
    expect((await missing.errors())[0]?.extensions?.code).toBe('NOT_FOUND');

    const byMember = await listen(member, ops.OnCommentAdded, { bugId: bug.id });
    const byAdmin = await listen(admin, ops.OnCommentAdded, { bugId: bug.id });
    await comment(owner, other.id, 'elsewhere');
    const posted = await comment(owner, bug.id, 'Reproduced on Firefox');
    for (const subscription of [byMember, byAdmin]) {
      expect((await subscription.next()).commentAdded.comment).toEqual({
        id: posted.id,
        body: 'Reproduced on Firefox',
        author: { id: owner.id },
        bug: { id: bug.id },
      });
    }
  });

  it('userStatusChanged is for admins; anyone else is FORBIDDEN', async () => {
    const refused = await listen(member, ops.OnUserStatusChanged);
    expect((await refused.errors())[0]?.extensions?.code).toBe('FORBIDDEN');

    const watching = await listen(admin, ops.OnUserStatusChanged);
    await server.current.ok(ops.UpdateUserStatus, { input: { userId: member.id, status: 'BUSY' } }, member.token);
    await server.current.ok(ops.UpdateUserStatus, { input: { userId: member.id, status: 'BUSY' } }, member.token);
    await server.current.ok(ops.UpdateUserStatus, { input: { userId: member.id, status: 'AWAY' } }, member.token);
    expect((await watching.next()).userStatusChanged).toMatchObject({
      user: { id: member.id },
      previousStatus: 'OFFLINE',
      status: 'BUSY',
    });
    // Setting the same status again changed nothing, so the next event is the move to AWAY.
    expect((await watching.next()).userStatusChanged).toMatchObject({ previousStatus: 'BUSY', status: 'AWAY' });
  });

  it('bugChanged reports every kind of change to members, in order, and nothing to others', async () => {
    const mine = await listen(member, ops.OnBugChanged);
    const oneProject = await listen(admin, ops.OnBugChanged, { projectId });
    const adminsOwn = await listen(admin, ops.OnBugChanged);
    const stranger = await listen(outsider, ops.OnBugChanged);
    const snooping = await listen(outsider, ops.OnBugChanged, { projectId });
    expect((await snooping.errors())[0]?.extensions?.code).toBe('NOT_FOUND');

    const bug = await createBug(server.current, owner, projectId, { title: 'Changes' });
    await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title: 'Changed' } }, owner.token);
    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, owner.token);
    await assign(owner, bug.id, member.id);
    await comment(member, bug.id, 'On it');

    const expected = [
      ['CREATED', owner.id],
      ['UPDATED', owner.id],
      ['STATUS_CHANGED', owner.id],
      ['ASSIGNED', owner.id],
      ['COMMENTED', member.id],
    ];
    for (const subscription of [mine, oneProject]) {
      const seen = [];
      for (let i = 0; i < expected.length; i++) {
        const { bugChanged } = await subscription.next();
        expect(bugChanged.bug).toMatchObject({ id: bug.id, project: { id: projectId } });
        seen.push([bugChanged.action, bugChanged.actor?.id]);
      }
      expect(seen).toEqual(expected);
    }

    // Without projectId an admin hears only of projects they belong to; an outsider of nothing here.
    const adminSentinel = await createBug(server.current, admin, await ownProject(admin));
    const outsiderSentinel = await createBug(server.current, outsider, await ownProject(outsider));
    expect((await adminsOwn.next()).bugChanged).toMatchObject({ action: 'CREATED', bug: { id: adminSentinel.id } });
    expect((await stranger.next()).bugChanged).toMatchObject({ action: 'CREATED', bug: { id: outsiderSentinel.id } });
  });

  it('a member removed mid-subscription hears of the removal, then nothing more from that project', async () => {
    const leaving = await signUp(server.current, 'leaving');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: leaving.id } }, owner.token);
    const bug = await createBug(server.current, owner, projectId, { assigneeId: leaving.id });
    const projects = await listen(leaving, ops.OnProjectChanged);
    const bugs = await listen(leaving, ops.OnBugChanged);
    const watchedBug = await listen(leaving, ops.OnCommentAdded, { bugId: bug.id });
    const notifications = await listen(leaving, ops.OnNotification);
    const staying = await listen(member, ops.OnProjectChanged);
    // A comment they hear of three ways shows all three subscriptions are live before the removal.
    await comment(owner, bug.id, 'Before');
    expect((await watchedBug.next()).commentAdded.comment.body).toBe('Before');
    expect((await bugs.next()).bugChanged.action).toBe('COMMENTED');
    expect((await notifications.next()).notifications.kind).toBe('COMMENT_ADDED');

    await server.current.ok(ops.UpdateProject, { input: { projectId, name: 'Renamed' } }, owner.token);
    expect((await projects.next()).projectChanged).toMatchObject({
      action: 'UPDATED',
      project: { id: projectId, name: 'Renamed' },
      actor: { id: owner.id },
    });
    await server.current.ok(ops.RemoveProjectMember, { input: { projectId, userId: leaving.id } }, owner.token);
    const removal = (await projects.next()).projectChanged;
    expect(removal).toEqual({
      cursor: expect.any(String) as unknown,
      action: 'MEMBER_REMOVED',
      projectId,
      project: null, // no longer theirs to read
      actor: { id: owner.id },
      member: { id: leaving.id },
    });
    // The removal unassigned their bug: an event for the project, which they no longer get.
    await server.current.ok(ops.UpdateProject, { input: { projectId, name: 'After' } }, owner.token);
    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, owner.token);
    await comment(owner, bug.id, 'They left');

    const remaining = [];
    for (let i = 0; i < 3; i++) remaining.push((await staying.next()).projectChanged);
    expect(remaining.map((event) => event.action)).toEqual(['UPDATED', 'MEMBER_REMOVED', 'UPDATED']);
    expect(remaining[1]).toMatchObject({ project: { id: projectId }, member: { id: leaving.id } });

    // Sentinels from a project of their own arrive first: nothing from the old one got through.
    const ownId = await ownProject(leaving);
    const ownBug = await createBug(server.current, leaving, ownId);
    expect((await projects.next()).projectChanged).toMatchObject({ action: 'CREATED', project: { id: ownId } });
    expect((await bugs.next()).bugChanged).toMatchObject({ action: 'CREATED', bug: { id: ownBug.id } });
    expect(watchedBug.pending).toBe(0);
    expect(notifications.pending).toBe(0);
  });

  it('notifications: the assignee of an assignment, and every watcher (reporter, assignee, commenters) of a change, never the actor', async () => {
    const reporter = await listen(owner, ops.OnNotification);
    const assignee = await listen(member, ops.OnNotification);
    const outsiders = await listen(outsider, ops.OnNotification);
    const bug = await createBug(server.current, owner, projectId, { title: 'Crash on save', assigneeId: member.id });
    const assigned = (await assignee.next()).notifications;
    expect(assigned).toMatchObject({ kind: 'BUG_ASSIGNED', bug: { id: bug.id }, comment: null });
    expect(assigned.message).toMatch(/^owner assigned you [A-Z]+-\d+ "Crash on save"$/);

    await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'IN_PROGRESS' } }, member.token);
    const moved = (await reporter.next()).notifications;
    expect(moved).toMatchObject({ kind: 'STATUS_CHANGED', bug: { id: bug.id } });
    expect(moved.message).toMatch(/^member moved [A-Z]+-\d+ "Crash on save" from OPEN to IN_PROGRESS$/);

    const byAssignee = await comment(member, bug.id, 'Fixed locally');
    expect((await reporter.next()).notifications).toMatchObject({
      kind: 'COMMENT_ADDED',
      comment: { id: byAssignee.id, body: 'Fixed locally' },
    });
    const third = await signUp(server.current, 'third');
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: third.id } }, owner.token);
    const byThird = await comment(third, bug.id, 'Me too');
    for (const subscription of [reporter, assignee]) {
      const { notifications } = await subscription.next();
      expect(notifications).toMatchObject({ kind: 'COMMENT_ADDED', comment: { id: byThird.id } });
      expect(notifications.message).toMatch(/^third commented on [A-Z]+-\d+ "Crash on save"$/);
    }
    // The outsider has heard nothing of all that: the first notification they get is the one meant for them.
    await server.current.ok(ops.AddProjectMember, { input: { projectId, userId: outsider.id } }, owner.token);
    await assign(owner, bug.id, outsider.id);
    expect((await outsiders.next()).notifications).toMatchObject({ kind: 'BUG_ASSIGNED', bug: { id: bug.id } });
    // The previous assignee still watches the bug, so hears who has it now; the owner made the change.
    const reassigned = (await assignee.next()).notifications;
    expect(reassigned.message).toMatch(/^owner assigned [A-Z]+-\d+ "Crash on save" to outsider$/);
    expect(reporter.pending).toBe(0);
    expect(assignee.pending).toBe(0);
  });
});
