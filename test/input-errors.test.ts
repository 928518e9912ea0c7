import type { GraphQLFormattedError } from 'graphql';
import * as ops from './operations';
import { createBug, createProject, PASSWORD, signUp, unique, type TestUser } from './helpers/fixtures';
import { useServer, type GraphQLResponse } from './helpers/server';

/** The one error a response carries, which must be BAD_USER_INPUT, as a client reads it. */
function inputError(result: GraphQLResponse<unknown>) {
  expect(result.errors).toHaveLength(1);
  const [error] = result.errors as [GraphQLFormattedError];
  expect(error.extensions?.code).toBe('BAD_USER_INPUT');
  return {
    message: error.message,
    field: error.extensions?.field,
    fields: error.extensions?.fields as { field: string; message: string }[] | undefined,
  };
}

/** The fields a list of problems names, in order. */
const named = (fields: { field: string }[] | undefined) => fields?.map((problem) => problem.field);

describe('every input error of a mutation at once', () => {
  const server = useServer();
  let owner: TestUser;
  let projectId: string;

  beforeAll(async () => {
    owner = await signUp(server.current, 'owner');
    projectId = (await createProject(server.current, owner)).id;
  });

  it('lists every bad field of a sign-up in one BAD_USER_INPUT, the first as `field`', async () => {
    const email = `not-an-email-${unique('x')}`;
    const result = await server.current.request(ops.SignUp, { input: { email, name: '  ', password: 'short' } });
    expect(result.data).toBeNull();
    const error = inputError(result);
    expect(error.fields).toEqual([
      { field: 'email', message: expect.stringMatching(/email/) as unknown },
      { field: 'name', message: expect.stringMatching(/name/) as unknown },
      { field: 'password', message: expect.stringMatching(/password/) as unknown },
    ]);
    expect(error.field).toBe('email');
    expect(error.message).toBe(error.fields![0]!.message);
    // Nothing was created: the address is still free once the input is right.
    const fixed = `${unique('fixed')}@example.com`;
    await server.current.ok(ops.SignUp, { input: { email: fixed, name: 'Fixed', password: PASSWORD } });
  });

  it('lists the one bad field the same way when there is only one', async () => {
    const result = await server.current.request(ops.SignUp, {
      input: { email: `${unique('one')}@example.com`, name: 'One', password: 'short' },
    });
    const error = inputError(result);
    expect(error.field).toBe('password');
    expect(named(error.fields)).toEqual(['password']);
  });

  it('lists every bad field of createBug: an empty title and malformed ids', async () => {
    const result = await server.current.request(
      ops.CreateBug,
      { input: { projectId: 'nope', title: ' ', assigneeId: owner.id.slice(0, 8) } },
      owner.token,
    );
    const error = inputError(result);
    expect(named(error.fields)).toEqual(['projectId', 'title', 'assigneeId']);
    expect(error.field).toBe('projectId');
    expect(error.message).toBe(error.fields![0]!.message);
    // A project ID given where a user's belongs is malformed too; the project itself is fine.
    const wrongType = await server.current.request(
      ops.CreateBug,
      { input: { projectId, title: '', description: 'x'.repeat(20_001), assigneeId: projectId } },
      owner.token,
    );
    expect(named(inputError(wrongType).fields)).toEqual(['title', 'description', 'assigneeId']);
    // Nothing was filed.
    const { project } = await server.current.ok(ops.Project, { id: projectId }, owner.token);
    expect(project.bugs.totalCount).toBe(0);
  });

  it('lists every bad field of createLabel: a bad name and a bad color', async () => {
    const result = await server.current.request(
      ops.CreateLabel,
      { input: { projectId, name: '', color: 'red', description: 'x'.repeat(501) } },
      owner.token,
    );
    const error = inputError(result);
    expect(named(error.fields)).toEqual(['name', 'color', 'description']);
    expect(error.field).toBe('name');
    const { project } = await server.current.ok(ops.ProjectLabels, { id: projectId }, owner.token);
    expect(project.labels).toEqual([]);
  });

  it('lists every bad field of createProject and updateBug too', async () => {
    const project = await server.current.request(
      ops.CreateProject,
      { input: { key: 'W', name: '', description: 'x'.repeat(20_001) } },
      owner.token,
    );
    expect(named(inputError(project).fields)).toEqual(['key', 'name', 'description']);

    const bug = await createBug(server.current, owner, projectId, { title: 'Unchanged' });
    const update = await server.current.request(
      ops.UpdateBug,
      { input: { bugId: bug.id, title: '', description: 'x'.repeat(20_001) } },
      owner.token,
    );
    expect(named(inputError(update).fields)).toEqual(['title', 'description']);
    const { bug: after } = await server.current.ok(ops.Bug, { id: bug.id }, owner.token);
    expect(after.title).toBe('Unchanged');
  });

  it('lists a malformed id beside the other bad fields of the same input', async () => {
    const updateBug = await server.current.request(
      ops.UpdateBug,
      { input: { bugId: 'nope', title: '', description: 'x'.repeat(20_001) } },
      owner.token,
    );
    expect(named(inputError(updateBug).fields)).toEqual(['bugId', 'title', 'description']);
    const updateProject = await server.current.request(
      ops.UpdateProject,
      { input: { projectId: 'nope', name: ' ' } },
      owner.token,
    );
    expect(named(inputError(updateProject).fields)).toEqual(['projectId', 'name']);
    const addMember = await server.current.request(
      ops.AddProjectMember,
      { input: { projectId: 'nope', userId: projectId } },
      owner.token,
    );
    expect(named(inputError(addMember).fields)).toEqual(['projectId', 'userId']);
    const assign = await server.current.request(
      ops.AssignBug,
      { input: { bugId: owner.id, assigneeId: 'nope' } },
      owner.token,
    );
    expect(named(inputError(assign).fields)).toEqual(['bugId', 'assigneeId']);
    const setLabels = await server.current.request(
      ops.SetBugLabels,
      { input: { bugId: 'nope', labelIds: ['bad', owner.id] } },
      owner.token,
    );
    expect(named(inputError(setLabels).fields)).toEqual(['bugId', 'labelIds.0']);
    const updateLabel = await server.current.request(
      ops.UpdateLabel,
      { input: { labelId: 'nope', name: '', color: 'blue' } },
      owner.token,
    );
    expect(named(inputError(updateLabel).fields)).toEqual(['labelId', 'name', 'color']);
  });
});
