import type { NodeType } from '../src/graphql/ids';
import * as ops from './operations';
import { createBug, createProject, errorOf, signUp, uniqueKey, type TestUser, missingId } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('projects and membership', () => {
  const server = useServer();
  let admin: TestUser;
  let owner: TestUser;
  let member: TestUser;
  let outsider: TestUser;

  beforeAll(async () => {
    admin = await signUp(server.current, 'admin');
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    outsider = await signUp(server.current, 'outsider');
  });

  it('creates a project with an upper-cased key, owned by and including its creator', async () => {
    const key = uniqueKey();
    const { createProject } = await server.current.ok(
      ops.CreateProject,
      { input: { key: key.toLowerCase(), name: '  Web app  ' } },
      owner.token,
    );
    expect(createProject.project).toMatchObject({ key, name: 'Web app', description: '', owner: { id: owner.id } });
    expect(createProject.project.members).toEqual([{ id: owner.id }]);
  });

  it('refuses bad keys and names, and a key that is taken', async () => {
    const cases = [
      [{ key: 'A', name: 'x' }, 'key'],
      [{ key: 'ABCDEFGHIJK', name: 'x' }, 'key'],
      [{ key: 'AB1', name: 'x' }, 'key'],
      [{ key: uniqueKey(), name: '   ' }, 'name'],
      [{ key: uniqueKey(), name: 'x'.repeat(101) }, 'name'],
    ] as const;
    for (const [input, field] of cases) {
      const result = await server.current.request(ops.CreateProject, { input }, owner.token);
      expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    const project = await createProject(server.current, owner);
    const taken = await server.current.request(
      ops.CreateProject,
      { input: { key: project.key, name: 'Again' } },
      member.token,
    );
    expect(errorOf(taken)).toEqual({ code: 'CONFLICT', field: 'key' });
  });

  it('lets the owner and admins edit a project; members are FORBIDDEN, outsiders get NOT_FOUND', async () => {
    const project = await createProject(server.current, owner, [member]);
    const byOwner = await server.current.ok(
      ops.UpdateProject,
      { input: { projectId: project.id, name: 'Renamed', description: 'New words' } },
      owner.token,
    );
    expect(byOwner.updateProject.project).toMatchObject({ name: 'Renamed', description: 'New words' });

    const byAdmin = await server.current.ok(
      ops.UpdateProject,
      { input: { projectId: project.id, name: 'By admin' } },
      admin.token,
    );
    expect(byAdmin.updateProject.project).toMatchObject({ name: 'By admin', description: 'New words' });

    const invalid = [
      [{ name: ' ' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ description: 'x'.repeat(20_001) }, 'description'],
    ] as const;
    for (const [input, field] of invalid) {
      const refused = await server.current.request(
        ops.UpdateProject,
        { input: { projectId: project.id, ...input } },
        owner.token,
      );
      expect(errorOf(refused)).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    const byMember = await server.current.request(
      ops.UpdateProject,
      { input: { projectId: project.id, name: 'No' } },
      member.token,
    );
    expect(errorOf(byMember)).toEqual({ code: 'FORBIDDEN' });
    const byOutsider = await server.current.request(
      ops.UpdateProject,
      { input: { projectId: project.id, name: 'No' } },
      outsider.token,
    );
    expect(errorOf(byOutsider)).toEqual({ code: 'NOT_FOUND', field: 'projectId' });

    const { project: after } = await server.current.ok(ops.Project, { id: project.id }, owner.token);
    expect(after.name).toBe('By admin');
  });

  it('adds and removes members; the owner cannot be removed and removal unassigns their bugs', async () => {
    const project = await createProject(server.current, owner);
    const added = await server.current.ok(
      ops.AddProjectMember,
      { input: { projectId: project.id, userId: member.id } },
      owner.token,
    );
    expect(added.addProjectMember.project.members.map((user) => user.id)).toEqual([owner.id, member.id]);
    const again = await server.current.ok(
      ops.AddProjectMember,
      { input: { projectId: project.id, userId: member.id } },
      owner.token,
    );
    expect(again.addProjectMember.project.members).toHaveLength(2);

    const bug = await createBug(server.current, owner, project.id, { assigneeId: member.id });
    expect(bug.assignee?.id).toBe(member.id);

    const byMember = await server.current.request(
      ops.RemoveProjectMember,
      { input: { projectId: project.id, userId: owner.id } },
      member.token,
    );
    expect(errorOf(byMember)).toEqual({ code: 'FORBIDDEN' });
    const ownerOut = await server.current.request(
      ops.RemoveProjectMember,
      { input: { projectId: project.id, userId: owner.id } },
      owner.token,
    );
    expect(errorOf(ownerOut)).toEqual({ code: 'BAD_USER_INPUT', field: 'userId' });
    const notMember = await server.current.request(
      ops.RemoveProjectMember,
      { input: { projectId: project.id, userId: outsider.id } },
      owner.token,
    );
    expect(errorOf(notMember)).toEqual({ code: 'NOT_FOUND', field: 'userId' });

    const removed = await server.current.ok(
      ops.RemoveProjectMember,
      { input: { projectId: project.id, userId: member.id } },
      admin.token,
    );
    expect(removed.removeProjectMember.project.members).toEqual([{ id: owner.id }]);
    const { bug: unassigned } = await server.current.ok(ops.Bug, { id: bug.id }, owner.token);
    expect(unassigned.assignee).toBeNull();
    const gone = await server.current.request(ops.Bug, { id: bug.id }, member.token);
    expect(errorOf(gone)).toEqual({ code: 'NOT_FOUND', field: 'id' });
  });

  it('refuses to add an unknown user or a non-user ID', async () => {
    const project = await createProject(server.current, owner);
    const unknown = missingId('User');
    const result = await server.current.request(
      ops.AddProjectMember,
      { input: { projectId: project.id, userId: unknown } },
      owner.token,
    );
    expect(errorOf(result)).toEqual({ code: 'NOT_FOUND', field: 'userId' });
    const wrongType = await server.current.request(
      ops.AddProjectMember,
      { input: { projectId: project.id, userId: project.id } },
      owner.token,
    );
    expect(errorOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', field: 'userId' });
  });
});

describe('what a non-member sees of another project: nothing', () => {
  const server = useServer();
  let admin: TestUser;
  let owner: TestUser;
  let outsider: TestUser;
  let project: Awaited<ReturnType<typeof createProject>>;
  let bug: Awaited<ReturnType<typeof createBug>>;
  let commentId: string;

  beforeAll(async () => {
    admin = await signUp(server.current, 'admin');
    owner = await signUp(server.current, 'owner');
    outsider = await signUp(server.current, 'outsider');
    project = await createProject(server.current, owner);
    bug = await createBug(server.current, owner, project.id, { title: 'Secret crash' });
    const { addComment } = await server.current.ok(
      ops.AddComment,
      { input: { bugId: bug.id, body: 'secret' } },
      owner.token,
    );
    commentId = addComment.comment.id;
    await createProject(server.current, outsider); // the outsider has a project of their own
  });

  it('gets NOT_FOUND for the project, its bug, a comment and its owner by id, as for ids that do not exist', async () => {
    expect(errorOf(await server.current.request(ops.Project, { id: project.id }, outsider.token))).toEqual({
      code: 'NOT_FOUND',
      field: 'id',
    });
    expect(errorOf(await server.current.request(ops.Bug, { id: bug.id }, outsider.token))).toEqual({
      code: 'NOT_FOUND',
      field: 'id',
    });
    for (const id of [project.id, bug.id, commentId, owner.id]) {
      const seen = await server.current.request(ops.Node, { id }, outsider.token);
      expect(errorOf(seen)).toEqual({ code: 'NOT_FOUND' });
      const typename = Buffer.from(id, 'base64').toString().split(':')[0];
      const missing = missingId(typename as NodeType);
      expect(await server.current.request(ops.Node, { id: missing }, outsider.token)).toEqual(seen);
    }
  });

  it('sees the same answer for a project that does not exist', async () => {
    const missing = missingId('Project');
    const real = await server.current.request(ops.Project, { id: project.id }, outsider.token);
    const absent = await server.current.request(ops.Project, { id: missing }, outsider.token);
    expect(absent).toEqual(real);
  });

  it('finds none of it in any list or count', async () => {
    const { projects } = await server.current.ok(ops.Projects, {}, outsider.token);
    expect(projects.totalCount).toBe(1);
    expect(projects.edges.map((edge) => edge.node.id)).not.toContain(project.id);

    const { bugs } = await server.current.ok(ops.Bugs, {}, outsider.token);
    expect(bugs).toMatchObject({ totalCount: 0, edges: [] });
    const filtered = await server.current.ok(ops.Bugs, { filter: { projectId: project.id } }, outsider.token);
    expect(filtered.bugs.totalCount).toBe(0);
    const searched = await server.current.ok(ops.Bugs, { filter: { search: 'secret' } }, outsider.token);
    expect(searched.bugs.totalCount).toBe(0);

    const { users } = await server.current.ok(ops.Users, {}, outsider.token);
    expect(users.edges.map((edge) => edge.node.id)).toEqual([outsider.id]);
  });

  it('cannot write to it: every mutation answers NOT_FOUND', async () => {
    const attempts = [
      server.current.request(ops.CreateBug, { input: { projectId: project.id, title: 'x' } }, outsider.token),
      server.current.request(ops.AddComment, { input: { bugId: bug.id, body: 'x' } }, outsider.token),
      server.current.request(ops.UpdateBug, { input: { bugId: bug.id, title: 'x' } }, outsider.token),
      server.current.request(ops.UpdateBugStatus, { input: { bugId: bug.id, status: 'CLOSED' } }, outsider.token),
      server.current.request(ops.AssignBug, { input: { bugId: bug.id, assigneeId: null } }, outsider.token),
      server.current.request(
        ops.AddProjectMember,
        { input: { projectId: project.id, userId: outsider.id } },
        outsider.token,
      ),
    ];
    for (const result of await Promise.all(attempts)) expect(errorOf(result)?.code).toBe('NOT_FOUND');
    const { bug: unchanged } = await server.current.ok(ops.Bug, { id: bug.id }, owner.token);
    expect(unchanged).toMatchObject({ title: 'Secret crash', status: 'OPEN' });
    expect(unchanged.comments.totalCount).toBe(1);
  });

  it('is what an admin sees in full, member or not', async () => {
    const { project: seen } = await server.current.ok(ops.Project, { id: project.id }, admin.token);
    expect(seen.bugs.totalCount).toBe(1);
    const { users } = await server.current.ok(ops.Users, {}, admin.token);
    expect(users.totalCount).toBe(3);
    expect(await server.current.ok(ops.Node, { id: bug.id }, admin.token)).toEqual({
      node: { id: bug.id, __typename: 'Bug', key: bug.key },
    });
  });

  it('shows members the users they share a project with, and only them', async () => {
    await server.current.ok(
      ops.AddProjectMember,
      { input: { projectId: project.id, userId: outsider.id } },
      owner.token,
    );
    const { users } = await server.current.ok(ops.Users, {}, outsider.token);
    expect(users.edges.map((edge) => edge.node.id).sort()).toEqual([owner.id, outsider.id].sort());
  });
});
