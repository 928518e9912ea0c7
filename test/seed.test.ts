import { openDatabase } from '../src/infra/db';
import { migrate } from '../src/infra/migrations';
import { DEMO_USERS, seedDemoData } from '../src/infra/demo-data';
import * as ops from './operations';
import { createStorage, startServer, type Storage } from './helpers/server';

describe('npm run seed', () => {
  let storage: Storage;
  afterAll(() => storage?.dispose());

  it('loads demo data whose README logins work, with bugs in every status, and only into an empty database', async () => {
    storage = await createStorage();
    const db = await openDatabase(storage);
    await migrate(db);
    expect(await seedDemoData(db)).toBe(true);
    expect(await seedDemoData(db)).toBe(false);
    await db.close();

    const server = await startServer(storage);
    try {
      const roles: string[] = [];
      for (const user of DEMO_USERS) {
        const { logIn } = await server.ok(ops.LogIn, { input: { email: user.email, password: user.password } });
        const { me } = await server.ok(ops.Me, {}, logIn.token);
        roles.push(me!.role);
      }
      expect(roles).toEqual(DEMO_USERS.map((user) => user.role));

      const admin = await server.ok(ops.LogIn, {
        input: { email: DEMO_USERS[0].email, password: DEMO_USERS[0].password },
      });
      const { bugs } = await server.ok(ops.Bugs, { first: 100 }, admin.logIn.token);
      expect(new Set(bugs.edges.map((edge) => edge.node.status))).toEqual(
        new Set(['OPEN', 'IN_PROGRESS', 'RESOLVED', 'CLOSED']),
      );
      const { projects } = await server.ok(ops.Projects, {}, admin.logIn.token);
      expect(projects.totalCount).toBe(2);
      // A new bug continues each project's numbering.
      const project = projects.edges.find((edge) => edge.node.key === 'WEB')!.node;
      const { createBug } = await server.ok(
        ops.CreateBug,
        { input: { projectId: project.id, title: 'After seeding' } },
        admin.logIn.token,
      );
      expect(createBug.bug.key).toBe('WEB-5');
    } finally {
      await server.stop();
    }
  });
});
