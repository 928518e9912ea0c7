// Slow consumers: N graphql-ws subscribers of which every tenth never reads, then M events over
// HTTP. Do the readers get every event in order, are the stalled sockets closed instead of
// holding the server's memory, and how do the server's RSS and live heap move?
//
//   npm run bench:slow-consumers                                   # 1,000 subscribers, 200 events
//   npm run bench:slow-consumers -- --subscribers 1000 --events 5000   # issue 7's full size: half an hour or more
//
// Then a burst: 10 subscribers (5 never read) of events made about 200 KB each by their
// selection, so the stalled sockets pass WS_MAX_BUFFERED_BYTES within seconds: that checks the
// 1013 close itself, which the main run's few-KB events reach only after megabytes.
//
// The server runs as a child process (its RSS read from /proc), the subscribers in another
// (bench/slow-consumers-clients.ts), the writers here. RATE_LIMIT_OPERATIONS_PER_USER=0 so the
// writers are not throttled, and RATE_LIMIT_SIGNIN_PER_IP is raised for seeding; every other
// limit is the server's default.
import path from 'node:path';
import {
  AddComment,
  CommandedProcess,
  AddProjectMember,
  CreateBug,
  CreateProject,
  inParallel,
  load1,
  machineLine,
  mib,
  ok,
  percentile,
  post,
  projectKey,
  runId,
  sampleRss,
  signUp,
  sleep,
  startServer,
  temporaryDir,
  type ServerProcess,
} from './server-process';
import type { ClientCommand, ClientReport, ReaderSummary, StalledSummary } from './slow-consumers-clients';

const SOCKETS_PER_USER = 20; // WS_MAX_SOCKETS_PER_USER's default
const STALL_EVERY = 10;
const WRITERS = 4;
/** The bug's description, which every event carries: the main run's events are about 3.5 KB. */
const DESCRIPTION_CHARS = 3_000;
/** The burst's bug description (the most a description may hold), selected under 10 aliases: about 200 KB an event. */
const BURST_DESCRIPTION_CHARS = 20_000;
const BURST_SUBSCRIBERS = 10;
const BURST_EVENTS = 60;
/** The server's WS_MAX_BUFFERED_BYTES (default). */
const MAX_BUFFERED = 1024 * 1024;
/**
 * What the kernel holds for a socket that does not read before the server's `bufferedAmount`
 * starts to grow: send and receive buffers on loopback, about 4 MB with Linux's default
 * tcp_wmem/tcp_rmem (measured: 4,083,284 bytes).
 */
const KERNEL_BUFFERS = 4 * 1024 * 1024;
/** The server cuts a socket this long after closing it with 1013 if the client has not taken the close frame. */
const SLOW_CLOSE_GRACE_MS = 5_000;
/** The server pings every 12 s and drops a socket that has not answered by the next ping (src/server/websocket.ts). */
const KEEP_ALIVE_MS = 12_000;
/** How long to wait, once every event is written, for the readers to make progress. */
const DRAIN_TIMEOUT_MS = 120_000;
/** Live heap the run may keep after the events, over its baseline; more means something holds on to delivered events. */
const LIVE_GROWTH_BOUND = 32 * 1024 * 1024;
/** RSS peak over the baseline: the stalled sockets' buffers (100 × 1 MiB) and the garbage of delivery. */
const RSS_GROWTH_BOUND = 256 * 1024 * 1024;

const subscription = (aliases: number) => /* GraphQL */ `
  subscription BenchSlowConsumers($bugId: ID!) {
    commentAdded(bugId: $bugId) {
      cursor
      comment {
        body
        author {
          name
        }
        bug {
          key
          title
          status
          priority
          reporter {
            name
          }
          ${Array.from({ length: aliases }, (_, i) => (aliases === 1 ? 'description' : `d${i}: description`)).join('\n')}
        }
      }
    }
  }
`;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index === -1 ? fallback : Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} takes a positive whole number`);
  return value;
}

/** The subscribers' process (bench/slow-consumers-clients.ts). */
const startClients = () =>
  new CommandedProcess<ClientCommand, ClientReport>(path.join(__dirname, 'slow-consumers-clients.ts'));
type Clients = ReturnType<typeof startClients>;

interface Seeded {
  ownerToken: string;
  projectId: string;
  subscriberTokens: string[];
  writerTokens: string[];
}

async function seed(url: string, users: number): Promise<Seeded> {
  const id = runId();
  const owner = await signUp(url, `owner-${id}@bench.dev`, 'Owner');
  const { createProject } = await ok<{ createProject: { project: { id: string } } }>(
    url,
    CreateProject,
    { input: { key: projectKey(), name: 'Slow consumers' } },
    owner.token,
  );
  const projectId = createProject.project.id;
  const member = async (name: string) => {
    const user = await signUp(url, `${name}-${id}@bench.dev`, name);
    await ok(url, AddProjectMember, { input: { projectId, userId: user.id } }, owner.token);
    return user.token;
  };
  const subscriberTokens: string[] = [];
  await inParallel(
    Array.from({ length: users }, (_, i) => i),
    4,
    async (i) => void subscriberTokens.push(await member(`subscriber${i}`)),
  );
  const writerTokens: string[] = [];
  for (let w = 1; w <= WRITERS; w++) writerTokens.push(await member(`writer${w}`));
  return { ownerToken: owner.token, projectId, subscriberTokens, writerTokens };
}

async function createBug(url: string, seeded: Seeded, descriptionChars: number): Promise<string> {
  const { createBug } = await ok<{ createBug: { bug: { id: string } } }>(
    url,
    CreateBug,
    {
      input: {
        projectId: seeded.projectId,
        title: 'Every subscriber hears of every comment',
        description: 'Lorem ipsum dolor sit amet. '.repeat(Math.ceil(descriptionChars / 28)).slice(0, descriptionChars),
      },
    },
    seeded.ownerToken,
  );
  return createBug.bug.id;
}

interface ScenarioResult {
  n: number;
  stallEvery: number;
  events: number;
  eventBytes: number;
  opened: ClientReport;
  readers: ReaderSummary;
  stalled: StalledSummary;
  resumedAfterMs: number;
  /** From the stall to reading again. */
  stalledForMs: number;
  writeSeconds: number;
  deliveredSeconds: number;
  writeErrors: number;
  latencies: number[];
  /** Before the subscribers connect. */
  rssNone: number;
  liveNone: { heapUsed: number; external: number };
  rssIdle: number;
  rssPeak: number;
  rssEnd: number;
  rssClosed: number;
  liveIdle: { heapUsed: number; external: number };
  liveEnd: { heapUsed: number; external: number };
  liveClosed: { heapUsed: number; external: number };
  samples: number[];
  loadStart: string;
  loadEnd: string;
}

/**
 * N subscribers (every `stallEvery`-th stops reading after a warm-up event), then `events`
 * comments from WRITERS writers. The stalled sockets read again once the readers have been sent
 * more than the kernel and WS_MAX_BUFFERED_BYTES hold (plus 1 MiB), so the server has closed
 * them a moment before and its close frame is still waiting for them; or at the end.
 */
async function scenario(
  server: ServerProcess,
  clients: Clients,
  seeded: Seeded,
  options: { n: number; stallEvery: number; events: number; bugId: string; aliases: number },
): Promise<ScenarioResult> {
  const { url } = server;
  const { n, stallEvery, events, bugId } = options;
  const loadStart = load1();
  const liveNone = await server.liveMemory();
  const rssNone = server.rss();
  const opened = await clients.send({
    kind: 'open',
    url: server.wsUrl,
    tokens: seeded.subscriberTokens,
    n,
    stallEvery,
    bugId,
    query: subscription(options.aliases),
  });
  const warm = clients.send({ kind: 'warm-up' });
  await ok(url, AddComment, { input: { bugId, body: 'warm-up' } }, seeded.ownerToken);
  await warm;
  await clients.send({ kind: 'stall' });
  const stalledAt = Date.now();
  await sleep(2000);
  const liveIdle = await server.liveMemory();
  const rssIdle = server.rss();
  server.resetPeak();
  const rss = sampleRss(server, 500);

  const started = Date.now();
  const latencies: number[] = [];
  let writeErrors = 0;
  let writing = true;
  const writers = Promise.all(
    seeded.writerTokens.map(async (token, w) => {
      const share = Math.floor(events / WRITERS) + (w < events % WRITERS ? 1 : 0);
      for (let seq = 1; seq <= share; seq++) {
        const answer = await post(url, AddComment, { input: { bugId, body: `w${w + 1}-${seq}` } }, token);
        latencies.push(answer.ms);
        if (answer.errors !== undefined) writeErrors++;
      }
    }),
  ).finally(() => (writing = false));

  const resumeAt = KERNEL_BUFFERS + MAX_BUFFERED + MAX_BUFFERED;
  let stalled: StalledSummary | undefined;
  let resumedAfterMs = NaN;
  let stalledForMs = NaN;
  const resume = async () => {
    resumedAfterMs = Date.now() - started;
    stalledForMs = Date.now() - stalledAt;
    stalled = (await clients.send({ kind: 'resume-stalled', waitMs: 2 * SLOW_CLOSE_GRACE_MS })).stalled!;
  };
  let readers = (await clients.send({ kind: 'progress' })).readers!;
  const progress = { at: Date.now(), events: 0, printed: 0 };
  while (writing || (readers.minEvents < events && Date.now() - progress.at < DRAIN_TIMEOUT_MS)) {
    await sleep(500);
    readers = (await clients.send({ kind: 'progress' })).readers!;
    if (readers.minEvents > progress.events) Object.assign(progress, { at: Date.now(), events: readers.minEvents });
    if (stalled === undefined && readers.minBytes >= resumeAt) await resume();
    if (Date.now() - started >= progress.printed * 10_000) {
      progress.printed++;
      console.error(
        `  ${((Date.now() - started) / 1000).toFixed(0)} s: readers have ${readers.minEvents}..${readers.maxEvents} of ${events} events, server RSS ${mib(server.rss())} MiB, load ${load1()}`,
      );
    }
  }
  await writers;
  const writeSeconds = (Date.now() - started) / 1000;
  if (stalled === undefined) await resume();
  readers = (await clients.send({ kind: 'progress' })).readers!;
  await sleep(2000);
  rss.stop();
  const rssEnd = server.rss();
  const rssPeak = server.peakRss();
  const liveEnd = await server.liveMemory();
  await clients.send({ kind: 'close' });
  await sleep(2000);
  const liveClosed = await server.liveMemory();
  return {
    n,
    stallEvery,
    events,
    eventBytes: readers.minBytes / Math.max(1, readers.minEvents),
    opened,
    readers,
    stalled: stalled!,
    resumedAfterMs,
    stalledForMs,
    writeSeconds,
    deliveredSeconds: (readers.lastEventAt - started) / 1000,
    writeErrors,
    latencies,
    rssNone,
    liveNone,
    rssIdle,
    rssPeak,
    rssEnd,
    rssClosed: server.rss(),
    liveIdle,
    liveEnd,
    liveClosed,
    samples: rss.samples.map((sample) => sample.rss),
    loadStart,
    loadEnd: load1(),
  };
}

async function main(): Promise<void> {
  const subscribers = option('--subscribers', 1000);
  const events = option('--events', 200);
  const users = Math.ceil(subscribers / SOCKETS_PER_USER);
  // A generous cap: about 2 ms per delivery on a busy 2-core machine, plus start-up and seeding.
  const runTimeoutMs = 10 * 60_000 + 2 * subscribers * events;
  const deadline = setTimeout(() => {
    console.error(`Gave up after ${(runTimeoutMs / 60_000).toFixed(0)} min.`);
    process.exit(1);
  }, runTimeoutMs).unref();

  const dataDir = await temporaryDir('bugzapp-bench-slow-');
  console.error('Starting the server and seeding...');
  const server = await startServer(dataDir, {
    RATE_LIMIT_SIGNIN_PER_IP: String(users + WRITERS + 10),
    RATE_LIMIT_OPERATIONS_PER_USER: '0',
  });
  const clients = startClients();
  try {
    const seeded = await seed(server.url, users);
    const mainBug = await createBug(server.url, seeded, DESCRIPTION_CHARS);
    const burstBug = await createBug(server.url, seeded, BURST_DESCRIPTION_CHARS);
    console.error(`${subscribers} subscribers, ${events} events...`);
    const main = await scenario(server, clients, seeded, {
      n: subscribers,
      stallEvery: STALL_EVERY,
      events,
      bugId: mainBug,
      aliases: 1,
    });
    console.error(`Burst: ${BURST_SUBSCRIBERS} subscribers, ${BURST_EVENTS} events of about 200 KB...`);
    const burst = await scenario(server, clients, seeded, {
      n: BURST_SUBSCRIBERS,
      stallEvery: 2,
      events: BURST_EVENTS,
      bugId: burstBug,
      aliases: 10,
    });
    report(main, burst, users);
  } finally {
    clients.stop();
    await server.stop();
    clearTimeout(deadline);
  }
}

/**
 * How a stalled socket should have ended by the time it read again: closed with 1013 once the
 * server had queued more than WS_MAX_BUFFERED_BYTES beyond what the kernel holds, or dropped by
 * the keep-alive (no pong: 1006 on the client) after 12 to 24 s, whichever came first; before
 * either, still open.
 */
function expectedClose(result: ScenarioResult): string {
  const overBuffer = result.stalled.resumedAtReaderBytes >= KERNEL_BUFFERS + MAX_BUFFERED;
  if (result.stalledForMs > 2 * KEEP_ALIVE_MS) return overBuffer ? '1013 or 1006' : '1006';
  if (overBuffer) return '1013';
  return result.stalledForMs < KEEP_ALIVE_MS ? 'open' : 'open or 1006';
}

function report(main: ScenarioResult, burst: ScenarioResult, users: number): void {
  const format = (counts: Record<string, number> | undefined) => {
    const entries = Object.entries(counts ?? {});
    return entries.length === 0 ? 'none' : entries.map(([key, value]) => `${key} × ${value}`).join(', ');
  };
  const live = (memory: { heapUsed: number; external: number }) => `${mib(memory.heapUsed)} + ${mib(memory.external)}`;
  const stalledCount = (result: ScenarioResult) => Math.floor(result.n / result.stallEvery);

  console.log(
    `\nSlow consumers: ${main.n} graphql-ws subscribers over ${users} users, ${stalledCount(main)} of which never read; ${main.events} comments from ${WRITERS} writers over HTTP; then the burst: ${burst.n} subscribers, ${stalledCount(burst)} never reading, ${burst.events} events`,
  );
  console.log(machineLine());
  console.log('');
  console.log('| measure | figure | expected |');
  console.log('|---|---|---|');
  const row = (measure: string, figure: string, expected = '') =>
    console.log(`| ${measure} | ${figure} | ${expected} |`);
  const problems: string[] = [];
  for (const [label, result] of [
    ['', main],
    ['burst: ', burst],
  ] as const) {
    const stalled = stalledCount(result);
    const readers = result.readers;
    const expected = expectedClose(result);
    row(
      `${label}subscribers connected`,
      `${result.opened.opened} of ${result.n} (refused: ${format(result.opened.refused)}); events ${(result.eventBytes / 1024).toFixed(1)} KB each`,
      `${result.n}`,
    );
    row(
      `${label}readers with every event, in order`,
      `${readers.sockets - readers.outOfOrder} of ${readers.sockets} (events per reader ${readers.minEvents}..${readers.maxEvents}; closed ${format(readers.closed)}; errors ${format(readers.errors)})`,
      `${readers.sockets}, ${result.events} each`,
    );
    row(
      `${label}stalled sockets: close code once read again`,
      `${format(result.stalled.closes)} (stalled for ${(result.stalledForMs / 1000).toFixed(1)} s, read again ${(result.resumedAfterMs / 1000).toFixed(1)} s into the writes with the readers at ${mib(result.stalled.resumedAtReaderBytes)} MiB; each then read ${result.stalled.minEventsAfterResume}..${result.stalled.maxEventsAfterResume} queued events)`,
      `${expected} × ${stalled}`,
    );
    row(
      `${label}writes`,
      `${result.events} in ${result.writeSeconds.toFixed(1)} s (${(result.events / result.writeSeconds).toFixed(1)}/s), ${result.writeErrors} errors; latency p50 ${percentile(result.latencies, 50).toFixed(0)} ms, p99 ${percentile(result.latencies, 99).toFixed(0)} ms; last delivery ${result.deliveredSeconds.toFixed(1)} s after the first write`,
      '0 errors',
    );
    row(
      `${label}server RSS: no subscribers → subscribers idle (baseline)`,
      `${mib(result.rssNone)} → ${mib(result.rssIdle)} MiB${result.n >= 100 ? ` (${((result.rssIdle - result.rssNone) / result.n / 1024).toFixed(1)} KiB per subscriber)` : ''}`,
    );
    row(
      `${label}server RSS peak during the events (VmHWM)`,
      `${mib(result.rssPeak)} MiB: baseline + ${mib(result.rssPeak - result.rssIdle)} MiB (× ${(result.rssPeak / result.rssIdle).toFixed(2)})`,
      `< baseline + ${mib(RSS_GROWTH_BOUND)} MiB`,
    );
    row(
      `${label}server RSS at the end: subscribers open → all closed`,
      `${mib(result.rssEnd)} → ${mib(result.rssClosed)} MiB`,
    );
    row(
      `${label}live heap + external after a full GC (MiB): no subscribers → baseline → end → all closed`,
      `${live(result.liveNone)} → ${live(result.liveIdle)} → ${live(result.liveEnd)} → ${live(result.liveClosed)}; end − baseline: ${mib(result.liveEnd.heapUsed - result.liveIdle.heapUsed)} MiB of heap`,
      `end − baseline < ${mib(LIVE_GROWTH_BOUND)} MiB`,
    );
    if (label === '') {
      row(
        'server RSS every 5 s during the events (MiB)',
        result.samples
          .filter((_, i) => i % 10 === 0)
          .map((sample) => mib(sample))
          .join(', '),
      );
    }
    row(`${label}load average (1 min), start → end`, `${result.loadStart} → ${result.loadEnd}`);

    if (readers.minEvents !== result.events || readers.maxEvents !== result.events || readers.outOfOrder > 0) {
      problems.push(`${label}not every reader got every event in order`);
    }
    const closes = result.stalled.closes;
    const asExpected = expected.split(' or ').reduce((sum, code) => sum + (closes[code] ?? 0), 0);
    if (asExpected !== stalled) problems.push(`${label}stalled sockets: ${format(closes)}, expected ${expected}`);
    if (result.rssPeak - result.rssIdle > RSS_GROWTH_BOUND) problems.push(`${label}RSS grew past its bound`);
    if (result.liveEnd.heapUsed - result.liveIdle.heapUsed > LIVE_GROWTH_BOUND) {
      problems.push(`${label}the live heap grew with the events delivered`);
    }
    if (result.opened.opened !== result.n) problems.push(`${label}not every subscriber connected`);
  }
  console.log(problems.length === 0 ? '\nAll as expected.' : `\nNot as expected: ${problems.join('; ')}.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
