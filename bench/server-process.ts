// What bench/attack.ts and bench/slow-consumers.ts share: the real server started as a child
// process (so its memory is its own and can be read from /proc), a GraphQL-over-HTTP call, the
// numbers they print (percentiles, load averages, MiB) and clean-up that runs even on failure.
import { execFile, execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const REPO = path.join(__dirname, '..');
/** Absolute, so that a server built from another revision (buildRevision) loads this one. */
const PROBE = path.join(__dirname, 'server-probe.mjs');
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ServerProcess {
  readonly pid: number;
  /** `http://localhost:<port>/graphql`. */
  readonly url: string;
  /** The same endpoint as `ws://`. */
  readonly wsUrl: string;
  /** The server's resident memory now (VmRSS), in bytes. */
  rss(): number;
  /** The server's peak resident memory (VmHWM) since it started or since the last `resetPeak`, in bytes. */
  peakRss(): number;
  /** Starts a new peak (writes 5 to /proc/<pid>/clear_refs). */
  resetPeak(): void;
  /**
   * Live memory after a full garbage collection, in bytes (through bench/server-probe.mjs): V8's heap
   * in use, and `external` (Buffers, ArrayBuffers, PGlite's WebAssembly memory); and the longest
   * the event loop was blocked since the previous call (`eventLoopMaxMs`), and the longest garbage
   * collection pause meanwhile (`gcPauseMaxMs`). With `release`, the collection also gives the
   * pages it freed back to the system (Node 22 and later), for an RSS that is the process's, not
   * what its heap kept from earlier work.
   */
  liveMemory(options?: { release?: boolean }): Promise<Probe>;
  /** Lines the server wrote to stderr so far (its logged errors). */
  stderrLines(): number;
  /** The last few KB of the server's output, for a failure message. */
  tail(): string;
  /** SIGTERM, then SIGKILL if it has not exited in 10 s. */
  stop(): Promise<void>;
}

/** What bench/server-probe.mjs reports. */
export interface Probe {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  eventLoopMaxMs: number;
  gcPauseMaxMs: number;
  /** The longest pause's kind: minor (a scavenge), major, incremental (marking steps), weak callbacks. */
  gcPauseMaxKind: string;
  /** Every collection since the last report, by kind: how many, and their time in all (ms). */
  gcs: Record<string, { count: number; ms: number }>;
  /** The longest hold by the probe's own 5 ms timer, and the process's CPU time (ms) in it. */
  longestHold: Hold;
  /** The hold in which the process used the most CPU time. */
  busiestHold: Hold;
}

/** One wait of the probe's timer: how long it was, and the server's CPU time (user + system) in it. */
export interface Hold {
  wallMs: number;
  cpuMs: number;
}

const running = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
// Whatever happens to this process, no server outlives it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const cleanup of cleanups) cleanup();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

/** Removes `dir` when this process exits, however it exits. */
export function removeOnExit(dir: string): void {
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
}

/** A temporary folder that is removed when this process exits. */
export async function temporaryDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  removeOnExit(dir);
  return dir;
}

/** Kills `child` when this process exits, if it is still running then. */
export function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

let built: Promise<unknown> | undefined;

/**
 * Compiles the server (`npm run build`) once per benchmark run, so that what is measured is what
 * is deployed: `node dist/main.js`. (Run through tsx instead, every closure gets a name property
 * from esbuild's keepNames: 2.5 KiB more per WebSocket connection, and CPU time to set them.)
 */
export function buildServer(): Promise<unknown> {
  built ??= compile(REPO);
  return built;
}

const run = promisify(execFile);

/** `npm run build` in `dir`, with this tree's TypeScript. */
function compile(dir: string): Promise<unknown> {
  return run(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: dir,
  });
}

/**
 * Another revision of the server, built as this one is, for a benchmark to run beside the working
 * tree's: a detached git worktree of `ref` in a temporary folder (removed when this process exits)
 * that shares this tree's node_modules, with its own Prisma Client and `dist/`. Returns the
 * folder, for startServer's `repo`.
 */
export async function buildRevision(ref: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bugzapp-bench-revision-'));
  await run('git', ['worktree', 'add', '--detach', dir, ref], { cwd: REPO });
  cleanups.push(() => {
    try {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: REPO, stdio: 'ignore' });
    } catch {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  await fsp.symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  await run(process.execPath, ['scripts/prisma-generate.mjs'], { cwd: dir });
  await compile(dir);
  return dir;
}

/**
 * Builds the server if this run has not yet, then starts `node dist/main.js` with PORT=0,
 * GRAPHIQL=false, `dataDir`, DATABASE_URL and REDIS_URL from this process when set, and `env` (limits) on top; nothing else of this process's
 * environment, so a limit set in the shell cannot slip into a figure. Resolves once it listens.
 */
export async function startServer(
  dataDir: string,
  env: Record<string, string>,
  /** Where to run `dist/main.js` from: this working tree, or a revision's from buildRevision. */
  repo: string = REPO,
  /** The Node binary that runs it: this process's unless told. */
  node: string = process.execPath,
): Promise<ServerProcess> {
  if (repo === REPO) await buildServer();
  const probeFile = `${dataDir}-probe.jsonl`;
  removeOnExit(probeFile);
  // SERVER_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops.
  const profile = process.env.SERVER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SERVER_CPU_PROF}`] : [];
  // BENCH_SERVER_NODE_FLAGS: more Node or V8 flags for the server (space-separated), to try one.
  const flags = process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(node, [...flags, ...profile, '--expose-gc', '--import', PROBE, 'dist/main.js'], {
    cwd: repo,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      ...env,
      BENCH_PROBE_FILE: probeFile,
      // BENCH_HEAP_DIR=<dir>: a heap snapshot at every memory report (see server-probe.mjs).
      ...(process.env.BENCH_HEAP_DIR ? { BENCH_HEAP_DIR: process.env.BENCH_HEAP_DIR } : {}),
      // BENCH_HOLDS_FILE=<file>, BENCH_HOLDS_OVER_MS: every long hold, with its clock times (see server-probe.mjs).
      ...(process.env.BENCH_HOLDS_FILE ? { BENCH_HOLDS_FILE: process.env.BENCH_HOLDS_FILE } : {}),
      ...(process.env.BENCH_HOLDS_OVER_MS ? { BENCH_HOLDS_OVER_MS: process.env.BENCH_HOLDS_OVER_MS } : {}),
      PORT: '0',
      DATA_DIR: dataDir,
      GRAPHIQL: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let output = '';
  let stderrLines = 0;
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-8192));
  child.stdout.on('data', keep);
  child.stderr.on('data', (chunk: Buffer) => {
    keep(chunk);
    stderrLines += chunk.toString('utf8').split('\n').length - 1;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`The server did not start in ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    // Only until the line comes: the server logs every request, and a listener that kept all of
    // it and searched it again for every chunk would slow this process down to where it read the
    // server's stdout too late, and the server, whose log writes wait for the pipe, with it.
    let line = '';
    const listening = (chunk: Buffer) => {
      line = (line + chunk.toString('utf8')).slice(-4096);
      const match = /listening on (http:\/\/\S+\/graphql)/.exec(line);
      if (match) {
        child.stdout.off('data', listening);
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', listening);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The server exited (${code}) before listening:\n${output}`));
    });
  });

  const status = (field: 'VmRSS' | 'VmHWM') => {
    try {
      const text = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
      return kib === undefined ? NaN : Number(kib) * 1024;
    } catch {
      return NaN; // gone
    }
  };
  return {
    pid: child.pid!,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    rss: () => status('VmRSS'),
    peakRss: () => status('VmHWM'),
    resetPeak: () => fs.writeFileSync(`/proc/${child.pid}/clear_refs`, '5'),
    async liveMemory({ release = false } = {}) {
      const lines = () =>
        fs.existsSync(probeFile) ? fs.readFileSync(probeFile, 'utf8').split('\n').filter(Boolean) : [];
      const before = lines().length;
      child.kill(release ? 'SIGWINCH' : 'SIGUSR2');
      for (let waited = 0; waited < 30_000; waited += 20) {
        const all = lines();
        if (all.length > before) return JSON.parse(all.at(-1)!) as Probe;
        await sleep(20);
      }
      throw new Error('The server did not report its memory in 30 s');
    },
    stderrLines: () => stderrLines,
    tail: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Samples the server's VmRSS every `everyMs` until stopped. */
export function sampleRss(
  server: ServerProcess,
  everyMs: number,
): { samples: { at: number; rss: number }[]; stop(): void } {
  const samples: { at: number; rss: number }[] = [];
  const take = () => samples.push({ at: Date.now(), rss: server.rss() });
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      take();
    },
  };
}

export interface HttpAnswer<Data> {
  status: number;
  data?: Data | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  ms: number;
}

/** One GraphQL operation over HTTP; never throws for an HTTP or GraphQL error, only for a network one. */
export async function post<Data>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  signal?: AbortSignal,
): Promise<HttpAnswer<Data>> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  try {
    const body = JSON.parse(text) as Pick<HttpAnswer<Data>, 'data' | 'errors'>;
    return { status: response.status, data: body.data, errors: body.errors, ms };
  } catch {
    return { status: response.status, errors: [{ message: text.slice(0, 200) }], ms };
  }
}

/** What fetch's "fetch failed" was: ECONNRESET, "other side closed", ... */
export function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** Like `post`, but throws on any error and returns the data: for seeding. */
export async function ok<Data>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<Data> {
  const answer = await post<Data>(url, query, variables, token);
  if (answer.errors !== undefined || answer.data == null) {
    throw new Error(`${query.trim().split('\n')[0]} failed (${answer.status}): ${JSON.stringify(answer.errors)}`);
  }
  return answer.data;
}

/**
 * A process's CPU time so far (user + system), in ms: from /proc/<pid>/stat, in clock ticks of
 * 10 ms (Linux's USER_HZ). Other work on the cores moves it less than it moves throughput.
 */
export function cpuTimeMs(pid: number): number {
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The p-th percentile of `values` (nearest rank), NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
export const load1 = () => os.loadavg()[0]!.toFixed(2);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The line under each table: what the figures ran on. */
export function machineLine(): string {
  const [one, five, fifteen] = os.loadavg().map((value) => value.toFixed(2));
  return `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), load average ${one} / ${five} / ${fifteen} (1 / 5 / 15 min), ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}${process.env.REDIS_URL ? ' + Redis' : ''}`;
}

/** A run-unique suffix, so a run against a shared PostgreSQL never collides with an earlier one. */
export function runId(): string {
  return Math.random().toString(36).slice(2, 8);
}

/** 2-10 capital letters, as project keys must be. */
export function projectKey(): string {
  return Array.from({ length: 8 }, () => String.fromCharCode(65 + Math.floor(Math.random() * 26))).join('');
}

export const SignUp = /* GraphQL */ `
  mutation BenchSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      token
      user {
        id
      }
    }
  }
`;
export const CreateProject = /* GraphQL */ `
  mutation BenchCreateProject($input: CreateProjectInput!) {
    createProject(input: $input) {
      project {
        id
      }
    }
  }
`;
export const AddProjectMember = /* GraphQL */ `
  mutation BenchAddProjectMember($input: AddProjectMemberInput!) {
    addProjectMember(input: $input) {
      project {
        id
      }
    }
  }
`;
export const CreateBug = /* GraphQL */ `
  mutation BenchCreateBug($input: CreateBugInput!) {
    createBug(input: $input) {
      bug {
        id
      }
    }
  }
`;
export const AddComment = /* GraphQL */ `
  mutation BenchAddComment($input: AddCommentInput!) {
    addComment(input: $input) {
      comment {
        id
      }
    }
  }
`;

/** Signs up a user and returns their token and id. */
export async function signUp(url: string, email: string, name: string): Promise<{ token: string; id: string }> {
  const { signUp } = await ok<{ signUp: { token: string; user: { id: string } } }>(url, SignUp, {
    input: { email, name, password: 'bench-password-1' },
  });
  return { token: signUp.token, id: signUp.user.id };
}

/** Runs `work` on each item with at most `concurrency` at a time. */
export async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * A TypeScript script run as a child process that answers each command it is sent with one
 * message; commands go one at a time, so each reply answers the command before it.
 */
export class CommandedProcess<Command, Report> {
  readonly #child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(script: string) {
    this.#child = fork(script, [], { execArgv: ['--import', 'tsx'] });
    killOnExit(this.#child);
  }

  send(command: Command): Promise<Report> {
    const answer = this.#queue.then(
      () =>
        new Promise<Report>((resolve, reject) => {
          const exited = (code: number | null) =>
            reject(new Error(`${path.basename(this.#child.spawnfile)} exited (${code})`));
          this.#child.once('exit', exited);
          this.#child.once('message', (report: Report) => {
            this.#child.off('exit', exited);
            resolve(report);
          });
          this.#child.send(command as object);
        }),
    );
    this.#queue = answer.catch(() => undefined);
    return answer;
  }

  stop(): void {
    this.#child.kill();
  }
}
