// Fan-out benchmark: one mutation, N graphql-ws subscribers on one instance, time from the
// mutation's response to each delivery; in the same run, a raw `ws` broadcast of the same JSON
// to N plain sockets as the baseline; and server memory per idle subscribed connection.
//
//   npm run bench:fanout                 # N = 1000 and 5000, embedded PGlite
//   npm run bench:fanout -- 200          # other sizes
//   DATABASE_URL=postgresql://... npm run bench:fanout
//
// The server runs in this process; the clients run in a child process, so the memory figures
// are the server's alone and the two sides do not share an event loop.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import type { ClientCommand, ClientReport } from './fanout-clients';
import { AddComment, AddProjectMember, CreateBug, CreateProject, SignUp } from './server-process';

const ROUNDS = 20;
/** The subscribers' users: sockets are spread over them round-robin. */
const USERS = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const now = () => performance.timeOrigin + performance.now();

/** Heap and off-heap bytes in use once closed sockets have gone and a full collection has run. */
async function usedMemory(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    global.gc?.();
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

class Clients {
  readonly #child: ChildProcess;
  constructor() {
    this.#child = fork(path.join(__dirname, 'fanout-clients.ts'), [], { execArgv: ['--import', 'tsx'] });
  }
  send(command: ClientCommand): Promise<ClientReport> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(error);
      this.#child.once('error', fail);
      this.#child.once('message', (report: ClientReport) => {
        this.#child.off('error', fail);
        resolve(report);
      });
      this.#child.send(command);
    });
  }
  stop() {
    this.#child.kill();
  }
}

async function main(): Promise<void> {
  if (global.gc === undefined) throw new Error('Run with --expose-gc (npm run bench:fanout does).');
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bugzapp-bench-'));
  const config = loadConfig({
    ...process.env,
    // 50 users hold thousands of sockets and sign up from one address: past the per-user socket,
    // operation and sign-in limits, which are not what this measures.
    WS_MAX_SOCKETS_PER_USER: '0',
    RATE_LIMIT_OPERATIONS_PER_USER: '0',
    RATE_LIMIT_SIGNIN_PER_IP: '0',
    PORT: '0',
    DATA_DIR: dataDir,
    GRAPHIQL: 'false',
  });
  const app = await createApp(config);
  const { url } = await app.start();
  const clients = new Clients();
  const rawServer = http.createServer().listen(0);
  const raw = new WebSocketServer({ server: rawServer });
  await new Promise((resolve) => raw.once('listening', resolve));
  const rawUrl = `ws://localhost:${(raw.address() as { port: number }).port}`;

  const call = async <Data>(query: string, variables: unknown, token?: string) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const result = (await response.json()) as { data: Data; errors?: unknown };
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data;
  };

  try {
    const { signUp } = await call<{ signUp: { token: string } }>(SignUp, {
      input: { email: 'bench@example.com', name: 'Bench', password: 'bench-password-1' },
    });
    const token = signUp.token;
    const { createProject } = await call<{ createProject: { project: { id: string } } }>(
      CreateProject,
      { input: { key: 'BENCH', name: 'Bench' } },
      token,
    );
    const { createBug } = await call<{ createBug: { bug: { id: string } } }>(
      CreateBug,
      { input: { projectId: createProject.project.id, title: 'Fan-out' } },
      token,
    );
    const bugId = createBug.bug.id;
    // The subscribers: members of the project, each with a token of their own.
    const tokens: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const member = await call<{ signUp: { token: string; user: { id: string } } }>(SignUp, {
        input: { email: `member-${i}@example.com`, name: `Member ${i}`, password: 'bench-password-1' },
      });
      await call(
        AddProjectMember,
        { input: { projectId: createProject.project.id, userId: member.signUp.user.id } },
        token,
      );
      tokens.push(member.signUp.token);
    }
    const comment = (body: string) => call(AddComment, { input: { bugId, body } }, token);
    const eventCursor = await app.events.currentCursor();
    // The moment a committed event is handed to the feed: the start of the fan-out proper.
    let published = 0;
    const publish = app.events.publish.bind(app.events);
    app.events.publish = (events) => {
      published = now();
      return publish(events);
    };

    console.log(
      `Fan-out benchmark: ${config.databaseUrl ? 'PostgreSQL' : 'PGlite'}, node ${process.version}, ${os.cpus().length} cores, ${ROUNDS} rounds per size (medians)`,
    );
    console.log(
      '| subscribers | transport | fan-out p50 ms | fan-out p99 ms | response → last delivery p50 ms | p99 ms | request → last delivery p50 ms | server memory per idle connection |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const n of sizes.length > 0 ? sizes : [1000, 5000]) {
      // --- graphql-ws subscribers ---
      const before = await usedMemory();
      await clients.send({
        kind: 'open-graphql',
        n,
        url: url.replace(/^http/, 'ws'),
        tokens,
        bugId,
        after: eventCursor,
      });
      // Warm-up: every subscriber gets one event, which also proves every subscription is live.
      const warm = clients.send({ kind: 'collect', n });
      await comment('warm-up');
      await warm;
      const perConnection = ((await usedMemory()) - before) / n;
      const rounds: Round[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const arrivals = clients.send({ kind: 'collect', n });
        const requested = now();
        await comment(`round ${round}`);
        const responded = now();
        const times = (await arrivals).times!;
        rounds.push({
          since: responded - requested,
          times: times.map((t) => t - responded),
          fanOut: Math.max(...times) - published,
        });
      }
      await clients.send({ kind: 'close' });
      report(n, 'graphql-ws subscription', rounds, perConnection);

      // --- raw ws broadcast of the same JSON, the baseline ---
      const rawBefore = await usedMemory();
      await clients.send({ kind: 'open-raw', n, url: rawUrl });
      const rawPerConnection = ((await usedMemory()) - rawBefore) / n;
      const message = (await clients.send({ kind: 'sample' })).sample!;
      const rawRounds: Round[] = [];
      for (let round = -1; round < ROUNDS; round++) {
        const arrivals = clients.send({ kind: 'collect', n });
        await new Promise((resolve) => setTimeout(resolve, 20)); // the collector is listening
        const sent = now();
        for (const socket of raw.clients) socket.send(message);
        const times = (await arrivals).times!.map((t) => t - sent);
        if (round >= 0) rawRounds.push({ since: 0, times, fanOut: Math.max(...times) }); // round -1 warms the sockets up
      }
      await clients.send({ kind: 'close' });
      report(n, 'raw ws broadcast (baseline)', rawRounds, rawPerConnection);
    }
  } finally {
    clients.stop();
    raw.close();
    // The WebSocket server does not close the HTTP server it was given, which would keep us running.
    rawServer.close();
    await app.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** One mutation: how long its response took, and each delivery's time after that response. */
interface Round {
  since: number;
  times: number[];
  /** From the commit being handed to the feed (the broadcast's start, for the baseline) to the last delivery. */
  fanOut: number;
}

function report(n: number, transport: string, rounds: Round[], bytesPerConnection: number) {
  // Per round: from the response (the broadcast's start, for the baseline) to the last delivery.
  const lasts = rounds.map((round) => Math.max(...round.times)).sort((a, b) => a - b);
  const fromRequest = median(rounds.map((round) => round.since + Math.max(...round.times)));
  const fanOuts = rounds.map((round) => round.fanOut).sort((a, b) => a - b);
  const kib = (bytesPerConnection / 1024).toFixed(1);
  console.log(
    `| ${n} | ${transport} | ${percentile(fanOuts, 50).toFixed(1)} | ${percentile(fanOuts, 99).toFixed(1)} | ${percentile(lasts, 50).toFixed(1)} | ${percentile(lasts, 99).toFixed(1)} | ${fromRequest.toFixed(1)} | ${kib} KiB |`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
