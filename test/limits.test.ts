import { complexityFromQuery } from '@pothos/plugin-complexity';
import { getIntrospectionQuery } from 'graphql';
import type { Client } from 'graphql-ws';
import { schema } from '../src/graphql/schema';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { recordSql, useServer, type GraphQLResponse, type TestServer } from './helpers/server';
import { connect, subscribe, Subscription } from './helpers/subscriptions';

// --- Documents ----------------------------------------------------------------------------------

/** The bug list screen: a page of 20 bugs with their people and first five comments. */
const SCREEN = `{
  bugs(first: 20) { edges { node {
    key title status project { name } reporter { name } assignee { name }
    comments(first: 5) { edges { node { body author { name } } } }
  } } }
}`;

/** 100 bugs, their 100 comments each, and each comment's project's 100 bugs: a million nodes. */
const NESTED_LISTS = `bugs(first: 100) { edges { node { comments(first: 100) { edges { node {
  bug { project { bugs(first: 100) { edges { node { id title } } } } }
} } } } } }`;

/** 100 bugs with 100 comments each and every comment's author: cost 40,301. */
const COSTLY =
  'query Costly($n: Int) { bugs(first: $n) { edges { node { comments(first: 100) { edges { node { author { name } } } } } } } }';

/** A selection `depth` fields deep, through real fields: bugs, edges, node, project, bugs, ... */
function deepSelection(depth: number): string {
  const fields = ['bugs(first: 1)', 'edges', 'node', 'project'];
  // A leaf of what each of those fields returns.
  const leaves = ['totalCount', 'cursor', 'id', 'id'];
  const path = Array.from({ length: depth - 1 }, (_, level) => fields[level % fields.length]!);
  return `{ ${path.join(' { ')} { ${leaves[(depth - 2) % leaves.length]!}${' }'.repeat(path.length)} }`;
}

/** `{ a { a { ... } } }`, `levels` deep: parsed, it would overflow graphql's recursive parser. */
const nestedDocument = (levels: number) => `${'{ a '.repeat(levels)}${'}'.repeat(levels)}`;

/** `count` copies of `selection` under their own aliases. */
const aliased = (count: number, selection: string) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join(' ')} }`;

/** `count` directives, each on its own (merged) `__typename`, so none is a duplicate. */
const directives = (count: number) => `{ me { id ${'__typename @include(if: true) '.repeat(count)}} }`;

// --- Raw HTTP -----------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  body: GraphQLResponse<Record<string, unknown>>;
}

/** Posts a query string as it is, the way a hostile client would, as `user` when given. */
async function post(
  server: TestServer,
  query: string,
  user?: TestUser,
  variables?: Record<string, unknown>,
): Promise<RawResponse> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(user === undefined ? {} : { authorization: `Bearer ${user.token}` }),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as RawResponse['body'] };
}

/** The answer to an operation refused for `limit`: one QUERY_TOO_COMPLEX error, no data, a 400. */
function expectTooComplex(response: RawResponse, limit: string): void {
  expect(response.body).toEqual({
    errors: [
      {
        message: expect.stringMatching(new RegExp(`^Query .* is over the limit of \\d+ \\(${limit}\\)\\.$`)) as unknown,
        extensions: { code: 'QUERY_TOO_COMPLEX', limit },
      },
    ],
  });
  expect(response.status).toBe(400);
}

/** The server answers a normal client straight away: the refused operation left no work behind. */
async function expectAnswersAtOnce(server: TestServer, user: TestUser): Promise<void> {
  const started = Date.now();
  const response = await post(server, '{ me { id } }', user);
  expect(response.body).toEqual({ data: { me: { id: user.id } } });
  // Generous for a busy CI machine; a query that kept running would take seconds.
  expect(Date.now() - started).toBeLessThan(2_000);
}

/** Runs one operation over `client` and returns its errors, or fails if it answered data. */
function errorsOver(client: Client, query: string, variables: Record<string, unknown> = {}) {
  return new Subscription<unknown>(client, query, variables).errors();
}

// --- Suites -------------------------------------------------------------------------------------

describe('operation limits, as configured by default', () => {
  // No event polling during a test, so the statements recorded are the request's alone.
  const server = useServer({ EVENT_POLL_MS: '600000' });
  let user: TestUser;
  let projectId: string;

  beforeAll(async () => {
    user = await signUp(server.current, 'limits');
    const colleague = await signUp(server.current, 'colleague');
    projectId = (await createProject(server.current, user, [colleague])).id;
    for (let i = 0; i < 3; i += 1) {
      const bug = await createBug(server.current, user, projectId, { assigneeId: colleague.id });
      await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: `comment ${i}` } }, colleague.token);
    }
  });

  it('answers the bug list screen, whose cost of 741 is far below the limit of 10,000', async () => {
    expect(complexityFromQuery(SCREEN, { schema }).complexity).toBe(741);
    const response = await post(server.current, SCREEN, user);
    expect(response.body.errors).toBeUndefined();
    expect((response.body.data as { bugs: { edges: unknown[] } }).bugs.edges).toHaveLength(3);
  });

  it('refuses the nested-list bomb by its cost, before any SQL runs', async () => {
    let response: RawResponse | undefined;
    const statements = await recordSql(server.current, async () => {
      response = await post(server.current, `{ ${NESTED_LISTS} }`, user);
    });
    expectTooComplex(response!, 'MAX_QUERY_COST');
    expect(statements).toEqual([]);
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses ten aliased copies of the nested-list bomb', async () => {
    expectTooComplex(await post(server.current, aliased(10, NESTED_LISTS), user), 'MAX_QUERY_COST');
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses a cost over 10,000 (100 bugs x 100 comments x author), judged by the variables of each request', async () => {
    const response = await post(server.current, COSTLY, user, { n: 100 });
    expectTooComplex(response, 'MAX_QUERY_COST');
    expect(response.body.errors?.[0]?.message).toBe('Query cost 40301 is over the limit of 10000 (MAX_QUERY_COST).');
    // The same document with a small page passes, and yoga caches its validation; a large page
    // sent after it must still be costed afresh.
    expect((await post(server.current, COSTLY, user, { n: 2 })).body.errors).toBeUndefined();
    expectTooComplex(await post(server.current, COSTLY, user, { n: 100 }), 'MAX_QUERY_COST');
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses 31 aliases; 30 pass', async () => {
    expect((await post(server.current, aliased(30, 'me { id }'), user)).body.errors).toBeUndefined();
    const response = await post(server.current, aliased(31, 'me { id }'), user);
    expectTooComplex(response, 'MAX_QUERY_ALIASES');
    expect(response.body.errors?.[0]?.message).toBe(
      'Query alias count 31 is over the limit of 30 (MAX_QUERY_ALIASES).',
    );
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses 1,000 aliases while parsing, at the token limit', async () => {
    expectTooComplex(await post(server.current, aliased(1_000, 'me { id }'), user), 'MAX_QUERY_TOKENS');
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses a 4,000-level document while parsing, with a 400 rather than a stack overflow', async () => {
    const response = await post(server.current, nestedDocument(4_000), user);
    expectTooComplex(response, 'MAX_QUERY_TOKENS');
    expect(response.body.errors?.[0]?.message).toBe('Query token count is over the limit of 3000 (MAX_QUERY_TOKENS).');
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses depth 13; 12 passes, counting fields and not the fragments around them', async () => {
    expect((await post(server.current, deepSelection(12), user)).body.errors).toBeUndefined();
    const throughFragments = `{ bugs(first: 1) { edges { node { ...Around } } } }
      fragment Around on Bug { ... on Bug { project { bugs(first: 1) { edges { node { ...Inner } } } } } }
      fragment Inner on Bug { project { bugs(first: 1) { edges { node { id } } } } }`;
    expect((await post(server.current, throughFragments, user)).body.errors).toBeUndefined();
    const response = await post(server.current, deepSelection(13), user);
    expectTooComplex(response, 'MAX_QUERY_DEPTH');
    expect(response.body.errors?.[0]?.message).toBe('Query depth 13 is over the limit of 12 (MAX_QUERY_DEPTH).');
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses 51 directives; 50 pass', async () => {
    expect((await post(server.current, directives(50), user)).body.errors).toBeUndefined();
    const response = await post(server.current, directives(51), user);
    expectTooComplex(response, 'MAX_QUERY_DIRECTIVES');
    expect(response.body.errors?.[0]?.message).toBe(
      'Query directive count 51 is over the limit of 50 (MAX_QUERY_DIRECTIVES).',
    );
    await expectAnswersAtOnce(server.current, user);
  });

  it("answers introspection outside production, GraphiQL's full query included", async () => {
    const query = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true });
    const response = await post(server.current, query, user);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toMatchObject({ __schema: { queryType: { name: 'Query' } } });
  });

  it('suggests field names outside production', async () => {
    const response = await post(server.current, '{ me { nmae } }', user);
    expect(response.body.errors?.[0]?.message).toBe('Cannot query field "nmae" on type "User". Did you mean "name"?');
  });

  describe('over WebSocket', () => {
    let client: Client;
    let notifications: { close(): void };
    let closed: () => boolean;

    // The client closes a socket once nothing is subscribed; a subscription that stays open keeps
    // it, so a close seen here is the server's doing.
    beforeEach(() => {
      client = connect(server.current, user);
      let seen = false;
      client.on('closed', () => (seen = true));
      closed = () => seen;
      notifications = subscribe(client, ops.OnNotification, {});
    });
    afterEach(async () => {
      notifications.close();
      await client.dispose();
    });

    it('refuses a 4,000-level document with an error for that operation, and the socket and its other subscriptions live on', async () => {
      const { eventCursor } = await server.current.ok(ops.EventCursor, {}, user.token);
      const changes = subscribe(client, ops.OnBugChanged, { projectId, after: eventCursor });

      const errors = await errorsOver(client, nestedDocument(4_000));
      expect(errors).toEqual([
        expect.objectContaining({
          message: 'Query token count is over the limit of 3000 (MAX_QUERY_TOKENS).',
          extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'MAX_QUERY_TOKENS' }) as unknown,
        }),
      ]);

      const bug = await createBug(server.current, user, projectId);
      expect((await changes.next()).bugChanged.bug.id).toBe(bug.id);
      expect((await client.iterate({ query: '{ me { id } }' }).next()).value).toEqual({
        data: { me: { id: user.id } },
      });
      expect(closed()).toBe(false);
      changes.close();
    });

    it("costs a subscription's selection, as for each event", async () => {
      const errors = await errorsOver(
        client,
        `subscription { bugChanged(projectId: "${projectId}") { bug { project {
          bugs(first: 100) { edges { node { comments(first: 100) { edges { node { author { name } } } } } } }
        } } } }`,
      );
      expect(errors).toEqual([
        expect.objectContaining({
          extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'MAX_QUERY_COST' }) as unknown,
        }),
      ]);
      expect((await client.iterate({ query: '{ me { id } }' }).next()).value).toEqual({
        data: { me: { id: user.id } },
      });
      expect(closed()).toBe(false);
    });

    it('refuses depth and aliases as over HTTP', async () => {
      const deep = await errorsOver(client, deepSelection(13));
      expect(deep[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'MAX_QUERY_DEPTH' });
      const aliases = await errorsOver(client, aliased(31, 'me { id }'));
      expect(aliases[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'MAX_QUERY_ALIASES' });
      expect(closed()).toBe(false);
    });
  });
});

describe('operation limits with INTROSPECTION=false', () => {
  const server = useServer({ INTROSPECTION: 'false' });
  let user: TestUser;

  beforeAll(async () => {
    user = await signUp(server.current, 'no-introspection');
  });

  it('refuses introspection over HTTP, but still answers __typename', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Bug") { name } }']) {
      const response = await post(server.current, query, user);
      expect(response.status).toBe(400);
      expect(response.body.data).toBeUndefined();
      expect(response.body.errors?.[0]?.message).toMatch(/^GraphQL introspection has been disabled/);
    }
    expect((await post(server.current, '{ __typename }', user)).body).toEqual({ data: { __typename: 'Query' } });
    await expectAnswersAtOnce(server.current, user);
  });

  it('refuses introspection over WebSocket too', async () => {
    const client = connect(server.current, user);
    try {
      const errors = await errorsOver(client, '{ __schema { queryType { name } } }');
      expect(errors[0]?.message).toMatch(/^GraphQL introspection has been disabled/);
      expect((await client.iterate({ query: '{ me { id } }' }).next()).value).toEqual({
        data: { me: { id: user.id } },
      });
    } finally {
      await client.dispose();
    }
  });
});

describe('operation limits in production', () => {
  const server = useServer({ NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-at-least-32-chars' });

  it('hides field suggestions, and refuses introspection by default', async () => {
    const user = await signUp(server.current, 'production');
    const misspelt = await post(server.current, '{ me { nmae } }', user);
    expect(misspelt.body.errors?.[0]?.message).toBe('Cannot query field "nmae" on type "User".');
    const badEnum = await post(server.current, '{ bugs(filter: { status: [OPN] }) { totalCount } }', user);
    expect(badEnum.body.errors?.[0]?.message).toBe('Value "OPN" does not exist in "BugStatus" enum.');
    const badEnumVariable = await post(
      server.current,
      'query($s: [BugStatus!]) { bugs(filter: { status: $s }) { totalCount } }',
      user,
      { s: ['OPN'] },
    );
    expect(badEnumVariable.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
    expect(badEnumVariable.body.errors?.[0]?.message).toMatch(/OPN/);
    const introspection = await post(server.current, '{ __schema { queryType { name } } }', user);
    expect(introspection.body.errors?.[0]?.message).toMatch(/^GraphQL introspection has been disabled/);
    await expectAnswersAtOnce(server.current, user);
  });
});

describe('operation limits switched off with 0', () => {
  const server = useServer({
    MAX_QUERY_TOKENS: '0',
    MAX_QUERY_DEPTH: '0',
    MAX_QUERY_ALIASES: '0',
    MAX_QUERY_DIRECTIVES: '0',
    MAX_QUERY_COST: '0',
  });
  let user: TestUser;

  beforeAll(async () => {
    user = await signUp(server.current, 'unlimited');
    const project = await createProject(server.current, user);
    await createBug(server.current, user, project.id);
  });

  it.each([
    ['a cost over 10,000', COSTLY, { n: 100 }],
    ['31 aliases', aliased(31, 'me { id }'), {}],
    ['depth 13', deepSelection(13), {}],
    ['51 directives', directives(51), {}],
    ['over 3,000 tokens', aliased(1_100, '__typename'), {}],
  ])('lets %s through', async (_case, query, variables) => {
    const response = await post(server.current, query, user, variables);
    expect(response.body.errors).toBeUndefined();
    expect(response.status).toBe(200);
  });

  it('still answers a document too deep for the parser with QUERY_TOO_COMPLEX, not a stack overflow', async () => {
    const response = await post(server.current, nestedDocument(4_000), user);
    expect(response.status).not.toBe(500);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX' });
    expect(JSON.stringify(response.body)).not.toMatch(/call stack/i);
  });
});
