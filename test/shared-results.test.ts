import type { Client } from 'graphql-ws';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { recordSql, useServer } from './helpers/server';
import { connect, Subscription } from './helpers/subscriptions';

// Every subscriber of one document shares one result per event where nothing it selects depends
// on the viewer. These tests prove that such sharing never hands one viewer's result to another,
// and that the database work of an event does not grow with its subscribers.

const PROJECT_CHANGES = `subscription($after: String) {
  projectChanged(after: $after) { action projectId project { name } member { id } }
}`;
const BUG_CHANGES = `subscription { bugChanged { action bug { title project { key } } } }`;

interface ProjectChange {
  projectChanged: {
    action: string;
    projectId: string;
    project: { name: string } | null;
    member: { id: string } | null;
  };
}
interface BugChange {
  bugChanged: { action: string; bug: { title: string; project: { key: string } } };
}

describe('one result per event for everyone it is the same for', () => {
  const server = useServer({ EVENT_POLL_MS: '600000' });
  const clients: Client[] = [];
  const client = (user: TestUser) => {
    const opened = connect(server.current, user);
    clients.push(opened);
    return opened;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map(async (opened) => await opened.dispose()));
  });

  async function cursor(user: TestUser) {
    return (await server.current.ok(ops.EventCursor, {}, user.token)).eventCursor;
  }

  it('gives a removed member their own result (project: null), live and replayed, and the owner theirs', async () => {
    const owner = await signUp(server.current, 'owner');
    const member = await signUp(server.current, 'member');
    const project = await createProject(server.current, owner, [member]);
    const before = await cursor(owner);
    // The same document and variables for both: only the viewer differs.
    const subscribeAs = (user: TestUser) =>
      new Subscription<ProjectChange>(client(user), PROJECT_CHANGES, { after: before });
    const owners = subscribeAs(owner);
    const members = subscribeAs(member);

    await server.current.ok(
      ops.RemoveProjectMember,
      { input: { projectId: project.id, userId: member.id } },
      owner.token,
    );
    const expectOwn = async (mine: Subscription<ProjectChange>, theirs: Subscription<ProjectChange>) => {
      const forOwner = (await mine.next()).projectChanged;
      const forMember = (await theirs.next()).projectChanged;
      expect(forOwner).toEqual({
        action: 'MEMBER_REMOVED',
        projectId: project.id,
        project: { name: 'Project' },
        member: { id: member.id },
      });
      expect(forMember).toEqual({ ...forOwner, project: null });
    };
    await expectOwn(owners, members);

    // Replayed from the cursor, each again gets their own.
    await expectOwn(subscribeAs(owner), subscribeAs(member));
  });

  it('never delivers an event to a subscriber of the same document who may not see it', async () => {
    const admin = await signUp(server.current, 'admin-first');
    const alice = await signUp(server.current, 'alice');
    const bob = await signUp(server.current, 'bob');
    const alicesProject = await createProject(server.current, alice);
    const bobsProject = await createProject(server.current, bob);
    const shared = await createProject(server.current, admin, [alice, bob]);
    // Identical documents, three viewers: an admin (who may read everything, but bugChanged
    // without a project follows only their own projects) and members of different projects.
    const [forAdmin, forAlice, forBob] = [admin, alice, bob].map(
      (user) => new Subscription<BugChange>(client(user), BUG_CHANGES, {}),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    await createBug(server.current, alice, alicesProject.id, { title: "Alice's" });
    await createBug(server.current, bob, bobsProject.id, { title: "Bob's" });
    await createBug(server.current, admin, shared.id, { title: 'Everyone’s' });

    const titles = async (subscription: Subscription<BugChange>, count: number) => {
      const seen = [];
      for (let i = 0; i < count; i++) seen.push((await subscription.next()).bugChanged.bug.title);
      return seen;
    };
    // Each ends with the event everyone may see, so anything else would have come first.
    expect(await titles(forAlice!, 2)).toEqual(["Alice's", 'Everyone’s']);
    expect(await titles(forBob!, 2)).toEqual(["Bob's", 'Everyone’s']);
    expect(await titles(forAdmin!, 1)).toEqual(['Everyone’s']);
  });

  it('runs the same SQL for an event whether 1 subscriber or 12 across different users receive it', async () => {
    const owner = await signUp(server.current, 'loader');
    const members: TestUser[] = [];
    for (let i = 0; i < 4; i++) members.push(await signUp(server.current, `load-${i}`));
    const project = await createProject(server.current, owner, members);

    const statementsFor = async (subscribers: TestUser[], title: string) => {
      const subscriptions = subscribers.map((user) => new Subscription<BugChange>(client(user), BUG_CHANGES, {}));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const bug = await createBug(server.current, owner, project.id);
      // Every delivery of the creation is over before counting starts.
      for (const subscription of subscriptions) expect((await subscription.next()).bugChanged.action).toBe('CREATED');
      const statements = await recordSql(server.current, async () => {
        await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title } }, owner.token);
        for (const subscription of subscriptions) {
          expect((await subscription.next()).bugChanged.bug.title).toBe(title);
        }
      });
      await Promise.all(clients.splice(0).map(async (opened) => await opened.dispose()));
      return statements.length;
    };
    const one = await statementsFor([members[0]!], 'For one');
    const many = await statementsFor(
      Array.from({ length: 12 }, (_, i) => members[i % members.length]!),
      'For twelve',
    );
    expect(many).toBe(one);
  });
});
