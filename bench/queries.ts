// The query path (issue 12): how many read requests a second BugZapp answers, and how fast,
// against a hand-written node:http + `pg` server answering the byte-identical JSON from one SQL
// statement, on the same data, measured side by side in one run.
//
//   npm run bench:queries                          # PostgreSQL and the embedded default, 10 s runs
//   npm run bench:queries -- --seconds 5 --db postgresql --profile
//
// Options: --seconds N (each run; 10), --connections N (autocannon's; 10), --pairs N (runs of each
// server per query, alternating with the hand-written one; 3), --db postgresql|embedded|both
// (both), --profile (also a CPU profile of BugZapp's cold path under the screen query's load),
// --against <git revision> (that revision's BugZapp cold, built in a worktree, in place of the warm
// server, each of its runs next to one of the working tree's: a change's A/B on PostgreSQL),
// --against-node <node binary> (the same, for BugZapp cold under another Node, of the working tree
// or of --against's revision: a Node line's A/B). Every other process runs on the Node that runs
// this script, so `npx -y node@24 --import tsx bench/queries.ts` measures on Node 24.
//
// Three operations (bench/queries-documents.ts): issue 12's screen (20 bugs with project, people and
// five comments each), one bug's page, and the viewer's own name (the smallest signed-in query:
// what each server spends on a request before any real work). Each is loaded by autocannon in this process against
// servers that each run as a child process: BugZapp cold (RESPONSE_CACHE=false), BugZapp warm
// (the cache's default) and the hand-written server (bench/handwritten-server.ts). PostgreSQL: a
// fresh scratch database (as the tests make) next to DATABASE_URL's (default postgresql://postgres@127.0.0.1
// :5432/postgres), dropped at the end; skipped with a message when unreachable. Embedded: a fresh
// PGlite folder that only BugZapp can open, so its rows are compared with the hand-written server
// on PostgreSQL, run alternately with it. Both are seeded through BugZapp's own GraphQL API.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createScratchDatabase } from '../test/helpers/database';
import { BUG, ME, SCREEN } from './queries-documents';
import {
  AddComment,
  AddProjectMember,
  buildRevision,
  CreateBug,
  CreateProject,
  cpuTimeMs,
  inParallel,
  killOnExit,
  load1,
  ok,
  signUp,
  startServer,
  temporaryDir,
  type ServerProcess,
} from './server-process';

const DEFAULT_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const PROJECTS = [
  { key: 'WEB', name: 'Web app' },
  { key: 'API', name: 'Public "v2" API' },
  { key: 'MOB', name: 'Mobile — beta' },
] as const;
const BUGS = 201;
const COMMENTS = 699;
/** Who is in which project (by index into PROJECTS); Ada, in all three, is the member who reads. */
const PEOPLE = [
  { name: 'Ada Lovelace', projects: [0, 1, 2] },
  { name: 'Linus Torvalds', projects: [0, 2] },
  { name: 'Margaret Hamilton', projects: [1, 2] },
  { name: 'Ken Thompson', projects: [0] },
] as const;
/** Each run's start, before it is measured: JIT, connection pools, and the warm server's cache. */
const WARM_UP_SECONDS = 3;
const START_TIMEOUT_MS = 60_000;

const UpdateBugStatus = /* GraphQL */ `
  mutation BenchUpdateBugStatus($input: UpdateBugStatusInput!) {
    updateBugStatus(input: $input) {
      bug {
        id
      }
    }
  }
`;

type Database = 'PostgreSQL' | 'embedded PGlite';
type QueryName = 'screen' | 'bug' | 'me';
type ServerName = 'BugZapp cold' | 'BugZapp warm' | 'hand-written (PostgreSQL)' | `BugZapp cold at ${string}`;
const QUERIES: QueryName[] = ['screen', 'bug', 'me'];
const DATABASES: Partial<Record<string, Database[]>> = {
  postgresql: ['PostgreSQL'],
  embedded: ['embedded PGlite'],
  both: ['PostgreSQL', 'embedded PGlite'],
};

interface Options {
  seconds: number;
  connections: number;
  pairs: number;
  databases: Database[];
  profile: boolean;
  /** A git revision whose BugZapp cold runs beside the working tree's, alternating with it (PostgreSQL only). */
  against: string | undefined;
  /** A Node binary that runs that other BugZapp cold (the working tree's, without `against`). */
  againstNode: string | undefined;
}

/** What seeding left to query with: a member's token and the bug whose page is loaded. */
interface Seeded {
  token: string;
  bugId: string;
}

/** A server under load, with the request body of each query for its own data. */
interface Target {
  server: ServerName;
  database: Database;
  url: string;
  /** The server's process, whose CPU time each run reads from /proc. */
  pid: number;
  token: string;
  bodies: Record<QueryName, string>;
  /** Each query's answer as checked before measuring; a run counts any other body as mismatched. */
  expected: Partial<Record<QueryName, string>>;
}

interface Run {
  database: Database;
  query: QueryName;
  server: ServerName;
  /** Which of the alternating runs, from 1; the hand-written runs carry the number of the pair they belong to. */
  pair: number;
  /** What this run is compared with: the hand-written runs alternating with BugZapp cold or warm. */
  group: string;
  requestsPerSecond: number;
  /** The server process's CPU time (user + system) over the run, per response. */
  cpuMsPerRequest: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  mismatches: number;
  loadStart: string;
  loadEnd: string;
}

function options(): Options {
  const number = (name: string, fallback: number) => {
    const index = process.argv.indexOf(name);
    const value = index === -1 ? fallback : Number(process.argv[index + 1]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} takes a positive whole number`);
    return value;
  };
  const db = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : 'both';
  const databases = DATABASES[db ?? ''];
  if (databases === undefined) throw new Error('--db takes postgresql, embedded or both');
  return {
    seconds: number('--seconds', 10),
    connections: number('--connections', 10),
    pairs: number('--pairs', 3),
    databases,
    profile: process.argv.includes('--profile'),
    against: process.argv.includes('--against') ? process.argv[process.argv.indexOf('--against') + 1] : undefined,
    againstNode: process.argv.includes('--against-node')
      ? process.argv[process.argv.indexOf('--against-node') + 1]
      : undefined,
  };
}

/** How the runs of the other BugZapp cold (`--against`, `--against-node`) are named; undefined without one. */
function otherColdServer({ against, againstNode }: Options): ServerName | undefined {
  if (against === undefined && againstNode === undefined) return undefined;
  const node =
    againstNode === undefined ? '' : ` on Node ${execFileSync(againstNode, ['--version']).toString().trim()}`;
  return `BugZapp cold at ${against ?? 'the working tree'}${node}`;
}

/** The bench's BugZapp: production mode, the shared secret, the rate limits that would refuse the load off. */
function startBugZapp(
  dataDir: string,
  secret: string,
  databaseUrl: string | undefined,
  cache: 'cold' | 'warm' | 'seed',
  repo?: string,
  node?: string,
): Promise<ServerProcess> {
  return startServer(
    dataDir,
    {
      NODE_ENV: 'production',
      JWT_SECRET: secret,
      // One user's thousands of requests a second, and the seeding's sign-ups from one address.
      RATE_LIMIT_OPERATIONS_PER_USER: '0',
      RATE_LIMIT_SIGNIN_PER_IP: '0',
      ...(cache === 'cold' ? { RESPONSE_CACHE: 'false' } : {}),
      ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
    },
    repo,
    node,
  );
}

/** The hand-written server as a child process, like BugZapp's: `url` once it listens, `stop` for SIGTERM. */
async function startHandwritten(
  databaseUrl: string,
  secret: string,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'handwritten-server.ts')], {
    cwd: path.join(__dirname, '..'),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, JWT_SECRET: secret, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The hand-written server did not start')), START_TIMEOUT_MS);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+\/graphql)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The hand-written server exited (${code}) before listening:\n${output}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A fresh database next to `adminUrl`'s, or null (with a message) when PostgreSQL is not there. */
async function scratchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> } | null> {
  const probe = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await probe.connect();
  } catch (error) {
    console.error(`PostgreSQL at ${adminUrl} is unreachable (${(error as Error).message}): no PostgreSQL rows.`);
    return null;
  } finally {
    await probe.end().catch(() => undefined);
  }
  return createScratchDatabase(adminUrl);
}

/**
 * Issue 12's data through BugZapp's own API: an admin (the first account), Grace who owns the three
 * projects, four members, 201 bugs in turn across the projects (two in three assigned, some moved
 * on from OPEN) and 699 comments, 0 to 7 a bug. Bugs are filed one at a time, and each bug's
 * comments in order, so that both databases end up with the same screen.
 */
async function seed(url: string): Promise<Seeded> {
  await signUp(url, 'admin@bench.dev', 'Admin');
  const owner = await signUp(url, 'grace@bench.dev', 'Grace Hopper');
  const people = [];
  for (const person of PEOPLE) {
    people.push({
      ...person,
      ...(await signUp(url, `${person.name.split(' ')[0]!.toLowerCase()}@bench.dev`, person.name)),
    });
  }
  const projects = [];
  for (const { key, name } of PROJECTS) {
    const { createProject } = await ok<{ createProject: { project: { id: string } } }>(
      url,
      CreateProject,
      { input: { key, name, description: `Everything about ${name}.` } },
      owner.token,
    );
    projects.push({ id: createProject.project.id, members: [owner] });
  }
  for (const person of people) {
    for (const index of person.projects) {
      await ok(url, AddProjectMember, { input: { projectId: projects[index]!.id, userId: person.id } }, owner.token);
      projects[index]!.members.push(person);
    }
  }

  const comments = Array.from({ length: BUGS }, (_, i) => i % 8);
  for (let i = BUGS - 1, extra = comments.reduce((sum, n) => sum + n, 0) - COMMENTS; extra > 0; i--) {
    if (comments[i]! > 0) {
      comments[i] = comments[i]! - 1;
      extra--;
    }
  }
  const bugs: { id: string; members: { token: string; id: string }[] }[] = [];
  for (let i = 0; i < BUGS; i++) {
    const { members, id: projectId } = projects[i % PROJECTS.length]!;
    const reporter = members[i % members.length]!;
    const assignee = i % 3 === 0 ? null : members[(i + 1) % members.length]!;
    const { createBug } = await ok<{ createBug: { bug: { id: string } } }>(
      url,
      CreateBug,
      {
        input: {
          projectId,
          title: TITLES[i % TITLES.length]!.replace('#', `#${i + 1}`),
          description: `Steps:\n1. Open the page\n2. Click "Save" (${i})\n\nExpected: saved.\tActual: a spinner — forever.`,
          priority: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][i % 4],
          assigneeId: assignee?.id,
        },
      },
      reporter.token,
    );
    bugs.push({ id: createBug.bug.id, members });
  }
  await inParallel(
    bugs.map((bug, i) => ({ ...bug, i })),
    4,
    async ({ id, members, i }) => {
      const status = (['OPEN', 'IN_PROGRESS', 'RESOLVED', 'OPEN', 'CLOSED'] as const)[i % 5]!;
      if (status !== 'OPEN') await ok(url, UpdateBugStatus, { input: { bugId: id, status } }, members[0]!.token);
      for (let c = 0; c < comments[i]!; c++) {
        const author = members[(i + c) % members.length]!;
        const body = BODIES[(i + c) % BODIES.length]!.replace('#', `#${c + 1}`);
        await ok(url, AddComment, { input: { bugId: id, body } }, author.token);
      }
    },
  );
  // The page loaded: a bug with seven comments, assigned, filed late enough to be on the screen too.
  const target = bugs.findLastIndex((_, i) => comments[i] === 7 && i % 3 !== 0);
  return { token: people[0]!.token, bugId: bugs[target]!.id };
}

// Quotes, backslashes, tabs, newlines and non-ASCII text, so that both servers' JSON escaping is compared.
const TITLES = [
  'Login fails with "é" in the password #',
  'Export to CSV drops the last row #',
  'Crash when the title has an emoji 🐛 #',
  'Path C:\\Users\\ada is shown unescaped #',
  'Dark mode: white flash on load #',
  'Search ignores accents (café ≠ cafe) #',
  'Tab\tcharacters break the table #',
];
const BODIES = [
  'Reproduced on Firefox 131. Comment #',
  'Same here:\n  - step one\n  - step two\nStill broken. #',
  'Fixed in "main", please verify. #',
  'Not a bug — works as designed? #',
  'Logs: C:\\temp\\app.log line 42 #',
  'Ça marche chez moi 🤷 #',
];

/** One GraphQL request as a raw string, the bytes a client gets. */
async function answer(url: string, body: string, token: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** Fails loudly, showing where, unless `actual` is byte for byte `expected`. */
function assertIdentical(expected: { what: string; text: string }, actual: { what: string; text: string }): void {
  if (expected.text === actual.text) return;
  let at = 0;
  while (expected.text[at] === actual.text[at]) at++;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 80), at + 80));
  throw new Error(
    `${actual.what} differs from ${expected.what} at character ${at} (lengths ${actual.text.length} and ${expected.text.length}):\n` +
      `  ${expected.what}: …${around(expected.text)}…\n  ${actual.what}: …${around(actual.text)}…`,
  );
}

function target(
  server: ServerName,
  database: Database,
  { url, pid }: { url: string; pid: number },
  seeded: Seeded,
): Target {
  return {
    server,
    database,
    url,
    pid,
    token: seeded.token,
    bodies: {
      screen: JSON.stringify({ query: SCREEN }),
      bug: JSON.stringify({ query: BUG, variables: { id: seeded.bugId } }),
      me: JSON.stringify({ query: ME }),
    },
    expected: {},
  };
}

/**
 * Asks every target each query (twice: the second answer may come from the warm server's cache)
 * and requires a 200 with data and no errors, each target's answers identical, and the answers of
 * `identical` targets identical to each other's. What it got becomes what each run expects.
 */
async function verify(
  targets: Target[],
  identical: (query: QueryName, a: Target, b: Target) => boolean,
): Promise<void> {
  for (const query of QUERIES) {
    for (const subject of targets) {
      const what = `${subject.server} on ${subject.database}, ${query} query`;
      const first = await answer(subject.url, subject.bodies[query], subject.token);
      const parsed = JSON.parse(first.text) as { data?: unknown; errors?: unknown };
      if (first.status !== 200 || parsed.errors !== undefined || parsed.data == null) {
        throw new Error(`${what} answered ${first.status}: ${first.text.slice(0, 500)}`);
      }
      const again = await answer(subject.url, subject.bodies[query], subject.token);
      assertIdentical({ what, text: first.text }, { what: `${what} (asked again)`, text: again.text });
      subject.expected[query] = first.text;
      for (const other of targets) {
        const theirs = other.expected[query];
        if (other === subject || theirs === undefined || !identical(query, other, subject)) continue;
        assertIdentical(
          { what: `${other.server} on ${other.database}, ${query} query`, text: theirs },
          { what, text: first.text },
        );
      }
    }
  }
}

/** autocannon against one target for `seconds`. */
async function loadOnce(subject: Target, query: QueryName, seconds: number, connections: number) {
  const loadStart = load1();
  const cpuStart = cpuTimeMs(subject.pid);
  const result = await autocannon({
    url: subject.url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${subject.token}` },
    body: subject.bodies[query],
    expectBody: subject.expected[query],
  });
  return {
    requestsPerSecond: result.requests.average,
    cpuMsPerRequest: (cpuTimeMs(subject.pid) - cpuStart) / result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    mismatches: result.mismatches,
    loadStart,
    loadEnd: load1(),
  };
}

/**
 * For each query: a warm-up of every target, then `pairs` rounds of one run per target in the
 * order given (BugZapp, hand-written, ...), so that drift on the machine touches all of them alike.
 */
async function alternate(targets: Target[], group: string, options: Options, runs: Run[]): Promise<void> {
  for (const query of QUERIES) {
    for (const subject of targets) await loadOnce(subject, query, WARM_UP_SECONDS, options.connections);
    for (let pair = 1; pair <= options.pairs; pair++) {
      for (const subject of targets) {
        console.error(`${subject.database}, ${query} query: ${subject.server}, run ${pair} of ${options.pairs}...`);
        const measured = await loadOnce(subject, query, options.seconds, options.connections);
        runs.push({ database: targets[0]!.database, query, server: subject.server, pair, group, ...measured });
      }
    }
  }
}

/**
 * BugZapp cold under the screen query's load with SERVER_CPU_PROF set, then the profile's samples
 * from the measured window only (not the server's start nor the warm-up) through
 * bench/profile-summary.ts. V8 stamps samples with the monotonic clock process.hrtime reads.
 */
async function profileColdPath(
  databaseUrl: string | undefined,
  secret: string,
  seeded: { dataDir: string; seeded: Seeded },
  options: Options,
): Promise<string> {
  const dir = await temporaryDir('bugzapp-bench-queries-profile-');
  process.env.SERVER_CPU_PROF = dir;
  const server = await startBugZapp(seeded.dataDir, secret, databaseUrl, 'cold').finally(() => {
    delete process.env.SERVER_CPU_PROF;
  });
  const database: Database = databaseUrl === undefined ? 'embedded PGlite' : 'PostgreSQL';
  let window: { from: number; to: number };
  let measured: Awaited<ReturnType<typeof loadOnce>>;
  try {
    const subject = target('BugZapp cold', database, server, seeded.seeded);
    await verify([subject], () => false);
    await loadOnce(subject, 'screen', WARM_UP_SECONDS, options.connections);
    const from = Number(process.hrtime.bigint() / 1000n);
    measured = await loadOnce(subject, 'screen', options.seconds, options.connections);
    window = { from, to: Number(process.hrtime.bigint() / 1000n) };
  } finally {
    await server.stop();
  }
  const file = fs.readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`The server wrote no CPU profile into ${dir}`);
  const whole = path.join(dir, file);
  const trimmed = trimProfile(whole, window);
  const summary = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'profile-summary.ts'), trimmed ?? whole, '20'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`profile-summary exited ${code}`))));
  });
  return (
    `CPU profile of BugZapp cold on ${database} under the screen query (${options.connections} connections, ` +
    `${options.seconds} s: ${measured.requestsPerSecond.toFixed(1)} requests/s, ${measured.cpuMsPerRequest.toFixed(1)} ms of server CPU each, p50 ${measured.p50} ms, p99 ${measured.p99} ms; ` +
    `load ${measured.loadStart} → ${measured.loadEnd}), ${trimmed === null ? 'the whole profile, server start included (its clock did not line up with the load window)' : 'the load window only'}:\n\n${summary}`
  );
}

interface CpuProfile {
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Writes the samples of `profile` taken within `window` (µs, monotonic) to a new file; null if none were. */
function trimProfile(file: string, window: { from: number; to: number }): string | null {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let at = profile.startTime;
  let last = window.from;
  profile.samples.forEach((sample, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window.from || at > window.to) return;
    samples.push(sample);
    timeDeltas.push(at - last);
    last = at;
  });
  if (samples.length === 0) return null;
  const trimmed = file.replace(/\.cpuprofile$/, '.load.cpuprofile');
  fs.writeFileSync(
    trimmed,
    JSON.stringify({ ...profile, startTime: window.from, endTime: window.to, samples, timeDeltas }),
  );
  return trimmed;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function report(runs: Run[], options: Options, sizes: string[], notes: string[], machine: string): void {
  const [one, five, fifteen] = os.loadavg().map((value) => value.toFixed(2));
  console.log(
    `\nQuery path: ${PROJECTS.length} projects, ${BUGS} bugs, ${COMMENTS} comments; autocannon, ${options.connections} connections, ` +
      `${options.seconds} s a run, ${options.pairs} runs of each server alternating with the hand-written one`,
  );
  console.log(`${machine}; load average at the end ${one} / ${five} / ${fifteen} (1 / 5 / 15 min)`);
  for (const line of [...sizes, ...notes]) console.log(`- ${line}`);

  console.log(
    '\n| database | query | server | requests/s | p50 ms | p99 ms | server CPU ms per request | requests/s ÷ hand-written | p99 ÷ hand-written | CPU per request ÷ hand-written | issue 12 target (cold: ≥ 0.5 ×, p99 ≤ 2 ×) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const groups = [...new Set(runs.map((run) => `${run.database}|${run.query}|${run.group}`))];
  for (const key of groups) {
    const inGroup = runs.filter((run) => `${run.database}|${run.query}|${run.group}` === key);
    const handwritten = inGroup.filter((run) => run.server === 'hand-written (PostgreSQL)');
    const reference = {
      requestsPerSecond: median(handwritten.map((run) => run.requestsPerSecond)),
      p99: median(handwritten.map((run) => run.p99)),
      cpuMsPerRequest: median(handwritten.map((run) => run.cpuMsPerRequest)),
    };
    for (const server of [...new Set(inGroup.map((run) => run.server))]) {
      const mine = inGroup.filter((run) => run.server === server);
      const requestsPerSecond = median(mine.map((run) => run.requestsPerSecond));
      const p99 = median(mine.map((run) => run.p99));
      const cpu = median(mine.map((run) => run.cpuMsPerRequest));
      const throughput = requestsPerSecond / reference.requestsPerSecond;
      const tail = p99 / reference.p99;
      const target = server !== 'BugZapp cold' ? '' : throughput >= 0.5 && tail <= 2 ? 'met' : 'not met';
      const ratios =
        server === 'hand-written (PostgreSQL)' || handwritten.length === 0
          ? '| | | | '
          : `| ${throughput.toFixed(2)} × | ${tail.toFixed(2)} × | ${(cpu / reference.cpuMsPerRequest).toFixed(1)} × | ${target} `;
      console.log(
        `| ${mine[0]!.database} | ${mine[0]!.query} | ${server} | ${requestsPerSecond.toFixed(1)} | ${median(mine.map((run) => run.p50))} | ${p99} | ${cpu.toFixed(2)} ${ratios}|`,
      );
    }
  }
  const revision = otherColdServer(options);
  const revisionRuns = runs.filter((run) => run.server === revision);
  if (revisionRuns.length > 0) {
    console.log(
      `\nThe working tree's BugZapp cold ÷ ${revision}, run by run (each pair ran back to back, so drift on the machine touches both alike), and the median of those ratios:\n`,
    );
    console.log('| query | server CPU ms per request ÷ | requests/s ÷ | median: CPU, requests/s |');
    console.log('|---|---|---|---|');
    for (const query of QUERIES) {
      const pairs = revisionRuns
        .filter((run) => run.query === query)
        .map((base) => ({
          base,
          mine: runs.find((run) => run.query === query && run.pair === base.pair && run.server === 'BugZapp cold')!,
        }));
      if (pairs.length === 0) continue;
      const cpu = pairs.map(({ base, mine }) => mine.cpuMsPerRequest / base.cpuMsPerRequest);
      const throughput = pairs.map(({ base, mine }) => mine.requestsPerSecond / base.requestsPerSecond);
      const list = (values: number[]) => values.map((value) => `${value.toFixed(2)} ×`).join(', ');
      console.log(
        `| ${query} | ${list(cpu)} | ${list(throughput)} | ${median(cpu).toFixed(2)} ×, ${median(throughput).toFixed(2)} × |`,
      );
    }
  }
  console.log('\nEvery run, in the order run:\n');
  console.log(
    '| database | query | server | run | requests/s | p50 ms | p99 ms | server CPU ms per request | non-2xx | errors | mismatched bodies | load 1 min start → end |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const run of runs) {
    console.log(
      `| ${run.database} | ${run.query} | ${run.server} | ${run.pair} | ${run.requestsPerSecond.toFixed(1)} | ${run.p50} | ${run.p99} | ${run.cpuMsPerRequest.toFixed(2)} | ${run.non2xx} | ${run.errors} | ${run.mismatches} | ${run.loadStart} → ${run.loadEnd} |`,
    );
  }
  const failed = runs.filter((run) => run.non2xx + run.errors + run.mismatches > 0);
  console.log(
    failed.length === 0
      ? '\nEvery response of every run was a 200 with the expected body.'
      : `\n${failed.length} runs had non-2xx responses, errors or mismatched bodies: their figures are not comparable.`,
  );
}

async function analyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** Seeds a fresh database through a BugZapp started for it, then stops that server. */
async function seeded(dataDir: string, secret: string, databaseUrl: string | undefined): Promise<Seeded> {
  const server = await startBugZapp(dataDir, secret, databaseUrl, 'seed');
  try {
    const started = Date.now();
    const result = await seed(server.url);
    console.error(`Seeded in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return result;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const chosen = options();
  const secret = randomBytes(48).toString('base64url');
  // startServer passes this process's DATABASE_URL on; each server here gets its database explicitly.
  const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
  delete process.env.DATABASE_URL;
  const loadAverage = os.loadavg().map((value) => value.toFixed(2));
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const machine = `node ${process.version}, ${os.cpus().length} cores (${cpu}), load average at the start ${loadAverage.join(' / ')}`;
  const runs: Run[] = [];
  const sizes: string[] = [];
  const notes: string[] = [];
  let profile: string | undefined;

  const postgres = await scratchDatabase(adminUrl);
  let handwritten: Awaited<ReturnType<typeof startHandwritten>> | undefined;
  try {
    let reference: Target | undefined;
    let postgresSeed: { dataDir: string; seeded: Seeded } | undefined;
    let embeddedSeed: { dataDir: string; seeded: Seeded } | undefined;
    if (postgres !== null) {
      const dataDir = await temporaryDir('bugzapp-bench-queries-pg-');
      console.error('PostgreSQL: seeding through BugZapp...');
      postgresSeed = { dataDir, seeded: await seeded(dataDir, secret, postgres.url) };
      // Statistics, as autovacuum gathers them within a minute of seeding on a running server:
      // measuring before it does would time plans made without them.
      await analyze(postgres.url);
      handwritten = await startHandwritten(postgres.url, secret);
      reference = target('hand-written (PostgreSQL)', 'PostgreSQL', handwritten, postgresSeed.seeded);
      await verify([reference], () => false);
      for (const query of QUERIES) {
        sizes.push(`${query} query: ${Buffer.byteLength(reference.expected[query]!)} bytes of JSON`);
      }
    }

    if (
      postgres !== null &&
      postgresSeed !== undefined &&
      reference !== undefined &&
      chosen.databases.includes('PostgreSQL')
    ) {
      const { dataDir, seeded: data } = postgresSeed;
      // With --against or --against-node, the other BugZapp cold takes the warm server's place.
      const otherCold = otherColdServer(chosen);
      const revision = chosen.against === undefined ? undefined : await buildRevision(chosen.against);
      const servers = [
        await startBugZapp(dataDir, secret, postgres.url, 'cold'),
        await startBugZapp(
          dataDir,
          secret,
          postgres.url,
          otherCold === undefined ? 'warm' : 'cold',
          revision,
          chosen.againstNode,
        ),
      ];
      try {
        const cold = target('BugZapp cold', 'PostgreSQL', servers[0]!, data);
        const other = target(otherCold ?? 'BugZapp warm', 'PostgreSQL', servers[1]!, data);
        // Every answer on PostgreSQL must be the hand-written server's, byte for byte.
        await verify([reference, cold, other], () => true);
        await alternate(
          otherCold === undefined ? [cold, reference, other] : [other, cold, reference],
          'PostgreSQL',
          chosen,
          runs,
        );
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
    }

    if (otherColdServer(chosen) !== undefined && chosen.databases.includes('embedded PGlite')) {
      notes.push('--against and --against-node compare on PostgreSQL only: the embedded database was left out.');
    } else if (chosen.databases.includes('embedded PGlite')) {
      const dataDir = await temporaryDir('bugzapp-bench-queries-pglite-');
      console.error('Embedded PGlite: seeding through BugZapp...');
      embeddedSeed = { dataDir, seeded: await seeded(dataDir, secret, undefined) };
      if (reference === undefined)
        notes.push('PostgreSQL was unreachable: the embedded rows have no hand-written reference.');
      // One process owns the folder: BugZapp cold, then BugZapp warm, each alternating with the
      // hand-written server on PostgreSQL.
      for (const cache of ['cold', 'warm'] as const) {
        const server = await startBugZapp(dataDir, secret, undefined, cache);
        try {
          const subject = target(`BugZapp ${cache}`, 'embedded PGlite', server, embeddedSeed.seeded);
          // The same screen and `me`, byte for byte, as on PostgreSQL; the bug's page differs in its dates.
          await verify(reference === undefined ? [subject] : [reference, subject], (query) => query !== 'bug');
          await alternate(
            reference === undefined ? [subject] : [subject, reference],
            `embedded ${cache}`,
            chosen,
            runs,
          );
        } finally {
          await server.stop();
        }
      }
    }

    if (chosen.profile) {
      console.error('Profiling BugZapp cold under the screen query...');
      if (postgresSeed === undefined && embeddedSeed === undefined) {
        const dataDir = await temporaryDir('bugzapp-bench-queries-pglite-');
        embeddedSeed = { dataDir, seeded: await seeded(dataDir, secret, undefined) };
      }
      profile = await profileColdPath(postgres?.url, secret, (postgresSeed ?? embeddedSeed)!, chosen);
    }
  } finally {
    await handwritten?.stop();
    await postgres?.drop();
  }
  report(runs, chosen, sizes, notes, machine);
  if (profile !== undefined) console.log(`\n${profile}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
