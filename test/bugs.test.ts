import * as ops from './operations';
import type { BugStatus } from './gql/graphql';
import { createBug, createProject, errorOf, signUp, type TestUser, missingId } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('filing and working on bugs', () => {
  const server = useServer();
  let owner: TestUser;
  let member: TestUser;
  let outsider: TestUser;
  let project: Awaited<ReturnType<typeof createProject>>;

  beforeAll(async () => {
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    outsider = await signUp(server.current, 'outsider');
    project = await createProject(server.current, owner, [member]);
  });

  it('numbers bugs per project and shows them as KEY-number', async () => {
    const other = await createProject(server.current, member);
    const first = await createBug(server.current, member, project.id, {
      title: 'First',
      priority: 'HIGH',
      assigneeId: owner.id,
    });
    const second = await createBug(server.current, owner, project.id, { title: 'Second' });
    const elsewhere = await createBug(server.current, member, other.id);
    expect(first).toMatchObject({
      key: `${project.key}-1`,
      number: 1,
      title: 'First',
      description: '',
      status: 'OPEN',
      priority: 'HIGH',
      closedAt: null,
      reporter: { id: member.id },
      assignee: { id: owner.id },
      project: { id: project.id, key: project.key },
    });
    expect(second).toMatchObject({ key: `${project.key}-2`, priority: 'MEDIUM', assignee: null });
    expect(elsewhere.key).toBe(`${other.key}-1`);
  });

  it('gives concurrent bugs distinct numbers', async () => {
    const fresh = await createProject(server.current, owner);
    const bugs = await Promise.all(Array.from({ length: 8 }, () => createBug(server.current, owner, fresh.id)));
    expect(bugs.map((bug) => bug.number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses bad input with the field at fault, and a failed mutation changes nothing', async () => {
    const fresh = await createProject(server.current, owner, [member]);
    const bad = [
      [{ title: '' }, 'title'],
      [{ title: ' \n\t ' }, 'title'],
      [{ title: 'x'.repeat(201) }, 'title'],
      [{ title: 'ok', description: 'x'.repeat(20_001) }, 'description'],
      [{ title: 'ok', assigneeId: outsider.id }, 'assigneeId'],
      [{ title: 'ok', assigneeId: fresh.id }, 'assigneeId'],
      [{ title: 'ok', assigneeId: 'garbage' }, 'assigneeId'],
    ] as const;
    for (const [input, field] of bad) {
      const result = await server.current.request(
        ops.CreateBug,
        { input: { projectId: fresh.id, ...input } },
        member.token,
      );
      expect({ input: Object.keys(input), error: errorOf(result) }).toEqual({
        input: Object.keys(input),
        error: { code: 'BAD_USER_INPUT', field },
      });
    }
    const atTheLimit = await createBug(server.current, member, fresh.id, {
      title: 'x'.repeat(200),
      description: 'y'.repeat(20_000),
    });
    // None of the refused attempts used up a number.
    expect(atTheLimit.key).toBe(`${fresh.key}-1`);
    const { project: after } = await server.current.ok(ops.Project, { id: fresh.id }, owner.token);
    expect(after.bugs.totalCount).toBe(1);
  });

  it('answers NOT_FOUND for an unknown project and BAD_USER_INPUT for an id of the wrong type', async () => {
    const unknown = missingId('Project');
    const missing = await server.current.request(
      ops.CreateBug,
      { input: { projectId: unknown, title: 'x' } },
      member.token,
    );
    expect(errorOf(missing)).toEqual({ code: 'NOT_FOUND', field: 'projectId' });
    const wrongType = await server.current.request(
      ops.CreateBug,
      { input: { projectId: member.id, title: 'x' } },
      member.token,
    );
    expect(errorOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', field: 'projectId' });
  });

  it('edits title, description and priority, keeping what is left out', async () => {
    const bug = await createBug(server.current, member, project.id, { title: 'Before', description: 'Words' });
    const { updateBug } = await server.current.ok(
      ops.UpdateBug,
      { input: { bugId: bug.id, title: ' After ', priority: 'CRITICAL' } },
      owner.token,
    );
    expect(updateBug.bug).toMatchObject({ title: 'After', description: 'Words', priority: 'CRITICAL' });
    expect(new Date(updateBug.bug.updatedAt).getTime()).toBeGreaterThan(new Date(bug.updatedAt).getTime());

    const empty = await server.current.request(ops.UpdateBug, { input: { bugId: bug.id, title: '  ' } }, owner.token);
    expect(errorOf(empty)).toEqual({ code: 'BAD_USER_INPUT', field: 'title' });
    const nothing = await server.current.request(ops.UpdateBug, { input: { bugId: bug.id } }, owner.token);
    expect(errorOf(nothing)).toEqual({ code: 'BAD_USER_INPUT', field: 'input' });
  });

  it('moves status only along the allowed paths, setting closedAt on CLOSED and clearing it on reopening', async () => {
    const allowed: Record<BugStatus, BugStatus[]> = {
      OPEN: ['IN_PROGRESS', 'RESOLVED', 'CLOSED'],
      IN_PROGRESS: ['OPEN', 'RESOLVED', 'CLOSED'],
      RESOLVED: ['CLOSED', 'OPEN'],
      CLOSED: ['OPEN'],
    };
    const statuses = Object.keys(allowed) as BugStatus[];
    // A path that visits every status, so each "from" can be tried against every "to".
    const reach: Record<BugStatus, BugStatus[]> = {
      OPEN: [],
      IN_PROGRESS: ['IN_PROGRESS'],
      RESOLVED: ['RESOLVED'],
      CLOSED: ['CLOSED'],
    };
    for (const from of statuses) {
      for (const to of statuses) {
        const bug = await createBug(server.current, member, project.id);
        for (const step of reach[from]) {
          await server.current.ok(ops.UpdateBugStatus, { input: { bugId: bug.id, status: step } }, member.token);
        }
        const result = await server.current.request(
          ops.UpdateBugStatus,
          { input: { bugId: bug.id, status: to } },
          member.token,
        );
        if (allowed[from].includes(to)) {
          expect(result.data?.updateBugStatus.bug.status).toBe(to);
          expect(result.data?.updateBugStatus.bug.closedAt == null).toBe(to !== 'CLOSED');
        } else {
          expect({ from, to, error: errorOf(result) }).toEqual({
            from,
            to,
            error: { code: 'BAD_USER_INPUT', field: 'status' },
          });
          const { bug: unchanged } = await server.current.ok(ops.Bug, { id: bug.id }, member.token);
          expect(unchanged.status).toBe(from);
        }
      }
    }
  });

  it('reopening a closed bug clears closedAt', async () => {
    const bug = await createBug(server.current, member, project.id);
    const closed = await server.current.ok(
      ops.UpdateBugStatus,
      { input: { bugId: bug.id, status: 'CLOSED' } },
      member.token,
    );
    expect(closed.updateBugStatus.bug.closedAt).not.toBeNull();
    const reopened = await server.current.ok(
      ops.UpdateBugStatus,
      { input: { bugId: bug.id, status: 'OPEN' } },
      member.token,
    );
    expect(reopened.updateBugStatus.bug).toMatchObject({ status: 'OPEN', closedAt: null });
  });

  it('assigns to members only, and unassigns with null', async () => {
    const bug = await createBug(server.current, owner, project.id);
    const assigned = await server.current.ok(
      ops.AssignBug,
      { input: { bugId: bug.id, assigneeId: member.id } },
      owner.token,
    );
    expect(assigned.assignBug.bug.assignee).toEqual({ id: member.id });
    const refused = await server.current.request(
      ops.AssignBug,
      { input: { bugId: bug.id, assigneeId: outsider.id } },
      owner.token,
    );
    expect(errorOf(refused)).toEqual({ code: 'BAD_USER_INPUT', field: 'assigneeId' });
    const unassigned = await server.current.ok(
      ops.AssignBug,
      { input: { bugId: bug.id, assigneeId: null } },
      member.token,
    );
    expect(unassigned.assignBug.bug.assignee).toBeNull();
    const unknownBug = missingId('Bug');
    const missing = await server.current.request(
      ops.AssignBug,
      { input: { bugId: unknownBug, assigneeId: null } },
      owner.token,
    );
    expect(errorOf(missing)).toEqual({ code: 'NOT_FOUND', field: 'bugId' });
  });

  it('takes comments of 1 to 20,000 characters and lists them oldest first', async () => {
    const bug = await createBug(server.current, owner, project.id);
    for (const body of ['', '   ', 'x'.repeat(20_001)]) {
      const result = await server.current.request(ops.AddComment, { input: { bugId: bug.id, body } }, member.token);
      expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field: 'body' });
    }
    const first = await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: ' first ' } }, member.token);
    expect(first.addComment.comment).toMatchObject({ body: 'first', author: { id: member.id }, bug: { id: bug.id } });
    await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: 'x'.repeat(20_000) } }, owner.token);

    const { bug: read } = await server.current.ok(ops.Bug, { id: bug.id }, owner.token);
    expect(read.comments.totalCount).toBe(2);
    expect(read.comments.edges.map((edge) => edge.node.author.id)).toEqual([member.id, owner.id]);
  });
});
