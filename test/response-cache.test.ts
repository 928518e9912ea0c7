import * as ops from './operations';
import { postgresUrl } from './helpers/database';
import { createBug, createProject, errorOf, signUp, type TestUser } from './helpers/fixtures';
import { createStorage, recordSql, startServer, useServer, type TestServer } from './helpers/server';

// Repeated queries are answered from memory (RESPONSE_CACHE, on by default) until an event may
// have changed them. What a client must never see: its own write missing from a read it makes
// after the write's response, or another viewer's answer.

const titlesOf = async (server: TestServer, user: TestUser) =>
  (await server.ok(ops.Bugs, { first: 20 }, user.token)).bugs.edges.map((edge) => edge.node.title).sort();

describe('the response cache', () => {
  // A slow poll: no background read of the event table while statements are counted.
  const server = useServer({ EVENT_POLL_MS: '600000' });

  it('answers a repeated query without the database, and reads the author’s own write right after it', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    const bug = await createBug(server.current, owner, project.id, { title: 'before' });

    expect(await titlesOf(server.current, owner)).toEqual(['before']);
    const repeated = await recordSql(server.current, () => titlesOf(server.current, owner));
    // Nothing but, where other instances may share the database, a look for events they wrote.
    expect(repeated.filter((sql) => !/FROM "public"."Event"/.test(sql))).toEqual([]);
    expect(repeated.length).toBe(server.current.databaseUrl === undefined ? 0 : 1);

    await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title: 'after' } }, owner.token);
    expect(await titlesOf(server.current, owner)).toEqual(['after']);
    // A new bug changes the list too, though no cached answer held it.
    await createBug(server.current, owner, project.id, { title: 'another' });
    expect(await titlesOf(server.current, owner)).toEqual(['after', 'another']);
  });

  it('shows another member a change made by someone else in their project', async () => {
    const owner = await signUp(server.current, 'owner');
    const member = await signUp(server.current, 'member');
    const project = await createProject(server.current, owner, [member]);
    const bug = await createBug(server.current, owner, project.id, { title: 'first' });
    expect(await titlesOf(server.current, member)).toEqual(['first']);

    await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title: 'renamed' } }, owner.token);
    expect(await titlesOf(server.current, member)).toEqual(['renamed']);
  });

  it('keeps nothing for a query that selects a field marked not cacheable (eventCursor)', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    const { eventCursor: before } = await server.current.ok(ops.EventCursor, {}, owner.token);
    await createBug(server.current, owner, project.id);
    const { eventCursor: after } = await server.current.ok(ops.EventCursor, {}, owner.token);
    expect(after).not.toBe(before);
  });
});

describe('the response cache, between viewers', () => {
  const server = useServer();

  it('never gives one viewer another’s answer to the same query: other projects, an admin, a removed member', async () => {
    // The first account of a database is its admin, who reads every project.
    const dave = await signUp(server.current, 'dave');
    const [alice, bob, carol] = [
      await signUp(server.current, 'alice'),
      await signUp(server.current, 'bob'),
      await signUp(server.current, 'carol'),
    ];
    const alices = await createProject(server.current, alice, [carol]);
    const bobs = await createProject(server.current, bob);
    await createBug(server.current, alice, alices.id, { title: 'alice’s' });
    await createBug(server.current, bob, bobs.id, { title: 'bob’s' });

    // The same document and variables, one after another: each gets their own.
    expect(await titlesOf(server.current, alice)).toEqual(['alice’s']);
    expect(await titlesOf(server.current, bob)).toEqual(['bob’s']);
    expect(await titlesOf(server.current, carol)).toEqual(['alice’s']);
    const everything = await titlesOf(server.current, dave);
    expect(everything).toEqual(expect.arrayContaining(['alice’s', 'bob’s']));
    expect(await titlesOf(server.current, alice)).toEqual(['alice’s']);
    // A change in any project reaches the admin's next read.
    await createBug(server.current, bob, bobs.id, { title: 'bob’s second' });
    expect(await titlesOf(server.current, dave)).toContain('bob’s second');
    expect(await titlesOf(server.current, alice)).toEqual(['alice’s']);

    // Carol leaves Alice's project: her cached answer goes with her membership.
    await server.current.ok(
      ops.RemoveProjectMember,
      { input: { projectId: alices.id, userId: carol.id } },
      alice.token,
    );
    expect(await titlesOf(server.current, carol)).toEqual([]);
    const hidden = await createBug(server.current, alice, alices.id);
    expect(errorOf(await server.current.request(ops.Bug, { id: hidden.id }, carol.token))?.code).toBe('NOT_FOUND');
  });
});

describe('RESPONSE_CACHE=false', () => {
  const server = useServer({ RESPONSE_CACHE: 'false', EVENT_POLL_MS: '600000' });

  it('runs every query against the database', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    await createBug(server.current, owner, project.id);
    await titlesOf(server.current, owner);
    const repeated = await recordSql(server.current, () => titlesOf(server.current, owner));
    expect(repeated.length).toBeGreaterThan(0);
  });
});

const onPostgres = postgresUrl === undefined ? describe.skip : describe;

onPostgres('two instances sharing PostgreSQL', () => {
  it('read a write made through the other instance right after its response, whatever the bus does', async () => {
    // No Redis and a slow poll: only the check a cache hit makes against the table can see it.
    const storage = await createStorage();
    const env = { REDIS_URL: '', EVENT_POLL_MS: '600000' };
    const [a, b] = [await startServer(storage, env), await startServer(storage, env)];
    try {
      const owner = await signUp(a, 'owner');
      const project = await createProject(a, owner);
      const bug = await createBug(a, owner, project.id, { title: 'one' });
      expect(await titlesOf(b, owner)).toEqual(['one']);
      expect(await titlesOf(b, owner)).toEqual(['one']);

      await a.ok(ops.UpdateBug, { input: { bugId: bug.id, title: 'two' } }, owner.token);
      expect(await titlesOf(b, owner)).toEqual(['two']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await storage.dispose();
    }
  });
});
