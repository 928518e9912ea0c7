import fs from 'node:fs';
import path from 'node:path';
import { DEMO_USERS } from '../src/infra/demo-data';
import { postgresUrl } from './helpers/database';
import { freePort, run, waitForPort, type RunningProcess } from './helpers/process';
import { createStorage, startServer, type Storage } from './helpers/server';

// The embedded database is a directory only one process may open; PostgreSQL has no such owner.
const onPGlite = postgresUrl === undefined ? describe : describe.skip;

// Each test starts processes that load the whole app through tsx, seconds each on a busy machine.
jest.setTimeout(90_000);

const tsx = (script: string, env: NodeJS.ProcessEnv, args: string[] = []) =>
  run(process.execPath, ['--import', 'tsx', script, ...args], { NODE_ENV: 'development', ...env });

const logInAsAdmin = async (port: number) => {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation ($input: LogInInput!) { logIn(input: $input) { user { role } } }',
      variables: { input: { email: DEMO_USERS[0].email, password: DEMO_USERS[0].password } },
    }),
  });
  return (await response.json()) as { data?: { logIn: { user: { role: string } } } | null; errors?: unknown[] };
};

onPGlite('the embedded data directory', () => {
  let storage: Storage;
  const processes: RunningProcess[] = [];
  beforeEach(async () => {
    storage = await createStorage();
  });
  afterEach(async () => {
    for (const { child, exited } of processes.splice(0)) {
      child.kill('SIGKILL');
      await exited;
    }
    await storage.dispose();
  });
  const start = (script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []) => {
    const started = tsx(script, { DATA_DIR: storage.dataDir, ...env }, args);
    processes.push(started);
    return started;
  };

  it('belongs to the server using it: a second server, a seed or a migration fails at once saying what to do', async () => {
    const server = await startServer(storage);
    try {
      const others = await Promise.all(
        ['src/main.ts', 'scripts/seed.ts', 'scripts/migrate.ts'].map(async (script) => {
          const other = start(script, { PORT: String(await freePort()) });
          return { code: await other.exited, output: other.output() };
        }),
      );
      for (const other of others) {
        expect(other.code).toBe(1);
        expect(other.output).toContain(
          `The embedded database in ${storage.dataDir} is in use by the BugZapp server (pid ${process.pid}`,
        );
        expect(other.output).toContain('Stop it first');
        expect(other.output).toContain('npm start -- --seed');
      }
      // Nothing was seeded behind the server's back.
      const port = Number(new URL(server.url).port);
      expect((await logInAsAdmin(port)).errors).toHaveLength(1);
    } finally {
      await server.stop();
    }
    // Once the server has stopped, the directory is free again.
    const seed = start('scripts/seed.ts');
    expect(await seed.exited).toBe(0);
    expect(seed.output()).toContain('Seeded 4 users');
  });

  it('is not held by a server that was killed: the next one starts', async () => {
    const port = await freePort();
    const killed = start('src/main.ts', { PORT: String(port) });
    await waitForPort(port, killed);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(fs.existsSync(path.join(storage.dataDir, 'bugzapp.lock'))).toBe(true);

    const next = await startServer(storage);
    await next.stop();
  });

  it('is seeded by `npm start -- --seed` through the server that owns it, and released when it stops', async () => {
    const port = await freePort();
    const server = start('src/main.ts', { PORT: String(port) }, ['--seed']);
    await waitForPort(port, server);
    expect(server.output()).toContain('Seeded 4 users');
    expect((await logInAsAdmin(port)).data?.logIn.user.role).toBe('ADMIN');

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(fs.existsSync(path.join(storage.dataDir, 'bugzapp.lock'))).toBe(false);
  });
});
