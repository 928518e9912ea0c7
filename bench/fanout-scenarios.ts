// What bench/fanout.ts and bench/soak.ts measure, one function per scenario, and the processes they
// drive: the subscribers (bench/fanout-clients.ts, in one or more child processes) and the raw
// baseline server (bench/fanout-raw-server.ts). The real server is bench/server-process.ts's.
//
// Every time here is performance.timeOrigin + performance.now(), in milliseconds, in this process
// and in the clients' processes alike, so a request sent here and a delivery there compare.
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import pg from 'pg';
import type { ClientCommand, ClientReport, EventsSummary, Operation } from './fanout-clients';
import { createScratchDatabase } from '../test/helpers/database';
import type { RawServerCommand } from './fanout-raw-server';
import {
  AddComment,
  CommandedProcess,
  AddProjectMember,
  CreateBug,
  CreateProject,
  inParallel,
  killOnExit,
  ok,
  post,
  projectKey,
  runId,
  signUp,
  sleep,
  type ServerProcess,
} from './server-process';

export const now = () => performance.timeOrigin + performance.now();

/**
 * The limits in src/config.ts that would stop the bench rather than measure it: 50 users hold
 * thousands of sockets, sign up from one address and send hundreds of mutations; and thousands of
 * sockets opened at once may wait longer than 10 s for their `connection_init` to be read, which
 * should show as time, not as sockets closed with 4408.
 */
export const SERVER_LIMITS = {
  WS_MAX_SOCKETS_PER_USER: '0',
  RATE_LIMIT_OPERATIONS_PER_USER: '0',
  RATE_LIMIT_SIGNIN_PER_IP: '0',
  WS_INIT_TIMEOUT_MS: '120000',
};

/** How long to wait for a delivery that should come: past it, the round reports what is missing. */
const DELIVERY_TIMEOUT_MS = 120_000;
/** The same for a storm, which first waits for thousands of sockets to be let in. */
const STORM_TIMEOUT_MS = 600_000;
/** Sockets opened at a time, per client process, when not opening all at once. */
const OPEN_BATCH = 250;

/** Half the fan-out subscribers select a little, half a richer tree of nested objects. */
export const COMMENT_SELECTIONS = [
  /* GraphQL */ `
    subscription BenchComment($bugId: ID!, $after: String) {
      commentAdded(bugId: $bugId, after: $after) {
        cursor
        comment {
          id
          body
          author {
            name
          }
          bug {
            key
          }
        }
      }
    }
  `,
  /* GraphQL */ `
    subscription BenchCommentRich($bugId: ID!, $after: String) {
      commentAdded(bugId: $bugId, after: $after) {
        cursor
        occurredAt
        comment {
          id
          body
          createdAt
          author {
            id
            name
            email
            status
          }
          bug {
            id
            key
            title
            status
            priority
            reporter {
              name
            }
            assignee {
              name
            }
            project {
              key
              name
              owner {
                name
              }
            }
          }
        }
      }
    }
  `,
] as const;

const BugAssigned = /* GraphQL */ `
  subscription BenchBugAssigned {
    bugAssigned {
      cursor
      bug {
        id
        key
        title
      }
      assignedBy {
        name
      }
    }
  }
`;
const AssignBug = /* GraphQL */ `
  mutation BenchAssignBug($input: AssignBugInput!) {
    assignBug(input: $input) {
      bug {
        id
      }
    }
  }
`;
const EventCursor = /* GraphQL */ `
  query BenchEventCursor {
    eventCursor
  }
`;

// --- The clients' processes ---------------------------------------------------------------------

/** One clients' process (bench/fanout-clients.ts). */
const clientProcess = () =>
  new CommandedProcess<ClientCommand, ClientReport>(path.join(__dirname, 'fanout-clients.ts'));
type ClientProcess = ReturnType<typeof clientProcess>;

/**
 * The subscribers, over `processes` child processes: each group's sockets are split evenly
 * between them, and every command goes to all of them, their replies merged into one.
 */
export class Clients {
  readonly #processes: ClientProcess[];
  /** How many sockets each group has had, so a later `open` goes on numbering them. */
  readonly #opened = new Map<string, number>();

  constructor(processes: number) {
    this.#processes = Array.from({ length: processes }, () => clientProcess());
  }

  /**
   * Opens `count` more sockets in `group`; `atOnce` creates every one before waiting for any
   * (otherwise a few hundred at a time per process).
   */
  async open(
    group: string,
    options: {
      url: string;
      transport: 'graphql-ws' | 'raw';
      count: number;
      tokens: string[];
      operations: Operation[];
      atOnce?: boolean;
      record?: boolean;
    },
  ): Promise<ClientReport> {
    const first = this.#opened.get(group) ?? 0;
    this.#opened.set(group, first + options.count);
    const share = Math.ceil(options.count / this.#processes.length);
    const reports = await Promise.all(
      this.#processes.map((process, p) => {
        const from = p * share;
        const count = Math.max(0, Math.min(share, options.count - from));
        const { atOnce, ...rest } = options;
        return process.send({
          kind: 'open',
          group,
          ...rest,
          first: first + from,
          count,
          batch: atOnce ? 0 : OPEN_BATCH,
        });
      }),
    );
    return merge(reports);
  }

  async send(command: Exclude<ClientCommand, { kind: 'open' }>): Promise<ClientReport> {
    if (command.kind === 'close' && command.count === undefined) this.#opened.delete(command.group);
    if (command.kind === 'close' && command.count !== undefined) {
      // The oldest `count`, taken evenly from each process.
      const share = Math.ceil(command.count / this.#processes.length);
      return merge(await Promise.all(this.#processes.map((process) => process.send({ ...command, count: share }))));
    }
    return merge(await Promise.all(this.#processes.map((process) => process.send(command))));
  }

  stop(): void {
    for (const process of this.#processes) process.stop();
  }
}

function merge(reports: ClientReport[]): ClientReport {
  const merged: ClientReport = {};
  const add = (a: number | undefined, b: number | undefined) => (a === undefined ? b : (a ?? 0) + (b ?? 0));
  const counts = (a: Record<string, number> | undefined, b: Record<string, number> | undefined) => {
    if (a === undefined) return b;
    const sum = { ...a };
    for (const [key, value] of Object.entries(b ?? {})) sum[key] = (sum[key] ?? 0) + value;
    return sum;
  };
  for (const report of reports) {
    merged.opened = add(merged.opened, report.opened);
    merged.refused = counts(merged.refused, report.refused);
    if (report.startedAt !== undefined) merged.startedAt = Math.min(merged.startedAt ?? Infinity, report.startedAt);
    if (report.readyAt !== undefined) merged.readyAt = Math.max(merged.readyAt ?? 0, report.readyAt);
    if (report.times !== undefined) merged.times = [...(merged.times ?? []), ...report.times];
    merged.missing = add(merged.missing, report.missing);
    merged.total = add(merged.total, report.total);
    if (report.lastAt !== undefined) merged.lastAt = Math.max(merged.lastAt ?? 0, report.lastAt);
    if (report.sample !== undefined && report.sample.length > (merged.sample ?? '').length)
      merged.sample = report.sample;
    if (report.events !== undefined) {
      const a = merged.events;
      const b = report.events;
      merged.events =
        a === undefined
          ? b
          : {
              sockets: a.sockets + b.sockets,
              exact: a.exact + b.exact,
              wrong: a.wrong + b.wrong,
              short: a.short + b.short,
              doneAt: [...a.doneAt, ...b.doneAt],
              readyAt: [...a.readyAt, ...b.readyAt],
              closed: counts(a.closed, b.closed)!,
              errors: counts(a.errors, b.errors)!,
            };
    }
    if (report.stats !== undefined) {
      const a = merged.stats;
      const b = report.stats;
      merged.stats =
        a === undefined
          ? b
          : {
              open: a.open + b.open,
              closed: counts(a.closed, b.closed)!,
              errors: counts(a.errors, b.errors)!,
              messages: a.messages + b.messages,
            };
    }
  }
  return merged;
}

// --- The raw baseline server --------------------------------------------------------------------

export interface RawServer {
  readonly wsUrl: string;
  readonly pid: number;
  /** Sends the message to every socket: what a mutation is to the real server. */
  broadcast(): Promise<void>;
  setMessage(data: string): Promise<void>;
  /** VmRSS and live memory after a full GC and a moment to settle. */
  memory(): Promise<NodeJS.MemoryUsage>;
  stop(): void;
}

export async function startRawServer(): Promise<RawServer> {
  const child = fork(path.join(__dirname, 'fanout-raw-server.ts'), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
  });
  killOnExit(child);
  const reply = <T>(command?: RawServerCommand) =>
    new Promise<T>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`The raw server exited (${code})`));
      child.once('exit', exited);
      child.once('message', (answer: T) => {
        child.off('exit', exited);
        resolve(answer);
      });
      if (command !== undefined) child.send(command);
    });
  const { port } = await reply<{ port: number }>();
  const url = `http://localhost:${port}/broadcast`;
  return {
    wsUrl: `ws://localhost:${port}`,
    pid: child.pid!,
    async broadcast() {
      const response = await fetch(url, { method: 'POST' });
      await response.arrayBuffer();
    },
    setMessage: (data) => reply({ kind: 'message', data }),
    memory: () => reply<NodeJS.MemoryUsage>({ kind: 'memory' }),
    stop: () => void child.kill(),
  };
}

// --- The databases ------------------------------------------------------------------------------

/** Why PostgreSQL or Redis cannot be used, or undefined when both answer. */
export async function unreachable(options: { postgresUrl: string; redisUrl: string }): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: options.postgresUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    return `PostgreSQL at ${options.postgresUrl}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined); // the failed connect below says it
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    return `Redis at ${options.redisUrl}: ${(error as Error).message}`;
  } finally {
    redis.disconnect();
  }
  return undefined;
}

/** Runs `run` on a scratch database next to `postgresUrl` (the tests' own helper), dropped afterwards. */
export async function onScratchDatabase<T>(
  options: { postgresUrl: string },
  run: (databaseUrl: string) => Promise<T>,
): Promise<T> {
  const scratch = await createScratchDatabase(options.postgresUrl);
  try {
    return await run(scratch.url);
  } finally {
    await scratch.drop();
  }
}

// --- Seeding ------------------------------------------------------------------------------------

export interface Seeded<Bug extends string = string> {
  ownerToken: string;
  projectId: string;
  /** The subscribers' users, members of the project. */
  memberTokens: string[];
  /** One more member, who follows `bugAssigned` in the unicast scenario. */
  target: { token: string; id: string };
  /** The project's bugs, by the name asked for. */
  bugs: Record<Bug, string>;
}

/** An owner, `users` members and one more (the unicast target), one project, and a bug per name. */
export async function seed<Bug extends string>(
  url: string,
  users: number,
  bugNames: readonly Bug[],
): Promise<Seeded<Bug>> {
  const id = runId();
  const owner = await signUp(url, `owner-${id}@bench.dev`, 'Owner');
  const { createProject } = await ok<{ createProject: { project: { id: string } } }>(
    url,
    CreateProject,
    { input: { key: projectKey(), name: 'Fan-out' } },
    owner.token,
  );
  const projectId = createProject.project.id;
  const member = async (name: string) => {
    const user = await signUp(url, `${name}-${id}@bench.dev`, name);
    await ok(url, AddProjectMember, { input: { projectId, userId: user.id } }, owner.token);
    return user;
  };
  const memberTokens: string[] = [];
  await inParallel(
    Array.from({ length: users }, (_, i) => i),
    4,
    async (i) => void memberTokens.push((await member(`member${i}`)).token),
  );
  const target = await member('target');
  const bugs = {} as Record<Bug, string>;
  for (const name of bugNames) {
    const { createBug } = await ok<{ createBug: { bug: { id: string } } }>(
      url,
      CreateBug,
      { input: { projectId, title: `${name}: every subscriber hears of every comment` } },
      owner.token,
    );
    bugs[name] = createBug.bug.id;
  }
  return { ownerToken: owner.token, projectId, memberTokens, target, bugs };
}

/** The newest event's cursor: a subscription given it as `after` misses nothing made after this call. */
export async function eventCursor(url: string, token: string): Promise<string> {
  return (await ok<{ eventCursor: string }>(url, EventCursor, {}, token)).eventCursor;
}

/** Adds a comment and returns its id. */
export async function addComment(url: string, token: string, bugId: string, body: string): Promise<string> {
  const { addComment } = await ok<{ addComment: { comment: { id: string } } }>(
    url,
    AddComment,
    { input: { bugId, body } },
    token,
  );
  return addComment.comment.id;
}

/** The fan-out subscribers' operations on one bug: both selections, resuming after `after`. */
export const commentOperations = (bugId: string, after: string): Operation[] =>
  COMMENT_SELECTIONS.map((query) => ({ query, variables: { bugId, after } }));

// --- Printing ---------------------------------------------------------------------------------

/** A markdown table, its columns padded so it also reads in a terminal. */
export function table(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(headers));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
  console.log('');
}

/** What the figures ran on (the database is in each report's title). */
export function machine(): string {
  const [one, five, fifteen] = os.loadavg().map((value) => value.toFixed(2));
  return `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), load average ${one} / ${five} / ${fifteen} (1 / 5 / 15 min)`;
}

// --- Memory -------------------------------------------------------------------------------------

export interface Memory {
  rss: number;
  /** After a full GC: the V8 heap in use, `external` (Buffers; PGlite's WebAssembly memory), and their sum. */
  heapUsed: number;
  external: number;
  live: number;
}

/**
 * The real server's RSS once three full GCs that give freed memory back have run, a moment apart (as
 * the raw server does it).
 */
export async function settledMemory(server: ServerProcess): Promise<Memory> {
  let live = { heapUsed: 0, external: 0 };
  for (let i = 0; i < 3; i++) {
    live = await server.liveMemory({ release: true });
    await sleep(300);
  }
  return { rss: server.rss(), heapUsed: live.heapUsed, external: live.external, live: live.heapUsed + live.external };
}

export async function rawMemory(raw: RawServer): Promise<Memory> {
  const { rss, heapUsed, external } = await raw.memory();
  return { rss, heapUsed, external, live: heapUsed + external };
}

// --- Fan-out ------------------------------------------------------------------------------------

export interface Round {
  /** From the first subscriber receiving the message to the last. */
  spread: number;
  /** From sending the request (mutation or broadcast) to the last subscriber receiving the message. */
  fromRequest: number;
  /** Subscribers that did not receive it within DELIVERY_TIMEOUT_MS. */
  missing: number;
}

/**
 * One delivery to every socket of `group`: arms the clients, sends the request `trigger` makes
 * (a comment, or the raw broadcast), and times the arrivals.
 */
export async function deliverOnce(
  clients: Clients,
  group: string,
  trigger: () => Promise<unknown>,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<Round> {
  await clients.send({ kind: 'arm', group });
  const requestedAt = now();
  await trigger();
  const { times = [], missing = 0 } = await clients.send({ kind: 'collect', group, timeoutMs });
  const first = Math.min(...times);
  const last = Math.max(...times);
  return { spread: last - first, fromRequest: last - requestedAt, missing };
}

/** `rounds` deliveries, one after the other, a short pause between them. */
export async function fanOut(
  clients: Clients,
  group: string,
  rounds: number,
  trigger: (round: number) => Promise<unknown>,
): Promise<Round[]> {
  const results: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    results.push(await deliverOnce(clients, group, () => trigger(round)));
    await sleep(50);
  }
  return results;
}

// --- Unicast ------------------------------------------------------------------------------------

/** The unicast target's socket: one `bugAssigned` subscription, live once it returns. */
export async function openUnicastTarget(
  clients: Clients,
  server: ServerProcess,
  seeded: Seeded,
  bugId: string,
): Promise<void> {
  await clients.open('unicast', {
    url: server.wsUrl,
    transport: 'graphql-ws',
    count: 1,
    tokens: [seeded.target.token],
    operations: [{ query: BugAssigned, variables: {} }],
  });
  // graphql-ws does not say when a subscription is live: assign until an assignment arrives.
  for (let tries = 0; tries < 50; tries++) {
    const { missing } = await deliverOnce(
      clients,
      'unicast',
      () => assign(server.url, seeded, bugId, seeded.target.id),
      1000,
    );
    await assign(server.url, seeded, bugId, null);
    if (missing === 0) return;
  }
  throw new Error('The unicast target never received an assignment');
}

const assign = (url: string, seeded: Seeded, bugId: string, assigneeId: string | null) =>
  ok(url, AssignBug, { input: { bugId, assigneeId } }, seeded.ownerToken);

/**
 * From sending `assignBug` (the owner assigns the target a bug nobody else follows) to the target's
 * one delivery, `rounds` times; each round then unassigns the bug, which the target does not hear of.
 */
export async function unicast(
  clients: Clients,
  url: string,
  seeded: Seeded,
  bugId: string,
  rounds: number,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const delivery = await deliverOnce(clients, 'unicast', () => assign(url, seeded, bugId, seeded.target.id));
    if (delivery.missing === 0) latencies.push(delivery.fromRequest);
    await assign(url, seeded, bugId, null);
    await sleep(20);
  }
  return latencies;
}

// --- Mutation latency ---------------------------------------------------------------------------

export interface Mutations {
  /** Each request's time to its response. */
  latencies: number[];
  errors: number;
  /** Paced runs: messages the subscribers received for these comments, of those expected. */
  delivered?: number;
  expected?: number;
  /** Paced runs: from the last response to the last delivery. */
  drainMs?: number;
}

/**
 * `count` addComment requests on `bugId`, one after the other; with `paceMs`, one every `paceMs`
 * (or as soon as the previous one answered, if it took longer), so the fan-out of each overlaps
 * the next requests, and then waits for every socket of `group` (`subscribers`) to receive every one.
 */
export async function mutations(
  url: string,
  token: string,
  bugId: string,
  count: number,
  paced?: { paceMs: number; clients: Clients; group: string; subscribers: number },
): Promise<Mutations> {
  if (paced !== undefined) await paced.clients.send({ kind: 'mark', group: paced.group });
  const latencies: number[] = [];
  let errors = 0;
  const started = now();
  for (let i = 0; i < count; i++) {
    if (paced !== undefined) await sleep(Math.max(0, started + i * paced.paceMs - now()));
    const answer = await post(url, AddComment, { input: { bugId, body: `latency ${i}` } }, token);
    latencies.push(answer.ms);
    if (answer.errors !== undefined) errors++;
  }
  if (paced === undefined) return { latencies, errors };
  const answered = now();
  const { total = 0, lastAt = answered } = await paced.clients.send({
    kind: 'await-messages',
    group: paced.group,
    perSocket: count,
    timeoutMs: DELIVERY_TIMEOUT_MS,
  });
  const expected = paced.subscribers * count;
  return { latencies, errors, delivered: total, expected, drainMs: Math.max(0, lastAt - answered) };
}

// --- Reconnect storm ----------------------------------------------------------------------------

export interface Storm {
  /** From creating the first socket to the last socket having every event it waited for. */
  ms: number;
  events: EventsSummary;
  startedAt: number;
  /** The comments the sockets waited for, in order. */
  commentIds: string[];
}

/**
 * The fresh side: `n` sockets opened at once to subscribe to `commentAdded` on the storm bug, then
 * one comment made as soon as every socket has its `connection_ack` and has sent `subscribe`.
 * graphql-ws does not say when a subscription is live, so without a cursor the comment could beat
 * some of them to it; they carry `after` = the newest cursor, read just before, which replays
 * nothing and makes each receive the comment exactly once, whichever of the two comes first.
 */
export async function freshStorm(
  clients: Clients,
  server: ServerProcess,
  seeded: Seeded,
  bugId: string,
  n: number,
): Promise<Storm> {
  const after = await eventCursor(server.url, seeded.ownerToken);
  const { startedAt = now() } = await clients.open('storm', {
    url: server.wsUrl,
    transport: 'graphql-ws',
    count: n,
    tokens: seeded.memberTokens,
    operations: [{ query: COMMENT_SELECTIONS[0], variables: { bugId, after } }],
    atOnce: true,
    record: true,
  });
  const commentId = await addComment(server.url, seeded.ownerToken, bugId, 'fresh');
  return awaitStorm(clients, [commentId], startedAt);
}

/**
 * The reconnecting side, after the server has restarted (at `url`) and `missed` were made: every
 * socket of the storm group opens again at once with `after` = its last cursor. Each must end with
 * `fresh` then `missed` over its two connections: a socket that never had the fresh comment (closed
 * before it came) resumes from the cursor it first subscribed with, and so receives it now.
 */
export async function reconnectStorm(clients: Clients, wsUrl: string, fresh: string, missed: string[]): Promise<Storm> {
  const { startedAt = now() } = await clients.send({ kind: 'reconnect', group: 'storm', url: wsUrl });
  return awaitStorm(clients, [fresh, ...missed], startedAt);
}

async function awaitStorm(clients: Clients, commentIds: string[], startedAt: number): Promise<Storm> {
  const { events } = await clients.send({
    kind: 'await-events',
    group: 'storm',
    commentIds,
    timeoutMs: STORM_TIMEOUT_MS,
  });
  return { ms: Math.max(...events!.doneAt) - startedAt, events: events!, startedAt, commentIds };
}
