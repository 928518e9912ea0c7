// The fan-out engine's benchmark (issue 8), on the embedded database and on PostgreSQL with Redis,
// each figure next to a baseline measured in the same run:
//
//   1. fan-out of one comment to N `commentAdded` subscribers, against a raw `ws` broadcast of the
//      same bytes to N plain sockets;
//   2. unicast: one `bugAssigned` delivery with N others subscribed, against N = the smallest size;
//   3. the server's RSS per idle subscribed connection, against the raw server's;
//   4. mutation latency with N subscribers the comments do not concern, against none; and with N
//      that receive every comment, paced so the fan-outs overlap the requests;
//   5. a reconnect storm: the server restarts, N subscribers resume from their last cursors,
//      against N fresh subscribers opened at once.
//
//   npm run bench:fanout                                  # everything, both databases (see bench/README.md for the time)
//   npm run bench:fanout -- --sizes 200,1000 --db pglite  # smaller and quicker
//   npm run bench:fanout -- --help                        # every option
//
// The server is a child process (bench/server-process.ts), so its RSS is its own; so is the raw
// server (bench/fanout-raw-server.ts); the subscribers run in two more (bench/fanout-clients.ts);
// the mutations are sent from here. Definitions of every column: bench/README.md.
import type { Operation } from './fanout-clients';
import {
  addComment,
  Clients,
  commentOperations,
  deliverOnce,
  eventCursor,
  fanOut,
  freshStorm,
  machine,
  mutations,
  now,
  onScratchDatabase,
  openUnicastTarget,
  rawMemory,
  reconnectStorm,
  seed,
  SERVER_LIMITS,
  settledMemory,
  startRawServer,
  table,
  unicast,
  unreachable,
  type Memory,
  type Mutations,
  type Round,
  type Storm,
} from './fanout-scenarios';
import { cpuTimeMs, load1, percentile, sleep, startServer, temporaryDir, type Probe } from './server-process';

/** How long the subscribers sit idle while the server's event loop is watched: two keep-alive rounds. */
const IDLE_WINDOW_MS = 25_000;
/** The subscribers' users: sockets are spread over them round-robin. */
const USERS = 50;
/** Sockets one client process holds at most: under `ulimit -n` (20,000 here) with room to spare. */
const SOCKETS_PER_CLIENT_PROCESS = 12_000;

interface Options {
  sizes: number[];
  db: 'pglite' | 'postgres' | 'both';
  rounds: number;
  unicastRounds: number;
  requests: number;
  paced: number;
  paceMs: number;
  storm: number;
  stormEvents: number;
  clientProcesses: number;
  postgresUrl: string;
  redisUrl: string;
}

const HELP = `npm run bench:fanout -- [options]
  --sizes 1000,5000,10000   subscriber counts, each measured with that many attached
  --db both                 pglite, postgres (with Redis) or both
  --rounds 100              fan-out rounds per size (and raw broadcasts; a p99 of 20 is their slowest)
  --unicast-rounds 300      unicast rounds per size (a p99 of 30 is their second largest)
  --requests 200            sequential mutations per latency run
  --paced 20                mutations in the paced run (subscribers receive each)
  --pace-ms 250             one paced mutation every this many ms
  --storm 5000              subscribers in the reconnect storm (0: no storm)
  --storm-events 5          events made while they are away
  --client-processes 2      processes the subscribers are spread over
  --postgres-url postgresql://postgres@127.0.0.1:5432/postgres   where a scratch database is made (DATABASE_URL if set)
  --redis-url redis://127.0.0.1:6379                            (REDIS_URL if set)`;

function parseOptions(argv: string[]): Options {
  if (argv.includes('--help')) {
    console.log(HELP);
    process.exit(0);
  }
  const value = (name: string) => {
    const index = argv.indexOf(name);
    return index === -1 ? undefined : argv[index + 1];
  };
  const whole = (name: string, fallback: number, min = 1) => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} takes a whole number of at least ${min}`);
    return n;
  };
  const sizes = (value('--sizes') ?? '1000,5000,10000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes takes whole numbers, e.g. 1000,5000');
  const db = value('--db') ?? 'both';
  if (db !== 'pglite' && db !== 'postgres' && db !== 'both') throw new Error('--db takes pglite, postgres or both');
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    db,
    rounds: whole('--rounds', 100),
    unicastRounds: whole('--unicast-rounds', 300),
    requests: whole('--requests', 200),
    paced: whole('--paced', 20),
    paceMs: whole('--pace-ms', 250),
    storm: whole('--storm', 5000, 0),
    stormEvents: whole('--storm-events', 5),
    clientProcesses: whole('--client-processes', 2),
    postgresUrl: value('--postgres-url') ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: value('--redis-url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

// --- One pass -----------------------------------------------------------------------------------

interface Measured<T> {
  value: T;
  /** The 1-minute load average when it started. */
  load: string;
}

interface SizeResult {
  n: number;
  graphql: Measured<Round[]>;
  raw: Measured<Round[]>;
  /** Server CPU time (user + system) per delivery in µs, over all the fan-out rounds: each server's own, read from /proc. */
  cpuPerDelivery: { graphql: number; raw: number };
  /** The real server's memory with N subscribed and idle, and the raw server's with N sockets. */
  memory: Measured<{ server: Memory; rawEmpty: Memory; raw: Memory }>;
  unicast: Measured<number[]>;
  unconcerned: Measured<Mutations>;
  concerned: Measured<Mutations>;
  /** The longest the server's event loop was held up, and its longest GC pause (ms): during the fan-out rounds, and while idle. */
  blocked: {
    fanOut: number;
    fanOutGc: number;
    idle: number;
    idleGc: number;
    fanOutHolds: Pick<Probe, 'longestHold' | 'busiestHold'>;
    /** The collections during the fan-out rounds, by kind, and the server's CPU time in those rounds (ms). */
    fanOutGcs: Probe['gcs'];
    fanOutCpuMs: number;
  };
}

interface PassResult {
  title: string;
  /** The server's memory before any subscriber connected. */
  empty: Memory;
  none: Measured<Mutations>;
  unicastNone: Measured<number[]>;
  sizes: SizeResult[];
  storm: { fresh: Measured<Storm>; reconnect: Measured<Storm>; restartMs: number; events: number } | undefined;
  /** Lines the server wrote to stderr (its logged errors), and the end of its output when there were any. */
  serverErrors: number;
  serverOutput: string[];
  minutes: number;
}

const measure = async <T>(work: () => Promise<T>): Promise<Measured<T>> => {
  const load = load1();
  return { value: await work(), load };
};
const progress = (message: string) => console.error(`  ${new Date().toISOString().slice(11, 19)} ${message}`);

async function runPass(title: string, env: Record<string, string>, options: Options): Promise<PassResult> {
  const started = now();
  const dataDir = await temporaryDir('bugzapp-bench-fanout-');
  const serverEnv = { ...SERVER_LIMITS, ...env };
  let server = await startServer(dataDir, serverEnv);
  const clients = new Clients(options.clientProcesses);
  let serverErrors = 0;
  const serverOutput: string[] = [];
  const noteErrors = () => {
    serverErrors += server.stderrLines();
    if (server.stderrLines() > 0) serverOutput.push(server.tail());
  };
  try {
    progress('seeding');
    const seeded = await seed(server.url, USERS, ['fanOut', 'other', 'unicast', 'storm'] as const);
    // The followed bug, one nobody follows, the unicast target's, and the storm's.
    const { fanOut: fanOutBug, other: otherBug, unicast: unicastBug, storm: stormBug } = seeded.bugs;
    const { url } = server;
    const owner = seeded.ownerToken;

    progress('no subscribers: mutation latency, unicast');
    const none = await measure(() => mutations(url, owner, otherBug, options.requests));
    await openUnicastTarget(clients, server, seeded, unicastBug);
    const unicastNone = await measure(() => unicast(clients, url, seeded, unicastBug, options.unicastRounds));
    // Read as every size's is, after as long idle: by then V8's memory reducer has given back what
    // the requests above left (which Node 20's collections cannot be asked to).
    await sleep(IDLE_WINDOW_MS);
    const empty = await settledMemory(server);

    const sizes: SizeResult[] = [];
    let attached = 0;
    for (const n of options.sizes) {
      progress(`${n} subscribers: opening ${n - attached} more`);
      const operations = commentOperations(fanOutBug, await eventCursor(url, owner));
      const opened = await clients.open('fanout', {
        url: server.wsUrl,
        transport: 'graphql-ws',
        count: n - attached,
        tokens: seeded.memberTokens,
        operations,
      });
      if (opened.opened !== n - attached) throw new Error(`Sockets refused: ${JSON.stringify(opened.refused)}`);
      attached = n;
      // Every subscriber receives one comment: every subscription is live (and the code warm).
      const warm = await deliverOnce(clients, 'fanout', () => addComment(url, owner, fanOutBug, 'warm-up'));
      if (warm.missing > 0) throw new Error(`${warm.missing} of ${n} subscribers did not receive the warm-up comment`);
      // Sitting idle through two rounds of keep-alive pings (WS_KEEPALIVE_MS, 12 s by default), from
      // a plain collection: one that gave memory back would spare the window the memory reducer's
      // own pause, which V8 makes some seconds after a busy process goes idle.
      await server.liveMemory();
      await sleep(IDLE_WINDOW_MS);
      const idleBlock = await server.liveMemory();
      progress(`${n} subscribers: fan-out`);
      const cpuBefore = cpuTimeMs(server.pid);
      const graphql = await measure(() =>
        fanOut(clients, 'fanout', options.rounds, (round) => addComment(url, owner, fanOutBug, `round ${round}`)),
      );
      const fanOutCpuMs = cpuTimeMs(server.pid) - cpuBefore;
      const graphqlCpu = perDelivery(fanOutCpuMs, graphql.value, n);
      const fanOutBlock = await server.liveMemory();
      progress(`${n} subscribers: unicast, mutation latency`);
      const unicastN = await measure(() => unicast(clients, url, seeded, unicastBug, options.unicastRounds));
      const unconcerned = await measure(() => mutations(url, owner, otherBug, options.requests));
      const concerned = await measure(() =>
        mutations(url, owner, fanOutBug, options.paced, {
          paceMs: options.paceMs,
          clients,
          group: 'fanout',
          subscribers: n,
        }),
      );
      progress(`${n} subscribers: raw broadcast`);
      const { sample = '' } = await clients.send({ kind: 'sample', group: 'fanout' });
      const raw = await rawBaseline(clients, n, sample, options.rounds);
      // Last, once the server has sat idle through the raw broadcast, and so after V8's memory
      // reducer: on Node 20, whose collections cannot be asked to give memory back, it has given
      // back what it would. Not just before a window: the heap it shrinks would have to grow again
      // in the window's first moments.
      const idle = await measure(() => settledMemory(server));
      sizes.push({
        n,
        graphql,
        raw: raw.rounds,
        cpuPerDelivery: { graphql: graphqlCpu, raw: raw.cpuPerDelivery },
        memory: { value: { server: idle.value, rawEmpty: raw.empty, raw: raw.memory }, load: idle.load },
        unicast: unicastN,
        unconcerned,
        concerned,
        blocked: {
          fanOut: fanOutBlock.eventLoopMaxMs,
          fanOutGc: fanOutBlock.gcPauseMaxMs,
          idle: idleBlock.eventLoopMaxMs,
          idleGc: idleBlock.gcPauseMaxMs,
          fanOutHolds: { longestHold: fanOutBlock.longestHold, busiestHold: fanOutBlock.busiestHold },
          fanOutGcs: fanOutBlock.gcs,
          fanOutCpuMs,
        },
      });
    }
    await clients.send({ kind: 'close', group: 'fanout' });
    await clients.send({ kind: 'close', group: 'unicast' });

    let storm: PassResult['storm'];
    if (options.storm > 0) {
      progress(`reconnect storm: ${options.storm} fresh subscribers at once`);
      const fresh = await measure(() => freshStorm(clients, server, seeded, stormBug, options.storm));
      progress('reconnect storm: restarting the server');
      noteErrors();
      await server.stop();
      await clients.send({ kind: 'await-closed', group: 'storm', timeoutMs: 30_000 });
      const restarting = now();
      server = await startServer(dataDir, serverEnv);
      const restartMs = now() - restarting;
      const missed: string[] = [];
      for (let i = 0; i < options.stormEvents; i++) {
        missed.push(await addComment(server.url, owner, stormBug, `missed ${i}`));
      }
      progress(`reconnect storm: ${options.storm} subscribers resume`);
      const freshComment = fresh.value.commentIds[0]!;
      const reconnect = await measure(() => reconnectStorm(clients, server.wsUrl, freshComment, missed));
      await clients.send({ kind: 'close', group: 'storm' });
      storm = { fresh, reconnect, restartMs, events: options.stormEvents };
    }
    noteErrors();
    return {
      title,
      empty,
      none,
      unicastNone,
      sizes,
      storm,
      serverErrors,
      serverOutput,
      minutes: (now() - started) / 60_000,
    };
  } catch (error) {
    // What the server logged is usually why: the report that would have shown it is never printed.
    console.error(`The end of the server's output:\n${lastLines(server.tail())}`);
    throw error;
  } finally {
    clients.stop();
    await server.stop();
  }
}

/**
 * The raw side at N: a fresh raw server, N plain sockets, then the same rounds as the graphql-ws
 * side with `message` (the larger `next` frame the subscribers received) broadcast to all.
 */
async function rawBaseline(clients: Clients, n: number, message: string, rounds: number) {
  const raw = await startRawServer();
  try {
    const empty = await rawMemory(raw);
    await clients.open('raw', {
      url: raw.wsUrl,
      transport: 'raw',
      count: n,
      tokens: [],
      operations: [] as Operation[],
    });
    const memory = await rawMemory(raw);
    await raw.setMessage(message);
    await deliverOnce(clients, 'raw', () => raw.broadcast()); // a warm-up, as on the graphql-ws side
    const cpuBefore = cpuTimeMs(raw.pid);
    const measured = await measure(() => fanOut(clients, 'raw', rounds, () => raw.broadcast()));
    const cpuPerDelivery = perDelivery(cpuTimeMs(raw.pid) - cpuBefore, measured.value, n);
    return { empty, memory, rounds: measured, cpuPerDelivery };
  } finally {
    await clients.send({ kind: 'close', group: 'raw' });
    raw.stop();
  }
}

/** `cpuMs` of server CPU over `rounds` to `n` subscribers, in µs per message delivered. */
function perDelivery(cpuMs: number, rounds: Round[], n: number): number {
  const delivered = rounds.reduce((sum, round) => sum + n - round.missing, 0);
  return (cpuMs * 1000) / delivered;
}

// --- The report ---------------------------------------------------------------------------------

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');
const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} ×` : '–');
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const thousands = (n: number) => n.toLocaleString('en-US');

interface FanOutFigures {
  p50: number;
  p99: number;
  requestP50: number;
  requestP99: number;
  /** N / the p50 fan-out time. */
  perSecond: number;
  delivered: number;
  expected: number;
}

function fanOutFigures(n: number, rounds: Round[]): FanOutFigures {
  const spreads = rounds.map((round) => round.spread);
  const p50 = percentile(spreads, 50);
  return {
    p50,
    p99: percentile(spreads, 99),
    requestP50: percentile(
      rounds.map((round) => round.fromRequest),
      50,
    ),
    requestP99: percentile(
      rounds.map((round) => round.fromRequest),
      99,
    ),
    perSecond: n / (p50 / 1000),
    delivered: rounds.reduce((sum, round) => sum + n - round.missing, 0),
    expected: n * rounds.length,
  };
}

function report(result: PassResult, options: Options): void {
  console.log(`\n## ${result.title}\n`);
  console.log(
    `${machine()} at the end; ${result.minutes.toFixed(1)} min; subscribers over ${USERS} users, in ${options.clientProcesses} client processes\n`,
  );
  const targets: string[][] = [];
  const target = (what: string, figure: string, met: boolean) => targets.push([what, figure, met ? 'yes' : 'no']);

  console.log(
    `Fan-out: one addComment to N commentAdded subscribers (half each selection), ${options.rounds} rounds; the raw baseline broadcasts the larger graphql-ws frame to N plain sockets. Server CPU per delivery: each server's CPU time (user + system, from /proc, 10 ms ticks) over all its rounds, pauses between them included, ÷ messages delivered; the graphql-ws side's includes each round's addComment.\n`,
  );
  const fanOutRows: string[][] = [];
  const fanOuts = new Map<number, { graphql: FanOutFigures; raw: FanOutFigures }>();
  for (const size of result.sizes) {
    const graphql = fanOutFigures(size.n, size.graphql.value);
    const raw = fanOutFigures(size.n, size.raw.value);
    fanOuts.set(size.n, { graphql, raw });
    const row = (transport: string, f: FanOutFigures, cpu: number, load: string) => [
      thousands(size.n),
      transport,
      `${thousands(f.delivered)} of ${thousands(f.expected)}`,
      ms(f.p50),
      ms(f.p99),
      ms(f.requestP50),
      ms(f.requestP99),
      thousands(Math.round(f.perSecond)),
      ms(cpu),
      load,
    ];
    const cpu = size.cpuPerDelivery;
    fanOutRows.push(
      row('graphql-ws', graphql, cpu.graphql, size.graphql.load),
      row('raw ws', raw, cpu.raw, size.raw.load),
      [
        thousands(size.n),
        'graphql-ws ÷ raw',
        '',
        times(graphql.p50 / raw.p50),
        times(graphql.p99 / raw.p99),
        times(graphql.requestP50 / raw.requestP50),
        times(graphql.requestP99 / raw.requestP99),
        times(graphql.perSecond / raw.perSecond),
        times(cpu.graphql / cpu.raw),
        '',
      ],
    );
  }
  table(
    [
      'subscribers',
      'transport',
      'delivered',
      'fan-out p50 ms',
      'fan-out p99 ms',
      'request → last p50 ms',
      'request → last p99 ms',
      'msgs/s (N / fan-out p50)',
      'server CPU µs per delivery',
      'load',
    ],
    fanOutRows,
  );
  // The p99 of 100 rounds is the second slowest (of 20, the slowest): the rounds themselves show
  // whether a tail is one outlier or many, and, in the order they ran, whether it is the first rounds.
  console.log("\nEach round's fan-out in the order run (ms), then the slowest:\n");
  for (const size of result.sizes) {
    const rounds = (measured: Round[]) => {
      const spreads = measured.map((round) => round.spread);
      return `${spreads.map((spread) => spread.toFixed(0)).join(', ')}; slowest ${Math.max(...spreads).toFixed(0)}`;
    };
    console.log(`- ${thousands(size.n)}, graphql-ws: ${rounds(size.graphql.value)}`);
    console.log(`- ${thousands(size.n)}, raw ws: ${rounds(size.raw.value)}`);
  }
  const fanOutSize = fanOuts.has(5000) ? 5000 : Math.max(...fanOuts.keys());
  const atFanOutSize = fanOuts.get(fanOutSize);
  if (atFanOutSize !== undefined) {
    const { graphql, raw } = atFanOutSize;
    target(
      `fan-out at ${thousands(fanOutSize)}: msgs/s ≥ 0.5 × raw`,
      times(graphql.perSecond / raw.perSecond),
      graphql.perSecond / raw.perSecond >= 0.5,
    );
    target(
      `fan-out at ${thousands(fanOutSize)}: p99 ≤ 2 × raw`,
      times(graphql.p99 / raw.p99),
      graphql.p99 / raw.p99 <= 2,
    );
  }

  const smallest = result.sizes[0];
  console.log(
    `Unicast: the owner assigns a bug to one user subscribed to bugAssigned while N others follow commentAdded; from the request to that one delivery, ${options.unicastRounds} rounds.\n`,
  );
  const unicastRows = [
    { n: 0, latencies: result.unicastNone },
    ...result.sizes.map((size) => ({ n: size.n, latencies: size.unicast })),
  ].map(({ n, latencies }) => {
    const p50 = percentile(latencies.value, 50);
    const p99 = percentile(latencies.value, 99);
    const base = smallest === undefined ? undefined : smallest.unicast.value;
    return [
      thousands(n),
      `${latencies.value.length} of ${options.unicastRounds}`,
      ms(p50),
      ms(p99),
      base === undefined ? '–' : times(p50 / percentile(base, 50)),
      base === undefined ? '–' : times(p99 / percentile(base, 99)),
      latencies.load,
    ];
  });
  table(
    [
      'other subscribers',
      'delivered',
      'p50 ms',
      'p99 ms',
      `p50 × at ${thousands(smallest?.n ?? 0)}`,
      `p99 × at ${thousands(smallest?.n ?? 0)}`,
      'load',
    ],
    unicastRows,
  );
  const largest = result.sizes.at(-1);
  if (smallest !== undefined && largest !== undefined && largest !== smallest) {
    const p50 = percentile(largest.unicast.value, 50) / percentile(smallest.unicast.value, 50);
    const p99 = percentile(largest.unicast.value, 99) / percentile(smallest.unicast.value, 99);
    target(
      `unicast with ${thousands(largest.n)} others ≤ 1.2 × with ${thousands(smallest.n)}`,
      `p50 ${times(p50)}, p99 ${times(p99)}`,
      p50 <= 1.2 && p99 <= 1.2,
    );
  }

  console.log(
    `Memory per idle connection: RSS (and live heap + external) after 3 full GCs, with N subscribed and idle, minus the same before any connected (${mib(result.empty.rss)} MiB RSS, ${mib(result.empty.live)} MiB live), ÷ N. The raw server the same, fresh for each N.\n`,
  );
  const perConnection = (size: SizeResult) => (size.memory.value.server.rss - result.empty.rss) / size.n;
  const rawPerConnection = (size: SizeResult) => (size.memory.value.raw.rss - size.memory.value.rawEmpty.rss) / size.n;
  table(
    [
      'subscribers',
      'server RSS MiB',
      'RSS per connection KiB',
      'live per connection KiB',
      'raw ws RSS per connection KiB',
      '× raw',
      'load',
    ],
    result.sizes.map((size) => [
      thousands(size.n),
      `${mib(result.empty.rss)} → ${mib(size.memory.value.server.rss)}`,
      kib(perConnection(size)),
      kib((size.memory.value.server.live - result.empty.live) / size.n),
      kib(rawPerConnection(size)),
      times(perConnection(size) / rawPerConnection(size)),
      size.memory.load,
    ]),
  );
  console.log(
    '\nEvent loop: the longest the server held it at once, as perf_hooks measures it (5 ms resolution), during the fan-out rounds and while the subscribers sat idle for 25 s (two rounds of keep-alive pings), each with the longest garbage collection pause in that time.\n',
  );
  table(
    ['subscribers', 'during fan-out ms', 'longest GC pause then ms', 'idle ms', 'longest GC pause then ms'],
    result.sizes.map((size) => [
      thousands(size.n),
      size.blocked.fanOut.toFixed(1),
      size.blocked.fanOutGc.toFixed(1),
      size.blocked.idle.toFixed(1),
      size.blocked.idleGc.toFixed(1),
    ]),
  );
  console.log(
    "\nThe same fan-out rounds through the probe's own 5 ms timer, with the server's CPU time (user + system) in each hold: a hold with little CPU is time the server spent off the CPU, descheduled while other processes on the same cores ran (the subscribers' processes, woken by its writes), not work of its own.\n",
  );
  table(
    ['subscribers', 'longest hold ms', 'its CPU ms', 'hold with the most CPU ms', 'its CPU ms'],
    result.sizes.map(({ n, blocked: { fanOutHolds: holds } }) => [
      thousands(n),
      holds.longestHold.wallMs.toFixed(1),
      holds.longestHold.cpuMs.toFixed(1),
      holds.busiestHold.wallMs.toFixed(1),
      holds.busiestHold.cpuMs.toFixed(1),
    ]),
  );
  console.log(
    "\nGarbage collection during the same rounds, by kind (minor: scavenges of the young generation; major: mark-compact's pauses; incremental: marking steps on the main thread): collections, and their pauses in all against the server's CPU time in the rounds (the collector's helper threads are in the CPU time, not in the pauses).\n",
  );
  table(
    ['subscribers', 'minor', 'major', 'incremental', 'pauses ÷ server CPU'],
    result.sizes.map(({ n, blocked: { fanOutGcs: gcs, fanOutCpuMs: cpuMs } }) => {
      const of = (kind: string) => `${gcs[kind]?.count ?? 0}, ${(gcs[kind]?.ms ?? 0).toFixed(1)} ms`;
      const pauses = Object.values(gcs).reduce((sum, { ms }) => sum + ms, 0);
      return [thousands(n), of('minor'), of('major'), of('incremental'), `${((100 * pauses) / cpuMs).toFixed(1)} %`];
    }),
  );
  if (largest !== undefined) {
    const worst = Math.max(largest.blocked.fanOut, largest.blocked.idle);
    target(
      `event loop held at most 50 ms at once with ${thousands(largest.n)} subscribers`,
      `${worst.toFixed(1)} ms`,
      worst <= 50,
    );
    target(
      `RSS per idle connection at ${thousands(largest.n)} ≤ 20 KiB`,
      `${kib(perConnection(largest))} KiB`,
      perConnection(largest) <= 20 * 1024,
    );
  }

  console.log(
    `Mutation latency: addComment over HTTP, ${options.requests} one after another on a bug nobody follows; then ${options.paced} on the followed bug, one every ${options.paceMs} ms, each delivered to all N.\n`,
  );
  const noneP99 = percentile(result.none.value.latencies, 99);
  const mutationRow = (n: number, which: string, run: Measured<Mutations>) => {
    const { latencies, errors, delivered, expected, drainMs } = run.value;
    const p99 = percentile(latencies, 99);
    return [
      thousands(n),
      which,
      `${latencies.length} (${errors} errors)`,
      ms(percentile(latencies, 50)),
      ms(p99),
      times(p99 / noneP99),
      expected === undefined
        ? ''
        : `${thousands(delivered ?? 0)} of ${thousands(expected)}, last ${ms(drainMs ?? NaN)} ms after the last response`,
      run.load,
    ];
  };
  table(
    ['subscribers', 'the comments reach them', 'requests', 'p50 ms', 'p99 ms', 'p99 × none', 'deliveries', 'load'],
    [
      mutationRow(0, '–', result.none),
      ...result.sizes.flatMap((size) => [
        mutationRow(size.n, 'no', size.unconcerned),
        mutationRow(size.n, `yes, every ${options.paceMs} ms`, size.concerned),
      ]),
    ],
  );
  if (largest !== undefined) {
    const ratio = percentile(largest.unconcerned.value.latencies, 99) / noneP99;
    target(`mutation p99 with ${thousands(largest.n)} unconcerned ≤ 1.2 × none`, times(ratio), ratio <= 1.2);
  }

  if (result.storm !== undefined) {
    const { fresh, reconnect, restartMs, events } = result.storm;
    console.log(
      `Reconnect storm: ${thousands(options.storm)} commentAdded subscribers. Fresh: opened at once with the newest cursor, one comment made once all have sent subscribe. Reconnect: the server restarted (${(restartMs / 1000).toFixed(1)} s), ${events} comments made, then every one reopened at once with its last cursor. Time from the first socket created to the last one having every event.\n`,
    );
    const stormRow = (which: string, run: Measured<Storm>) => {
      const e = run.value.events;
      const closed = Object.entries(e.closed).map(([code, count]) => `${code} × ${count}`);
      const errors = Object.entries(e.errors).map(([code, count]) => `${code} × ${count}`);
      return [
        which,
        ms(Math.max(...e.readyAt) - run.value.startedAt),
        ms(run.value.ms),
        ms(
          percentile(
            e.doneAt.map((at) => at - run.value.startedAt),
            50,
          ),
        ),
        `${thousands(e.exact)} of ${thousands(e.sockets)}${e.wrong > 0 ? `; ${e.wrong} wrong` : ''}${e.short > 0 ? `; ${e.short} short` : ''}${closed.length > 0 ? `; closed ${closed.join(', ')}` : ''}${errors.length > 0 ? `; errors ${errors.join(', ')}` : ''}`,
        times(run.value.ms / fresh.value.ms),
        run.load,
      ];
    };
    table(
      [
        '',
        'all acknowledged ms',
        'to the last socket ms',
        'per socket p50 ms',
        'every event, in order, once',
        '× fresh',
        'load',
      ],
      [stormRow('fresh, 1 event', fresh), stormRow(`reconnect after a restart, ${events} missed events`, reconnect)],
    );
    const ratio = reconnect.value.ms / fresh.value.ms;
    const whole = reconnect.value.events.exact === reconnect.value.events.sockets;
    target(
      `reconnect storm of ${thousands(options.storm)} ≤ 3 × fresh, every event in order`,
      `${times(ratio)}${whole ? '' : ', not every event'}`,
      ratio <= 3 && whole,
    );
  }

  console.log(`Targets (issue 8); the server logged ${result.serverErrors} error lines.\n`);
  table(['target', 'figure', 'met'], targets);
  for (const output of result.serverOutput) {
    console.log(`The end of the server's output:\n\n\`\`\`\n${lastLines(output)}\n\`\`\`\n`);
  }
}

/** The last 20 lines of what a server wrote: where its errors are. */
function lastLines(output: string): string {
  return output.trim().split('\n').slice(-20).join('\n');
}

// --- Main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // A raw socket per subscriber is open beside it: two sockets per subscriber at the largest size.
  const largest = Math.max(options.storm, ...options.sizes);
  options.clientProcesses = Math.max(options.clientProcesses, Math.ceil((2 * largest) / SOCKETS_PER_CLIENT_PROCESS));
  console.log(
    `# Fan-out benchmark: sizes ${options.sizes.map(thousands).join(', ')}; ${options.db === 'both' ? 'PGlite, then PostgreSQL + Redis' : options.db}`,
  );
  if (options.db !== 'postgres') {
    console.error('Embedded PGlite:');
    // Empty, so a DATABASE_URL or REDIS_URL in the shell cannot turn this pass into another.
    report(await runPass('Embedded PGlite', { DATABASE_URL: '', REDIS_URL: '' }, options), options);
  }
  if (options.db !== 'pglite') {
    const why = await unreachable(options);
    if (why !== undefined) {
      console.log(`\n## PostgreSQL + Redis: skipped (${why})`);
      return;
    }
    console.error('PostgreSQL + Redis:');
    const result = await onScratchDatabase(options, (databaseUrl) =>
      runPass('PostgreSQL + Redis', { DATABASE_URL: databaseUrl, REDIS_URL: options.redisUrl }, options),
    );
    report(result, options);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
