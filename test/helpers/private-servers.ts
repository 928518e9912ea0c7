import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, run, waitForPort, type RunningProcess } from './process';

const execFileAsync = promisify(execFile);

/**
 * A redis-server of the test's own on a spare port, with nothing persisted, so the test can kill it
 * and start it again without touching the Redis other suites share.
 */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: connections stay open and nothing answers, as in a hung or unreachable server. */
  freeze(): void;
  /** SIGCONT: it answers again, everything it was sent meanwhile included. */
  thaw(): void;
  /** SIGKILL: no shutdown, connections dropped mid-command, as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was saved). */
  start(): Promise<void>;
  /** Kills it if it runs; safe to call in any state. */
  dispose(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let current: RunningProcess | undefined;
  const start = async () => {
    const redis = run(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {},
    );
    current = redis;
    await waitForPort(port, redis, 10_000);
  };
  const signal = (name: NodeJS.Signals) => {
    if (current === undefined) throw new Error('redis-server is not running');
    current.child.kill(name);
  };
  const kill = async () => {
    const redis = current;
    current = undefined;
    if (redis === undefined || redis.child.exitCode !== null) return;
    redis.child.kill('SIGKILL');
    await redis.exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    kill,
    start,
    dispose: kill,
  };
}

/** Where initdb and pg_ctl are: PG_BIN, or where Debian and Ubuntu put PostgreSQL 15's. */
const PG_BIN = process.env.PG_BIN || '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL 15 cluster of the test's own, in a temporary folder, listening on a spare port on
 * 127.0.0.1 (and a Unix socket in that folder), with trust authentication: one the test may stop
 * and restart while the shared server on 5432 carries on for the suites running beside it.
 */
export interface PrivateCluster {
  /** Its `postgres` database as the `postgres` superuser. */
  readonly url: string;
  /** `pg_ctl stop -m fast`: every connection is terminated, as in a restart or a failover. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it at once if it runs and removes its folder; safe to call in any state. */
  dispose(): Promise<void>;
}

/**
 * Runs a PostgreSQL program as the `postgres` OS user when this process is root (the server
 * refuses to run as root), as the current user otherwise.
 */
async function asPostgres(program: string, args: string[]): Promise<string> {
  const binary = path.join(PG_BIN, program);
  const [command, commandArgs] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  try {
    const { stdout } = await execFileAsync(command, commandArgs, { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${(error as Error).message}\n${stdout}${stderr}`);
  }
}

export async function startPostgresCluster(): Promise<PrivateCluster> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'bugzapp-pg-'));
  const dataDir = path.join(directory, 'data');
  const port = await freePort();
  if (process.getuid?.() === 0) await execFileAsync('chown', ['postgres:postgres', directory]);

  const start = () =>
    asPostgres('pg_ctl', [
      'start',
      '--wait',
      '--pgdata',
      dataDir,
      '--log',
      path.join(directory, 'server.log'),
      // Durability is of no use to a scratch cluster, and fsync is slow on a shared machine.
      '--options',
      `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off`,
    ]).then(() => undefined);
  const stop = (mode: 'fast' | 'immediate') =>
    asPostgres('pg_ctl', ['stop', '--wait', '--pgdata', dataDir, '--mode', mode]).then(() => undefined);

  let running = false;
  const dispose = async () => {
    if (running) await stop('immediate').catch(() => undefined);
    running = false;
    await fs.rm(directory, { recursive: true, force: true });
  };
  try {
    await asPostgres('initdb', ['--pgdata', dataDir, '--username', 'postgres', '--auth', 'trust', '--no-sync']);
    await start();
    running = true;
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await stop('fast');
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    dispose,
  };
}
