import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import * as ops from './operations';
import { createBug, createProject, PASSWORD, signUp, unique, type TestUser } from './helpers/fixtures';
import { useServer, type TestServer } from './helpers/server';
import { connect, Subscription } from './helpers/subscriptions';

interface Result {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** Sends `query` over HTTP exactly as written, as `user` when given. */
async function run(server: TestServer, query: string, variables?: unknown, user?: TestUser): Promise<Result> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(user === undefined ? {} : { authorization: `Bearer ${user.token}` }),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as Result;
}

/** The first error's code and field. */
const errorOf = (result: Result) => {
  const { code, field } = result.errors?.[0]?.extensions ?? {};
  return field === undefined ? { code } : { code, field };
};

/** An ordinary client, right after: the server still answers at once. */
async function stillAnswers(server: TestServer, user: TestUser): Promise<void> {
  const { me } = await server.ok(ops.Me, {}, user.token);
  expect(me?.id).toBe(user.id);
}

const CREATE_BUG = 'mutation($input: CreateBugInput!) { createBug(input: $input) { bug { id } } }';
const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { token } }';
const LONE_HALVES = ['a\ud800b', 'a\udc00b', 'ends with \ud83d', '\ude00 starts', 'swapped \ude00\ud83d pair'];

describe('text inputs', () => {
  const server = useServer();
  let owner: TestUser;
  let projectId: string;

  /** How many bugs the project has: proof that a refused write wrote nothing. */
  const bugCount = async () =>
    (await server.current.ok(ops.ProjectBugs, { id: projectId }, owner.token)).project.bugs.totalCount;

  beforeAll(async () => {
    owner = await signUp(server.current, 'owner');
    projectId = (await createProject(server.current, owner)).id;
  });

  it('refuses a NUL character in a mutation variable as BAD_USER_INPUT naming the field, writing nothing', async () => {
    const before = await bugCount();
    const inTitle = await run(server.current, CREATE_BUG, { input: { projectId, title: 'a\u0000b' } }, owner);
    expect(errorOf(inTitle)).toEqual({ code: 'BAD_USER_INPUT', field: 'title' });
    expect(inTitle.data ?? null).toBeNull();
    const inDescription = await run(
      server.current,
      CREATE_BUG,
      { input: { projectId, title: 'Fine', description: 'trailing NUL\u0000' } },
      owner,
    );
    expect(errorOf(inDescription)).toEqual({ code: 'BAD_USER_INPUT', field: 'description' });
    expect(await bugCount()).toBe(before);
    await stillAnswers(server.current, owner);
  });

  it('refuses half of a UTF-16 surrogate pair in a variable, and takes a whole pair', async () => {
    const before = await bugCount();
    for (const title of LONE_HALVES) {
      const result = await run(server.current, CREATE_BUG, { input: { projectId, title } }, owner);
      expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field: 'title' });
    }
    expect(await bugCount()).toBe(before);

    const emoji = await createBug(server.current, owner, projectId, { title: 'Crash on 😀 in titles' });
    const { bug } = await server.current.ok(ops.Bug, { id: emoji.id }, owner.token);
    expect(bug.title).toBe('Crash on 😀 in titles');
    await stillAnswers(server.current, owner);
  });

  it('refuses a NUL written into the document as a string literal, block strings too', async () => {
    const before = await bugCount();
    for (const literal of ['"a\\u0000b"', '"""a\u0000b"""']) {
      const result = await run(
        server.current,
        `mutation { createBug(input: { projectId: "${projectId}", title: ${literal} }) { bug { id } } }`,
        undefined,
        owner,
      );
      expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field: 'title' });
    }
    expect(await bugCount()).toBe(before);
    await stillAnswers(server.current, owner);
  });

  it('has GraphQL itself refuse a lone surrogate in a literal, as a syntax error', async () => {
    const before = await bugCount();
    for (const literal of ['"a\\ud800b"', '"a\ud800b"']) {
      const result = await run(
        server.current,
        `mutation { createBug(input: { projectId: "${projectId}", title: ${literal} }) { bug { id } } }`,
        undefined,
        owner,
      );
      expect(result.data).toBeUndefined();
      expect(result.errors?.[0]?.message).toMatch(
        /^Syntax Error: Invalid (Unicode escape sequence|character within String)/,
      );
    }
    expect(await bugCount()).toBe(before);
    await stillAnswers(server.current, owner);
  });

  it('names the input path of a string at any depth: query filters, nested fields, fragments', async () => {
    const cases: [string, unknown, string][] = [
      ['query($s: String) { bugs(filter: { search: $s }) { totalCount } }', { s: 'x\u0000' }, 'filter.search'],
      ['query($f: BugFilter) { bugs(filter: $f) { totalCount } }', { f: { search: '\ud800' } }, 'filter.search'],
      [
        'query($f: BugFilter) { bugs(filter: $f) { totalCount } }',
        { f: { reporterId: 'x\u0000' } },
        'filter.reporterId',
      ],
      [
        `query($s: String) { project(id: "${projectId}") { bugs(filter: { search: $s }) { totalCount } } }`,
        { s: '\u0000' },
        'filter.search',
      ],
      [
        'query { ...Search } fragment Search on Query { bugs(filter: { search: "\\u0000" }) { totalCount } }',
        {},
        'filter.search',
      ],
      ['query($id: ID!) { bug(id: $id) { id } }', { id: '\u0000' }, 'id'],
      ['query($s: String = "\\u0000") { bugs(filter: { search: $s }) { totalCount } }', {}, 'filter.search'],
    ];
    for (const [query, variables, field] of cases) {
      const result = await run(server.current, query, variables, owner);
      expect({ query, error: errorOf(result) }).toEqual({ query, error: { code: 'BAD_USER_INPUT', field } });
    }
    await stillAnswers(server.current, owner);
  });

  it('refuses them before anything runs, signed in or not: a sign-up creates no account', async () => {
    const email = `${unique('nul')}@example.com`;
    const result = await run(server.current, SIGN_UP, { input: { email, name: 'Nul\u0000', password: PASSWORD } });
    expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field: 'name' });
    const password = await run(server.current, SIGN_UP, {
      input: { email, name: 'Nul', password: `${PASSWORD}\ud800` },
    });
    expect(errorOf(password)).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    // The email is still free.
    const again = await run(server.current, SIGN_UP, { input: { email, name: 'Nul', password: PASSWORD } });
    expect(again.errors).toBeUndefined();
  });

  it('refuses them over WebSocket too, in mutations and subscriptions', async () => {
    const bug = await createBug(server.current, owner, projectId);
    const before = await bugCount();
    const client = connect(server.current, owner);
    try {
      const mutation = new Subscription(client, CREATE_BUG, { input: { projectId, title: 'over ws\u0000' } });
      const mutated = await mutation.item();
      const subscription = new Subscription(client, 'subscription($id: ID!) { commentAdded(bugId: $id) { cursor } }', {
        id: `${bug.id}\ud800`,
      });
      const subscribed = await subscription.item();
      for (const [item, field] of [
        [mutated, 'title'],
        [subscribed, 'bugId'],
      ] as const) {
        const errors =
          item.kind === 'next' ? item.errors : item.kind === 'error' ? (item.error as Result['errors']) : [];
        expect(errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
      }
    } finally {
      await client.dispose();
    }
    expect(await bugCount()).toBe(before);
    await stillAnswers(server.current, owner);
  });
});

describe('pagination cursors', () => {
  const server = useServer();
  let owner: TestUser;
  let projectId: string;
  let bugId: string;

  beforeAll(async () => {
    owner = await signUp(server.current, 'pager');
    projectId = (await createProject(server.current, owner)).id;
    bugId = (await createBug(server.current, owner, projectId)).id;
    await server.current.ok(ops.AddComment, { input: { bugId, body: 'one' } }, owner.token);
  });

  const base64 = (text: string) => Buffer.from(text).toString('base64');
  const BAD_CURSORS = [
    'garbage',
    '',
    '!!!',
    base64('not one of ours'),
    base64('GPC:S:not-a-uuid'),
    base64("GPC:S:00000000-0000-4000-8000-000000000000' OR 1=1"),
    base64('GPC:N:5'),
    base64('GPC:T:["S:a","S:b"]'),
    base64('GPC:J:[1]'),
    base64(`GPC:O:{"id":"x"}`),
    base64('User:00000000-0000-4000-8000-000000000000'),
  ];
  const connections = () => ({
    bugs: 'query($c: String) { bugs(after: $c) { totalCount edges { cursor } } }',
    users: 'query($c: String) { users(after: $c) { edges { cursor } } }',
    projects: 'query($c: String) { projects(after: $c) { edges { cursor } } }',
    'Project.bugs': `query($c: String) { project(id: "${projectId}") { bugs(after: $c) { edges { cursor } } } }`,
    'Bug.comments': `query($c: String) { bug(id: "${bugId}") { comments(after: $c) { edges { cursor } } } }`,
  });

  it('refuses a malformed cursor on every connection as BAD_USER_INPUT on `after`', async () => {
    for (const [name, query] of Object.entries(connections())) {
      for (const cursor of BAD_CURSORS) {
        const result = await run(server.current, query, { c: cursor }, owner);
        expect({ name, cursor, error: errorOf(result) }).toEqual({
          name,
          cursor,
          error: { code: 'BAD_USER_INPUT', field: 'after' },
        });
      }
    }
    await stillAnswers(server.current, owner);
  });

  it('refuses a malformed `before` the same way, naming `before`', async () => {
    const result = await run(
      server.current,
      'query($c: String) { bugs(last: 1, before: $c) { totalCount } }',
      { c: base64('GPC:S:nope') },
      owner,
    );
    expect(errorOf(result)).toEqual({ code: 'BAD_USER_INPUT', field: 'before' });
  });

  it('still pages with the cursors it hands out, and with a well-formed one that names nothing', async () => {
    for (const [name, query] of Object.entries(connections())) {
      const first = await run(server.current, query, {}, owner);
      expect({ name, errors: first.errors }).toEqual({ name, errors: undefined });
      const cursor = JSON.stringify(first.data).match(/"cursor":"([^"]+)"/)?.[1];
      expect(cursor).toBeDefined();
      for (const after of [cursor, base64('GPC:S:00000000-0000-4000-8000-000000000000')]) {
        const next = await run(server.current, query, { c: after }, owner);
        expect({ name, errors: next.errors }).toEqual({ name, errors: undefined });
      }
    }
  });
});

describe('access tokens', () => {
  const server = useServer();

  it('answers a token signed with our secret whose subject is not a user id with UNAUTHENTICATED', async () => {
    const user = await signUp(server.current, 'subject');
    const secret = fs.readFileSync(path.join(server.current.dataDir, 'jwt-secret'), 'utf8').trim();
    const sign = (subject: string) =>
      jwt.sign({ role: 'ADMIN' }, secret, {
        algorithm: 'HS256',
        subject,
        issuer: 'bugzapp',
        audience: 'bugzapp-api',
        expiresIn: 600,
      });
    for (const subject of ['admin', 'not-a-uuid', `${user.id}`, "' OR 1=1 --", '00000000-0000-4000-8000-00000000000']) {
      const result = await run(server.current, '{ me { id } }', undefined, { ...user, token: sign(subject) });
      expect({ subject, error: errorOf(result) }).toEqual({ subject, error: { code: 'UNAUTHENTICATED' } });
    }
    await stillAnswers(server.current, user);
  });
});

describe('searching bugs', () => {
  const server = useServer();

  it('matches %, _ and \\ literally, not as wildcards', async () => {
    const owner = await signUp(server.current, 'searcher');
    const project = await createProject(server.current, owner);
    const titles = ['100% done', 'snake_case name', 'back\\slash', 'plain title', '100 percent'];
    for (const title of titles) await createBug(server.current, owner, project.id, { title });

    const search = async (text: string) => {
      const { bugs } = await server.current.ok(
        ops.Bugs,
        { first: 100, filter: { projectId: project.id, search: text } },
        owner.token,
      );
      return bugs.edges.map((edge) => edge.node.title).sort();
    };
    expect(await search('%')).toEqual(['100% done']);
    expect(await search('_')).toEqual(['snake_case name']);
    expect(await search('\\')).toEqual(['back\\slash']);
    expect(await search('0% D')).toEqual(['100% done']);
    expect(await search('e_c')).toEqual(['snake_case name']);
    expect(await search('%%')).toEqual([]);
    expect(await search('k\\s')).toEqual(['back\\slash']);
    expect(await search('100')).toEqual(['100 percent', '100% done']);
    await stillAnswers(server.current, owner);
  });
});
