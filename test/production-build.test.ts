import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT, run, waitForPort, waitForPortClosed } from './helpers/process';
import { createStorage, type Storage } from './helpers/server';

/** What the Dockerfile does, step by step, in a folder of its own: build, then a production install. */
describe('the production build', () => {
  let folder: string;
  let storage: Storage;
  beforeAll(async () => {
    folder = await fs.mkdtemp(path.join(os.tmpdir(), 'bugzapp-build-'));
    storage = await createStorage();
  });
  afterAll(async () => {
    await storage.dispose();
    await fs.rm(folder, { recursive: true, force: true });
  });

  it('runs as `node dist/main.js` with production dependencies only: no TypeScript, no tsx', async () => {
    const tsc = run(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        ...['-p', 'tsconfig.build.json', '--outDir', path.join(folder, 'dist')],
        ...['--tsBuildInfoFile', path.join(folder, 'dist/.tsbuildinfo')],
      ],
      {},
    );
    expect(await tsc.exited).toBe(0);
    for (const file of ['package.json', 'package-lock.json', 'prisma/migrations', 'scripts/build-if-needed.mjs']) {
      await fs.cp(path.join(ROOT, file), path.join(folder, file), { recursive: true });
    }
    const install = run(
      'npm',
      ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      {},
      folder,
    );
    expect(await install.exited).toBe(0);
    for (const devTool of ['typescript', 'tsx', 'prisma', 'jest']) {
      await expect(fs.access(path.join(folder, 'node_modules', devTool))).rejects.toThrow('ENOENT');
    }
    // What `npm start` runs first: with no TypeScript here, the shipped build is used as it is.
    expect(await run(process.execPath, ['scripts/build-if-needed.mjs'], {}, folder).exited).toBe(0);

    const port = await freePort();
    const server = run(
      process.execPath,
      ['dist/main.js'],
      {
        NODE_ENV: 'production',
        JWT_SECRET: 'a production secret of at least thirty-two characters',
        PORT: String(port),
        DATA_DIR: storage.dataDir,
        DATABASE_URL: storage.databaseUrl,
      },
      folder,
    );
    try {
      await waitForPort(port, server);
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query:
            'mutation { signUp(input: { email: "ops@example.com", name: "Ops", password: "long enough" }) { user { role } } }',
        }),
      });
      expect(await response.json()).toEqual({ data: { signUp: { user: { role: 'ADMIN' } } } });
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  }, 180_000);

  it('is what `npm start` builds and serves, and SIGTERM sent to npm stops the server', async () => {
    const port = await freePort();
    const npm = run('npm', ['start', '--silent'], {
      PORT: String(port),
      DATA_DIR: storage.dataDir,
      DATABASE_URL: storage.databaseUrl,
    });
    await waitForPort(port, npm, 60_000);
    npm.child.kill('SIGTERM');
    await npm.exited;
    // The server itself (not only npm) goes: soon nothing listens, and the data directory is free.
    await waitForPortClosed(port);
    await expect(fetch(`http://127.0.0.1:${port}/graphql`)).rejects.toThrow();
    await waitFor(async () => !(await exists(path.join(storage.dataDir, 'bugzapp.lock'))));
  }, 90_000);
});

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Still not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
