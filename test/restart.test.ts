import * as ops from './operations';
import { createBug, createProject, PASSWORD, signUp } from './helpers/fixtures';
import { createStorage, startServer, type Storage } from './helpers/server';

describe('a restart', () => {
  let storage: Storage;
  afterAll(() => storage?.dispose());

  it('keeps every row and every token (the development secret is kept in the data folder)', async () => {
    storage = await createStorage();
    const before = await startServer(storage);
    const user = await signUp(before, 'persistent');
    const project = await createProject(before, user);
    const bug = await createBug(before, user, project.id, { title: 'Survives restarts' });
    await before.ok(ops.AddComment, { input: { bugId: bug.id, body: 'still here' } }, user.token);
    await before.stop();

    const after = await startServer(storage);
    try {
      const { bug: reloaded } = await after.ok(ops.Bug, { id: bug.id }, user.token);
      expect(reloaded).toMatchObject({ key: bug.key, title: 'Survives restarts', reporter: { id: user.id } });
      expect(reloaded.comments.edges.map((edge) => edge.node.body)).toEqual(['still here']);
      const login = await after.ok(ops.LogIn, { input: { email: user.email, password: PASSWORD } });
      expect(login.logIn.user.id).toBe(user.id);
      // Numbering carries on where it stopped.
      const next = await createBug(after, user, project.id);
      expect(next.number).toBe(2);
    } finally {
      await after.stop();
    }
  });

  it('with a configured JWT_SECRET, honours tokens signed with it and no others', async () => {
    const secret = 'a-configured-secret-that-is-long-enough-for-hs256';
    const first = await startServer(storage, { JWT_SECRET: secret });
    const user = await signUp(first, 'configured');
    await first.stop();

    const same = await startServer(storage, { JWT_SECRET: secret });
    try {
      expect((await same.ok(ops.Me, {}, user.token)).me?.id).toBe(user.id);
    } finally {
      await same.stop();
    }
    const rotated = await startServer(storage, { JWT_SECRET: `${secret}-rotated` });
    try {
      const result = await rotated.request(ops.Me, {}, user.token);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await rotated.stop();
    }
  });
});
