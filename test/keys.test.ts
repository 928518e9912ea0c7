import * as ops from './operations';
import { createBug, createProject, errorOf, signUp, uniqueKey, type TestUser } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('bugs and projects by key', () => {
  const server = useServer();
  let admin: TestUser, owner: TestUser, member: TestUser, outsider: TestUser;
  let project: Awaited<ReturnType<typeof createProject>>;
  let bugs: Awaited<ReturnType<typeof createBug>>[];

  beforeAll(async () => {
    admin = await signUp(server.current, 'admin'); // the first account: an admin
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    outsider = await signUp(server.current, 'outsider');
    project = await createProject(server.current, owner, [member]);
    bugs = [];
    for (const title of ['Crash on start', 'Slow search', 'Typo in footer']) {
      bugs.push(await createBug(server.current, owner, project.id, { title }));
    }
  });

  it('finds a bug by its key, in any case', async () => {
    const second = bugs[1]!;
    for (const key of [second.key, second.key.toLowerCase(), `${project.key.toLowerCase()}-2`, ` ${second.key} `]) {
      const { bug } = await server.current.ok(ops.BugByKey, { key }, member.token);
      expect({ key, bug }).toEqual({ key, bug: { id: second.id, key: second.key, title: 'Slow search' } });
    }
    // By id, as before.
    const { bug } = await server.current.ok(ops.BugByKey, { id: second.id }, member.token);
    expect(bug.key).toBe(second.key);
    // An admin sees any bug.
    expect((await server.current.ok(ops.BugByKey, { key: second.key }, admin.token)).bug.id).toBe(second.id);
  });

  it('wants exactly one of id and key', async () => {
    const [first] = bugs;
    const both = await server.current.request(ops.BugByKey, { id: first!.id, key: first!.key }, member.token);
    expect(errorOf(both)).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(both.data).toBeNull();
    const neither = await server.current.request(ops.BugByKey, {}, member.token);
    expect(errorOf(neither)).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    const nulls = await server.current.request(ops.BugByKey, { id: null, key: null }, member.token);
    expect(errorOf(nulls)).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });

    const projectBoth = await server.current.request(
      ops.ProjectByKey,
      { id: project.id, key: project.key },
      member.token,
    );
    expect(errorOf(projectBoth)).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    const projectNeither = await server.current.request(ops.ProjectByKey, {}, member.token);
    expect(errorOf(projectNeither)).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  it('refuses a malformed bug key as BAD_USER_INPUT on key', async () => {
    for (const key of [`${project.key}42`, 'WEB42', 'WEB-', '-42', 'WEB-4x', 'W-1', 'WEB 42', '', 'WEB-1-2']) {
      const result = await server.current.request(ops.BugByKey, { key }, member.token);
      expect({ key, error: errorOf(result) }).toEqual({ key, error: { code: 'BAD_USER_INPUT', field: 'key' } });
    }
  });

  it('answers a key you may not see exactly as one that does not exist: NOT_FOUND', async () => {
    const key = bugs[0]!.key;
    const hidden = await server.current.request(ops.BugByKey, { key }, outsider.token);
    expect(errorOf(hidden)).toEqual({ code: 'NOT_FOUND', field: 'key' });
    expect(hidden.data).toBeNull();
    for (const missing of [`${project.key}-999`, `${project.key}-0`, `${uniqueKey()}-1`]) {
      expect({ missing, result: await server.current.request(ops.BugByKey, { key: missing }, outsider.token) }).toEqual(
        { missing, result: hidden },
      );
    }
    // The member gets the same answer for a number the project has not reached.
    expect(await server.current.request(ops.BugByKey, { key: `${project.key}-999` }, member.token)).toEqual(hidden);
  });

  it('finds a project by its key, with the same rules', async () => {
    for (const key of [project.key, project.key.toLowerCase(), ` ${project.key} `]) {
      const { project: found } = await server.current.ok(ops.ProjectByKey, { key }, member.token);
      expect({ key, found }).toEqual({ key, found: { id: project.id, key: project.key } });
    }
    expect((await server.current.ok(ops.ProjectByKey, { key: project.key }, admin.token)).project.id).toBe(project.id);

    for (const key of ['W', 'WEB1', `${project.key}-1`, 'ABCDEFGHIJK', '']) {
      const result = await server.current.request(ops.ProjectByKey, { key }, member.token);
      expect({ key, error: errorOf(result) }).toEqual({ key, error: { code: 'BAD_USER_INPUT', field: 'key' } });
    }

    const hidden = await server.current.request(ops.ProjectByKey, { key: project.key }, outsider.token);
    expect(errorOf(hidden)).toEqual({ code: 'NOT_FOUND', field: 'key' });
    expect(await server.current.request(ops.ProjectByKey, { key: uniqueKey() }, outsider.token)).toEqual(hidden);
  });

  it('finds a bug by its key in search, beside text matches', async () => {
    const second = bugs[1]!;
    for (const search of [second.key, second.key.toLowerCase()]) {
      const { bugs: found } = await server.current.ok(ops.Bugs, { filter: { search } }, member.token);
      expect({ search, keys: found.edges.map((edge) => edge.node.key) }).toEqual({ search, keys: [second.key] });
      expect(found.totalCount).toBe(1);
      const { project: inProject } = await server.current.ok(
        ops.ProjectBugs,
        { id: project.id, filter: { search } },
        member.token,
      );
      expect(inProject.bugs.edges.map((edge) => edge.node.key)).toEqual([second.key]);
    }
    // A title that mentions a key is found too.
    const mention = await createBug(server.current, owner, project.id, { title: `Follow-up to ${second.key}` });
    const { bugs: both } = await server.current.ok(ops.Bugs, { filter: { search: second.key } }, member.token);
    expect(both.edges.map((edge) => edge.node.key).sort()).toEqual([second.key, mention.key].sort());
    // Not someone else's bug.
    const { bugs: none } = await server.current.ok(ops.Bugs, { filter: { search: second.key } }, outsider.token);
    expect(none.totalCount).toBe(0);
  });
});
