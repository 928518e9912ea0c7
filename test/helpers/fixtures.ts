import { randomBytes } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';
import type { NodeType } from '../../src/graphql/ids';
import type { BugPriority } from '../gql/graphql';
import * as ops from '../operations';
import type { GraphQLResponse, TestServer } from './server';

/** A signed-in user of the test server. */
export interface TestUser {
  id: string;
  token: string;
  email: string;
  name: string;
}

export const PASSWORD = 'correct-horse-battery';

let sequence = 0;
/** A value no other test in the run has used. */
export const unique = (prefix: string) => `${prefix}-${process.pid}-${++sequence}-${randomBytes(3).toString('hex')}`;

/** A well-formed global ID of `typename` that names nothing. */
export const missingId = (typename: NodeType) =>
  Buffer.from(`${typename}:00000000-0000-4000-8000-000000000000`).toString('base64');

/** A project key no other test has used: 10 random capital letters. */
export const uniqueKey = () => Array.from(randomBytes(10), (byte) => String.fromCharCode(65 + (byte % 26))).join('');

export async function signUp(server: TestServer, name = 'user'): Promise<TestUser> {
  const email = `${unique(name)}@example.com`;
  const { signUp: result } = await server.ok(ops.SignUp, { input: { email, name, password: PASSWORD } });
  return { id: result.user.id, token: result.token, email, name };
}

export async function createProject(server: TestServer, owner: TestUser, members: TestUser[] = []) {
  const { createProject: result } = await server.ok(
    ops.CreateProject,
    { input: { key: uniqueKey(), name: 'Project', description: 'For tests' } },
    owner.token,
  );
  for (const member of members) {
    await server.ok(ops.AddProjectMember, { input: { projectId: result.project.id, userId: member.id } }, owner.token);
  }
  return result.project;
}

export async function createBug(
  server: TestServer,
  user: TestUser,
  projectId: string,
  input: { title?: string; description?: string; priority?: BugPriority; assigneeId?: string } = {},
) {
  const { createBug: result } = await server.ok(
    ops.CreateBug,
    { input: { projectId, title: input.title ?? unique('bug'), ...input } },
    user.token,
  );
  return result.bug;
}

/** The first error's code and field: what a client branches on. */
export function errorOf(result: GraphQLResponse<unknown>): { code: unknown; field?: unknown } | undefined {
  const error: GraphQLFormattedError | undefined = result.errors?.[0];
  if (error === undefined) return undefined;
  const { code, field } = error.extensions ?? {};
  return field === undefined ? { code } : { code, field };
}
