// Abuse resistance: how a normal client fares while one hostile client throws query bombs and
// WebSocket floods at the server, with the server's limits on (its defaults) and, for comparison,
// with every limit switched off.
//
//   npm run bench:attack            # 10 s phases
//   npm run bench:attack -- 20      # phase length in seconds (3..25)
//
// The server runs as a child process (bench/server-process.ts: `node --import tsx src/main.ts`
// plus a memory probe), so its RSS is its own; the hostile client runs in another
// (bench/attack-client.ts); the normal client runs here.
// One data folder, three server starts: one to seed (no rate limits), one with every limit at its
// default, one with every limit at 0.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { HostileCommand, HostileReport, Tally } from './attack-client';
import { SCREEN } from './queries-documents';
import {
  AddComment,
  causeOf,
  AddProjectMember,
  CreateBug,
  CreateProject,
  inParallel,
  killOnExit,
  load1,
  machineLine,
  mib,
  ok,
  percentile,
  post,
  projectKey,
  runId,
  signUp,
  sleep,
  startServer,
  temporaryDir,
  type ServerProcess,
} from './server-process';

const BUGS = 200;
const COMMENTS_PER_BUG = 3;
/** The normal client sends at most one request per this many ms: 20/s, within its 600/min budget for a 25 s phase. */
const NORMAL_INTERVAL_MS = 50;
const HTTP_WORKERS = 4;
const FLOOD_WORKERS = 2;
/** Each unlimited attack's cut-off, and the unlimited phase's. */
const ONCE_TIMEOUT_MS = 30_000;
const ONCE_PHASE_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 10 * 60_000;

/** Every limit in src/config.ts LIMITS, switched off. */
const NO_LIMITS = Object.fromEntries(
  [
    'MAX_QUERY_TOKENS',
    'MAX_QUERY_DEPTH',
    'MAX_QUERY_ALIASES',
    'MAX_QUERY_DIRECTIVES',
    'MAX_QUERY_COST',
    'MAX_BODY_BYTES',
    'WS_MAX_PAYLOAD_BYTES',
    'WS_MAX_SUBSCRIPTIONS_PER_SOCKET',
    'WS_MAX_MESSAGES_PER_SECOND',
    'WS_MAX_SOCKETS_PER_USER',
    'WS_MAX_BUFFERED_BYTES',
    'RATE_LIMIT_SIGNIN_PER_IP',
    'RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT',
    'RATE_LIMIT_OPERATIONS_PER_USER',
  ].map((name) => [name, '0']),
);

interface Seeded {
  normalTokens: string[];
  hostileToken: string;
}

interface PhaseResult {
  server: string;
  phase: string;
  seconds: number;
  latencies: number[];
  /** When each of `latencies` was sent (ms since the epoch). */
  sentAt: number[];
  /** Each failed request: what it was, and when it failed (ms since the epoch). */
  failures: { what: string; at: number }[];
  peakRss: number;
  loadStart: string;
  loadEnd: string;
  serverErrors: number;
}

class Hostile {
  readonly #child: ChildProcess;
  constructor() {
    this.#child = fork(path.join(__dirname, 'attack-client.ts'), [], { execArgv: ['--import', 'tsx'] });
    killOnExit(this.#child);
  }
  start(command: HostileCommand): void {
    this.#child.send(command);
  }
  /** The report `once` sends when done, or the one `stop` asks for. */
  report(stop: boolean): Promise<HostileReport> {
    return new Promise((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`The hostile client exited (${code})`));
      this.#child.once('exit', exited);
      this.#child.once('message', (report: HostileReport) => {
        this.#child.off('exit', exited);
        resolve(report);
      });
      if (stop) this.#child.send({ kind: 'stop' } satisfies HostileCommand);
    });
  }
  kill() {
    this.#child.kill('SIGKILL');
  }
}

/** The normal client: the screen query, at most every NORMAL_INTERVAL_MS, until `until()` says stop. */
async function normalClient(
  url: string,
  token: string,
  until: () => boolean,
): Promise<{ latencies: number[]; sentAt: number[]; failures: { what: string; at: number }[] }> {
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const failures: { what: string; at: number }[] = [];
  while (!until()) {
    const next = sleep(NORMAL_INTERVAL_MS);
    const at = Date.now();
    const started = performance.now();
    let failure: string | undefined;
    try {
      const answer = await post(url, SCREEN, {}, token);
      const code = answer.errors?.[0]?.extensions?.code;
      if (answer.errors !== undefined || answer.status !== 200)
        failure = typeof code === 'string' ? code : String(answer.status);
    } catch (error) {
      failure = `network error: ${causeOf(error)}`;
    }
    // A failed request counts too, with the time it took to fail.
    latencies.push(performance.now() - started);
    sentAt.push(at);
    if (failure !== undefined) failures.push({ what: failure, at: Date.now() });
    await next;
  }
  return { latencies, sentAt, failures };
}

async function seed(url: string): Promise<Seeded> {
  const id = runId();
  const owner = await signUp(url, `owner-${id}@bench.dev`, 'Owner');
  const { createProject } = await ok<{ createProject: { project: { id: string } } }>(
    url,
    CreateProject,
    { input: { key: projectKey(), name: 'Attack' } },
    owner.token,
  );
  const projectId = createProject.project.id;
  const member = async (name: string) => {
    const user = await signUp(url, `${name}-${id}@bench.dev`, name);
    await ok(url, AddProjectMember, { input: { projectId, userId: user.id } }, owner.token);
    return user;
  };
  const normal: { token: string; id: string }[] = [];
  for (let i = 1; i <= 4; i++) normal.push(await member(`normal${i}`));
  const hostile = await member('hostile');
  await inParallel(
    Array.from({ length: BUGS }, (_, i) => i),
    4,
    async (i) => {
      const { createBug } = await ok<{ createBug: { bug: { id: string } } }>(
        url,
        CreateBug,
        {
          input: {
            projectId,
            title: `Bug ${i + 1}: the page flickers when it loads`,
            description: 'Steps to reproduce: open the page, wait, look. '.repeat(4),
            assigneeId: normal[i % normal.length]!.id,
          },
        },
        owner.token,
      );
      for (let c = 1; c <= COMMENTS_PER_BUG; c++) {
        await ok(
          url,
          AddComment,
          { input: { bugId: createBug.bug.id, body: `Comment ${c}: seen it here too.` } },
          normal[c % normal.length]!.token,
        );
      }
    },
  );
  return { normalTokens: normal.map((user) => user.token), hostileToken: hostile.token };
}

/** The normal client alone for `seconds`. */
async function idlePhase(server: ServerProcess, label: string, token: string, seconds: number): Promise<PhaseResult> {
  server.resetPeak();
  const loadStart = load1();
  const errorsBefore = server.stderrLines();
  const end = Date.now() + seconds * 1000;
  const normal = await normalClient(server.url, token, () => Date.now() >= end);
  return {
    server: label,
    phase: 'idle',
    seconds,
    ...normal,
    peakRss: server.peakRss(),
    loadStart,
    loadEnd: load1(),
    serverErrors: server.stderrLines() - errorsBefore,
  };
}

/** Every attack in a loop for `seconds`, with the normal client running. */
async function attackLoopPhase(
  server: ServerProcess,
  label: string,
  token: string,
  hostileToken: string,
  seconds: number,
): Promise<{ phase: PhaseResult; tallies: Tally[] }> {
  const hostile = new Hostile();
  try {
    server.resetPeak();
    const loadStart = load1();
    const errorsBefore = server.stderrLines();
    hostile.start({
      kind: 'loop',
      url: server.url,
      token: hostileToken,
      httpWorkers: HTTP_WORKERS,
      floodWorkers: FLOOD_WORKERS,
    });
    await sleep(1000); // the attack is under way before the first measured request
    const end = Date.now() + seconds * 1000;
    const normal = await normalClient(server.url, token, () => Date.now() >= end);
    const { tallies } = await hostile.report(true);
    return {
      phase: {
        server: label,
        phase: `under attack (${HTTP_WORKERS} HTTP bomb loops, ${FLOOD_WORKERS} + 1 subscribe-flood loops)`,
        seconds,
        ...normal,
        peakRss: server.peakRss(),
        loadStart,
        loadEnd: load1(),
        serverErrors: server.stderrLines() - errorsBefore,
      },
      tallies,
    };
  } finally {
    hostile.kill();
  }
}

/** Every attack once, one after the other, with the normal client running until they are done. */
async function attackOncePhase(
  server: ServerProcess,
  label: string,
  token: string,
  hostileToken: string,
  minSeconds: number,
): Promise<{ phase: PhaseResult; tallies: Tally[] }> {
  const hostile = new Hostile();
  try {
    const loadStart = load1();
    const errorsBefore = server.stderrLines();
    const started = Date.now();
    const report = hostile.report(false);
    hostile.start({
      kind: 'once',
      url: server.url,
      token: hostileToken,
      timeoutMs: ONCE_TIMEOUT_MS,
      serverPid: server.pid,
    });
    let done = false;
    const finished = Promise.race([
      report,
      sleep(ONCE_PHASE_TIMEOUT_MS).then(() => {
        throw new Error(`The unlimited attacks did not finish in ${ONCE_PHASE_TIMEOUT_MS / 1000} s`);
      }),
    ]).finally(() => (done = true));
    const normal = await normalClient(server.url, token, () => done && Date.now() - started >= minSeconds * 1000);
    const { tallies } = await finished;
    return {
      phase: {
        server: label,
        phase: 'under attack (each attack once, in turn)',
        seconds: (Date.now() - started) / 1000,
        ...normal,
        peakRss: Math.max(...tallies.map((entry) => entry.peakRss ?? 0)),
        loadStart,
        loadEnd: load1(),
        serverErrors: server.stderrLines() - errorsBefore,
      },
      tallies,
    };
  } finally {
    hostile.kill();
  }
}

async function main(): Promise<void> {
  const seconds = Math.min(25, Math.max(3, Number(process.argv[2] ?? 10) || 10));
  const deadline = setTimeout(() => {
    console.error(`Gave up after ${RUN_TIMEOUT_MS / 60_000} min.`);
    process.exit(1);
  }, RUN_TIMEOUT_MS).unref();
  const dataDir = await temporaryDir('bugzapp-bench-attack-');

  console.error('Seeding...');
  let server = await startServer(dataDir, {
    RATE_LIMIT_SIGNIN_PER_IP: '0',
    RATE_LIMIT_OPERATIONS_PER_USER: '0',
  });
  let seeded: Seeded;
  try {
    seeded = await seed(server.url);
  } finally {
    await server.stop();
  }

  const phases: PhaseResult[] = [];
  const attacks: { server: string; tallies: Tally[] }[] = [];

  console.error('Limits on (defaults)...');
  server = await startServer(dataDir, {});
  try {
    await sleep(2000);
    phases.push(await idlePhase(server, 'limits on', seeded.normalTokens[0]!, seconds));
    const attacked = await attackLoopPhase(server, 'limits on', seeded.normalTokens[1]!, seeded.hostileToken, seconds);
    phases.push(attacked.phase);
    attacks.push({ server: 'limits on', tallies: attacked.tallies });
  } finally {
    await server.stop();
  }

  console.error('Limits off...');
  server = await startServer(dataDir, NO_LIMITS);
  try {
    await sleep(2000);
    const half = Math.max(3, Math.round(seconds / 2));
    phases.push(await idlePhase(server, 'limits off', seeded.normalTokens[2]!, half));
    const attacked = await attackOncePhase(server, 'limits off', seeded.normalTokens[3]!, seeded.hostileToken, half);
    phases.push(attacked.phase);
    attacks.push({ server: 'limits off', tallies: attacked.tallies });
  } finally {
    await server.stop();
  }
  clearTimeout(deadline);
  report(phases, attacks);
}

function report(phases: PhaseResult[], attacks: { server: string; tallies: Tally[] }[]): void {
  const fixed = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
  const max = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values));
  /** The once-mode attack running at `at`, if any. */
  const during = (server: string, at: number) =>
    attacks
      .find((entry) => entry.server === server)
      ?.tallies.find((entry) => entry.startedAt !== undefined && entry.startedAt <= at && at <= entry.endedAt!)?.attack;
  console.log(
    `\nAttack benchmark: ${BUGS} bugs × ${COMMENTS_PER_BUG} comments; the normal client's screen query every ${NORMAL_INTERVAL_MS} ms at most`,
  );
  console.log(machineLine());
  console.log('\nThe normal client:\n');
  console.log(
    '| server | phase | s | requests | failed | p50 ms | p99 ms | max ms | p99 ÷ idle p99 | server peak RSS MiB | server errors logged | load 1 min start → end |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const phase of phases) {
    const idle = phases.find((other) => other.server === phase.server && other.phase === 'idle')!;
    const p99 = percentile(phase.latencies, 99);
    const failed = new Map<string, number>();
    for (const failure of phase.failures) {
      const attack = during(phase.server, failure.at);
      const what = attack === undefined ? failure.what : `${failure.what} during the ${attack}`;
      failed.set(what, (failed.get(what) ?? 0) + 1);
    }
    const failures = [...failed].map(([what, count]) => `${count} ${what}`).join(', ');
    console.log(
      `| ${phase.server} | ${phase.phase} | ${phase.seconds.toFixed(0)} | ${phase.latencies.length} | ${failures || 0} | ${fixed(percentile(phase.latencies, 50))} | ${fixed(p99)} | ${fixed(max(phase.latencies))} | ${(p99 / percentile(idle.latencies, 99)).toFixed(2)} | ${mib(phase.peakRss)} | ${phase.serverErrors} | ${phase.loadStart} → ${phase.loadEnd} |`,
    );
  }
  console.log('\nThe hostile client (how each attempt was answered):\n');
  console.log(
    '| server | attack | sent | answered with | answer ms p50 / max | server peak RSS MiB | normal client during it: requests, max ms |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const { server, tallies } of attacks) {
    const phase = phases.find((entry) => entry.server === server && entry.phase !== 'idle')!;
    for (const entry of tallies) {
      const answers = Object.entries(entry.answers)
        .sort(([, a], [, b]) => b - a)
        .map(([answer, count]) => `${answer} × ${count}`)
        .join('; ');
      // A request that started before the attack ended and finished after it started overlapped it.
      const overlapping =
        entry.startedAt === undefined
          ? []
          : phase.latencies.filter(
              (ms, i) => phase.sentAt[i]! <= entry.endedAt! && phase.sentAt[i]! + ms >= entry.startedAt!,
            );
      console.log(
        `| ${server} | ${entry.attack} | ${entry.sent} | ${answers || 'nothing'} | ${fixed(percentile(entry.ms, 50))} / ${fixed(max(entry.ms))} | ${entry.peakRss === undefined ? 'see above' : mib(entry.peakRss)} | ${entry.startedAt === undefined ? 'see above' : `${overlapping.length}, ${fixed(max(overlapping))}`} |`,
      );
    }
  }
  const on = phases.filter((phase) => phase.server === 'limits on');
  const ratio = percentile(on[1]!.latencies, 99) / percentile(on[0]!.latencies, 99);
  console.log(`\nLimits on: the normal client's p99 under attack is ${ratio.toFixed(2)} × idle (target: at most 2).`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
