// Soak: does the server's memory level off under hours-like load, or creep? A few thousand
// `commentAdded` subscribers with churn (every second the oldest few leave and as many new ones
// join), a comment every 100 to 200 ms, the server's RSS sampled every 5 s. It reports RSS and
// live memory (heap + external after a full GC) at the start and the end, and the least-squares
// slope of RSS over the second half of the run: flat means no leak the run could see.
//
//   npm run bench:soak                         # 10 minutes, 2,000 subscribers, embedded PGlite
//   npm run bench:soak -- --minutes 30 --subscribers 3000 --churn 30 --db postgres
//
// The server and the subscribers are child processes (bench/server-process.ts,
// bench/fanout-clients.ts); the comments are made from here, by the project's owner.
import {
  addComment,
  Clients,
  commentOperations,
  eventCursor,
  machine,
  now,
  onScratchDatabase,
  seed,
  SERVER_LIMITS,
  settledMemory,
  table,
  unreachable,
  type Memory,
} from './fanout-scenarios';
import {
  AddComment,
  load1,
  mib,
  percentile,
  post,
  sampleRss,
  sleep,
  startServer,
  temporaryDir,
} from './server-process';

const USERS = 50;
const SAMPLE_EVERY_MS = 5000;
interface Options {
  minutes: number;
  subscribers: number;
  /** Sockets that leave, and as many that join, every second. */
  churn: number;
  /** Bugs the subscribers are spread over; each comment goes to one, in turn. */
  bugs: number;
  db: 'pglite' | 'postgres';
  postgresUrl: string;
  redisUrl: string;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(name);
    return index === -1 ? undefined : argv[index + 1];
  };
  const number = (name: string, fallback: number, min: number) => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} takes a number of at least ${min}`);
    return n;
  };
  const db = value('--db') ?? 'pglite';
  if (db !== 'pglite' && db !== 'postgres') throw new Error('--db takes pglite or postgres');
  return {
    minutes: number('--minutes', 10, 0.5),
    subscribers: Math.round(number('--subscribers', 2000, 10)),
    churn: Math.round(number('--churn', 20, 0)),
    bugs: Math.round(number('--bugs', 10, 1)),
    db,
    postgresUrl: value('--postgres-url') ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: value('--redis-url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/** The least-squares slope of `points`, in y units per x unit. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  const covariance = points.reduce((sum, p) => sum + (p.x - meanX) * (p.y - meanY), 0);
  const variance = points.reduce((sum, p) => sum + (p.x - meanX) ** 2, 0);
  return covariance / variance;
}

interface SoakResult {
  start: Memory;
  end: Memory;
  samples: { at: number; rss: number }[];
  joined: number;
  comments: number;
  latencies: number[];
  errors: number;
  delivered: number;
  open: number;
  closedByServer: Record<string, number>;
  subscriptionErrors: Record<string, number>;
  loadStart: string;
  loadEnd: string;
  serverErrors: number;
  seconds: number;
}

async function soak(options: Options, env: Record<string, string>): Promise<SoakResult> {
  const dataDir = await temporaryDir('bugzapp-bench-soak-');
  const server = await startServer(dataDir, { ...SERVER_LIMITS, ...env });
  const clients = new Clients(1);
  try {
    const bugNames = Array.from({ length: options.bugs }, (_, i) => `bug${i}`);
    const seeded = await seed(server.url, USERS, bugNames);
    const bugs = bugNames.map((name) => seeded.bugs[name]!);
    const owner = seeded.ownerToken;
    // Every bug, both selections, resuming from now: socket i gets one of them (see fanout-clients.ts).
    const operations = async () => {
      const after = await eventCursor(server.url, owner);
      return bugs.flatMap((bugId) => commentOperations(bugId, after));
    };
    const join = async (count: number) =>
      clients.open('soak', {
        url: server.wsUrl,
        transport: 'graphql-ws',
        count,
        tokens: seeded.memberTokens,
        operations: await operations(),
      });

    console.error(`Opening ${options.subscribers} subscribers...`);
    await join(options.subscribers);
    // One comment on every bug reaches every subscriber once: all of them are live.
    await clients.send({ kind: 'mark', group: 'soak' });
    for (const bugId of bugs) await addComment(server.url, owner, bugId, 'warm-up');
    await clients.send({ kind: 'await-messages', group: 'soak', perSocket: 1, timeoutMs: 120_000 });
    const start = await settledMemory(server);
    const loadStart = load1();
    await clients.send({ kind: 'mark', group: 'soak' });

    console.error(`Soaking for ${options.minutes} min...`);
    const started = now();
    const until = started + options.minutes * 60_000;
    const rss = sampleRss(server, SAMPLE_EVERY_MS);
    const latencies: number[] = [];
    let errors = 0;
    let joined = 0;
    const commenting = (async () => {
      for (let i = 0; now() < until; i++) {
        const next = now() + 100 + Math.random() * 100;
        const answer = await post(
          server.url,
          AddComment,
          { input: { bugId: bugs[i % bugs.length], body: `soak ${i}` } },
          owner,
        );
        latencies.push(answer.ms);
        if (answer.errors !== undefined) errors++;
        await sleep(Math.max(0, next - now()));
      }
    })();
    const churning = (async () => {
      for (let second = 1; now() < until; second++) {
        await sleep(Math.max(0, started + second * 1000 - now()));
        if (options.churn > 0) {
          await clients.send({ kind: 'close', group: 'soak', count: options.churn });
          await join(options.churn);
          joined += options.churn;
        }
        if (second % 60 === 0) {
          console.error(
            `  ${second / 60} min: server RSS ${mib(server.rss())} MiB, ${latencies.length} comments, load ${load1()}`,
          );
        }
      }
    })();
    await Promise.all([commenting, churning]);
    await sleep(2000); // the last deliveries
    rss.stop();
    const seconds = (now() - started) / 1000;
    const { stats } = await clients.send({ kind: 'stats', group: 'soak' });
    const end = await settledMemory(server);
    return {
      start,
      end,
      samples: rss.samples,
      joined,
      comments: latencies.length,
      latencies,
      errors,
      delivered: stats!.messages,
      open: stats!.open,
      closedByServer: stats!.closed,
      subscriptionErrors: stats!.errors,
      loadStart,
      loadEnd: load1(),
      serverErrors: server.stderrLines(),
      seconds,
    };
  } finally {
    clients.stop();
    await server.stop();
  }
}

function report(result: SoakResult, options: Options, title: string): void {
  const secondHalf = result.samples.filter(
    (sample) => sample.at >= result.samples[0]!.at + (result.seconds * 1000) / 2,
  );
  const kibPerMinute = slope(secondHalf.map((sample) => ({ x: sample.at / 60_000, y: sample.rss / 1024 })));
  const allKibPerMinute = slope(result.samples.map((sample) => ({ x: sample.at / 60_000, y: sample.rss / 1024 })));
  const format = (counts: Record<string, number>) => {
    const entries = Object.entries(counts);
    return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${key} × ${count}`).join(', ');
  };
  console.log(
    `\nSoak, ${title}: ${options.subscribers} commentAdded subscribers over ${USERS} users and ${options.bugs} bugs, ${options.churn} leaving and ${options.churn} joining every second; a comment every 100-200 ms, to one bug in turn; ${(result.seconds / 60).toFixed(1)} min`,
  );
  console.log(`${machine()} at the end\n`);
  table(
    ['measure', 'start', 'end'],
    [
      ['server RSS MiB (after 3 full GCs)', mib(result.start.rss), mib(result.end.rss)],
      ['V8 heap in use MiB (after a full GC)', mib(result.start.heapUsed), mib(result.end.heapUsed)],
      ["external MiB (Buffers, PGlite's WebAssembly memory)", mib(result.start.external), mib(result.end.external)],
      ['load average (1 min)', result.loadStart, result.loadEnd],
    ],
  );
  const rssSamples = result.samples.map((sample) => sample.rss);
  table(
    ['measure', 'figure'],
    [
      ['RSS slope over the second half (least squares, a sample every 5 s)', `${kibPerMinute.toFixed(1)} KiB/min`],
      ['RSS slope over the whole run', `${allKibPerMinute.toFixed(1)} KiB/min`],
      ['RSS sampled: least, most', `${mib(Math.min(...rssSamples))}, ${mib(Math.max(...rssSamples))} MiB`],
      ['subscribers open at the end', `${result.open} (${result.joined} joined and as many left during the run)`],
      [
        'comments',
        `${result.comments} (${(result.comments / result.seconds).toFixed(1)}/s), ${result.errors} errors; latency p50 ${percentile(result.latencies, 50).toFixed(0)} ms, p99 ${percentile(result.latencies, 99).toFixed(0)} ms`,
      ],
      [
        'deliveries',
        `${result.delivered} (${(result.delivered / result.seconds).toFixed(0)}/s; about ${Math.round((result.comments * options.subscribers) / options.bugs)} expected)`,
      ],
      ['sockets the server closed', format(result.closedByServer)],
      ['subscription errors', format(result.subscriptionErrors)],
      ['server error lines', String(result.serverErrors)],
    ],
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.db === 'pglite') {
    report(await soak(options, { DATABASE_URL: '', REDIS_URL: '' }), options, 'embedded PGlite');
    return;
  }
  const why = await unreachable(options);
  if (why !== undefined) {
    console.log(`Soak on PostgreSQL + Redis skipped: ${why}`);
    return;
  }
  const result = await onScratchDatabase(options, (databaseUrl) =>
    soak(options, { DATABASE_URL: databaseUrl, REDIS_URL: options.redisUrl }),
  );
  report(result, options, 'PostgreSQL + Redis');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
