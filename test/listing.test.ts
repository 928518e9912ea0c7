import * as ops from './operations';
import type { BugFilter } from './gql/graphql';
import { createBug, createProject, errorOf, signUp, type TestUser } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('listing bugs: pagination, filters and ordering', () => {
  const server = useServer();
  let alice: TestUser;
  let bob: TestUser;
  let web: Awaited<ReturnType<typeof createProject>>;
  let api: Awaited<ReturnType<typeof createProject>>;
  /** Titles in creation order. */
  const titles: string[] = [];

  const list = async (filter: BugFilter) => {
    const { bugs } = await server.current.ok(ops.Bugs, { filter, first: 100 }, alice.token);
    return bugs.edges.map((edge) => edge.node.title).sort();
  };

  beforeAll(async () => {
    alice = await signUp(server.current, 'alice');
    bob = await signUp(server.current, 'bob');
    web = await createProject(server.current, alice, [bob]);
    api = await createProject(server.current, alice, [bob]);
    const specs = [
      { project: web, by: alice, title: 'Login button crashes', priority: 'CRITICAL', assignee: bob },
      { project: web, by: bob, title: 'Typo on pricing page', priority: 'LOW', description: 'It says PRICNG' },
      { project: web, by: alice, title: 'Slow dashboard', priority: 'HIGH', assignee: alice },
      { project: api, by: bob, title: 'Timeout on export', priority: 'MEDIUM', assignee: bob },
      {
        project: api,
        by: alice,
        title: 'Wrong status code',
        priority: 'HIGH',
        description: 'Returns 500 on LOGIN failure',
      },
    ] as const;
    for (const spec of specs) {
      await createBug(server.current, spec.by, spec.project.id, {
        title: spec.title,
        priority: spec.priority,
        description: 'description' in spec ? spec.description : '',
        assigneeId: 'assignee' in spec ? spec.assignee.id : undefined,
      });
      titles.push(spec.title);
    }
    const { bugs } = await server.current.ok(ops.Bugs, { filter: { search: 'slow' } }, alice.token);
    await server.current.ok(
      ops.UpdateBugStatus,
      { input: { bugId: bugs.edges[0]!.node.id, status: 'IN_PROGRESS' } },
      bob.token,
    );
  });

  it('pages through every bug, newest first, without gaps or repeats', async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    for (;;) {
      const { bugs } = await server.current.ok(ops.Bugs, { first: 2, after }, alice.token);
      expect(bugs.totalCount).toBe(5);
      seen.push(...bugs.edges.map((edge) => edge.node.title));
      pages += 1;
      if (!bugs.pageInfo.hasNextPage) break;
      after = bugs.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...titles].reverse());
  });

  it('returns 20 by default and refuses more than 100 or a bad cursor', async () => {
    const many = await createProject(server.current, bob);
    for (let i = 0; i < 21; i += 1) await createBug(server.current, bob, many.id);
    const { project } = await server.current.ok(ops.ProjectBugs, { id: many.id }, bob.token);
    expect(project.bugs.totalCount).toBe(21);
    expect(project.bugs.edges).toHaveLength(20);

    const tooMany = await server.current.request(ops.Bugs, { first: 101 }, bob.token);
    expect(errorOf(tooMany)).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    const hundred = await server.current.ok(ops.Bugs, { first: 100 }, bob.token);
    expect(hundred.bugs.edges.length).toBe(26);
    const badCursor = await server.current.request(ops.Bugs, { after: 'not-a-cursor' }, bob.token);
    expect(errorOf(badCursor)).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('filters by project, status, priority, assignee, reporter and text, alone and together', async () => {
    expect(await list({ projectId: api.id })).toEqual(['Timeout on export', 'Wrong status code']);
    expect(await list({ status: ['IN_PROGRESS'] })).toEqual(['Slow dashboard']);
    expect(await list({ status: ['OPEN', 'IN_PROGRESS'], projectId: web.id })).toHaveLength(3);
    expect(await list({ priority: ['HIGH', 'CRITICAL'] })).toEqual([
      'Login button crashes',
      'Slow dashboard',
      'Wrong status code',
    ]);
    expect(await list({ assigneeId: bob.id })).toEqual(['Login button crashes', 'Timeout on export']);
    expect(await list({ reporterId: bob.id, projectId: web.id })).toEqual(['Typo on pricing page']);
    // Case-insensitive, in the title or the description.
    expect(await list({ search: 'LOGIN' })).toEqual(['Login button crashes', 'Wrong status code']);
    expect(await list({ search: 'pricng' })).toEqual(['Typo on pricing page']);
    expect(await list({ search: 'login', priority: ['CRITICAL'] })).toEqual(['Login button crashes']);
    expect(await list({ search: 'no such words' })).toEqual([]);
  });

  it('counts what the filter matches, not the page', async () => {
    const { bugs } = await server.current.ok(ops.Bugs, { first: 1, filter: { projectId: web.id } }, alice.token);
    expect(bugs.totalCount).toBe(3);
    expect(bugs.edges).toHaveLength(1);
    expect(bugs.pageInfo.hasNextPage).toBe(true);
  });

  it("filters a project's own bug list too", async () => {
    const { project } = await server.current.ok(
      ops.ProjectBugs,
      { id: web.id, filter: { priority: ['LOW'] } },
      alice.token,
    );
    expect(project.bugs).toEqual({ totalCount: 1, edges: [{ node: { key: `${web.key}-2` } }] });
  });

  it('orders by creation, update or priority, either way', async () => {
    const order = async (field: 'CREATED_AT' | 'UPDATED_AT' | 'PRIORITY', direction: 'ASC' | 'DESC') => {
      const { bugs } = await server.current.ok(
        ops.Bugs,
        { filter: { projectId: web.id }, orderBy: { field, direction } },
        alice.token,
      );
      return bugs.edges.map((edge) => edge.node.title);
    };
    expect(await order('CREATED_AT', 'ASC')).toEqual([
      'Login button crashes',
      'Typo on pricing page',
      'Slow dashboard',
    ]);
    expect(await order('CREATED_AT', 'DESC')).toEqual([
      'Slow dashboard',
      'Typo on pricing page',
      'Login button crashes',
    ]);
    expect(await order('PRIORITY', 'DESC')).toEqual(['Login button crashes', 'Slow dashboard', 'Typo on pricing page']);
    expect(await order('PRIORITY', 'ASC')).toEqual(['Typo on pricing page', 'Slow dashboard', 'Login button crashes']);
    // 'Slow dashboard' changed status last, so it was updated last.
    expect((await order('UPDATED_AT', 'DESC'))[0]).toBe('Slow dashboard');
    expect((await order('UPDATED_AT', 'ASC')).at(-1)).toBe('Slow dashboard');
  });

  it('pages through an ordering other than the default', async () => {
    const titlesByPriority: string[] = [];
    let after: string | null | undefined;
    do {
      const { bugs } = await server.current.ok(
        ops.Bugs,
        { first: 1, after, filter: { projectId: web.id }, orderBy: { field: 'PRIORITY', direction: 'ASC' } },
        alice.token,
      );
      titlesByPriority.push(...bugs.edges.map((edge) => edge.node.title));
      after = bugs.pageInfo.hasNextPage ? bugs.pageInfo.endCursor : undefined;
    } while (after);
    expect(titlesByPriority).toEqual(['Typo on pricing page', 'Slow dashboard', 'Login button crashes']);
  });

  it("pages through a bug's comments and the user list", async () => {
    const bug = await createBug(server.current, alice, web.id);
    for (let i = 1; i <= 5; i += 1) {
      await server.current.ok(
        ops.AddComment,
        { input: { bugId: bug.id, body: `comment ${i}` } },
        i % 2 ? alice.token : bob.token,
      );
    }
    const first = await server.current.ok(ops.Bug, { id: bug.id, commentsFirst: 3 }, bob.token);
    const rest = await server.current.ok(
      ops.Bug,
      { id: bug.id, commentsFirst: 3, commentsAfter: first.bug.comments.pageInfo.endCursor },
      bob.token,
    );
    const bodies = [...first.bug.comments.edges, ...rest.bug.comments.edges].map((edge) => edge.node.body);
    expect(bodies).toEqual(['comment 1', 'comment 2', 'comment 3', 'comment 4', 'comment 5']);
    expect(first.bug.comments).toMatchObject({ totalCount: 5, pageInfo: { hasNextPage: true } });
    expect(rest.bug.comments.pageInfo.hasNextPage).toBe(false);

    const users = await server.current.ok(ops.Users, { first: 1 }, alice.token);
    const next = await server.current.ok(ops.Users, { first: 1, after: users.users.pageInfo.endCursor }, alice.token);
    expect(users.users.totalCount).toBe(2);
    expect([users.users.edges[0]?.node.id, next.users.edges[0]?.node.id]).toEqual([alice.id, bob.id]);
  });
});
