// The hostile client of bench/attack.ts, in its own process with its own connections: query bombs
// over HTTP and floods over WebSocket, as one signed-in member of the seeded project. It tallies
// how each attempt was answered (HTTP status and error code, graphql-ws error code, close code).
import fs from 'node:fs';
import WebSocket from 'ws';
import { causeOf } from './server-process';

export type HostileCommand =
  /** Every attack, over and over, until `stop`. */
  | { kind: 'loop'; url: string; token: string; httpWorkers: number; floodWorkers: number }
  /** Every attack once, one after the other, each cut off after `timeoutMs`; the server's peak RSS per attack. */
  | { kind: 'once'; url: string; token: string; timeoutMs: number; serverPid: number }
  | { kind: 'stop' };

export interface Tally {
  attack: string;
  /** Attempts: requests, subscribe messages, sockets or frames. */
  sent: number;
  /** How they were answered: "400 QUERY_TOO_COMPLEX (MAX_QUERY_DEPTH)", "close 4429", ... : count. */
  answers: Record<string, number>;
  /** Milliseconds from sending to the answer (for floods: to the socket's end). */
  ms: number[];
  /** The server's peak RSS during this attack (once mode only), in bytes. */
  peakRss?: number;
  /** When this attack ran (once mode only), ms since the epoch. */
  startedAt?: number;
  endedAt?: number;
}

export interface HostileReport {
  tallies: Tally[];
}

const HTTP_ATTACKS = ['nested list bomb', 'cost bomb', 'alias bomb', 'deep document', 'oversized body'] as const;
type HttpAttack = (typeof HTTP_ATTACKS)[number];

/** The nested-list bomb: 100 × 100 × 100 × 100 comments, 15 levels deep. */
const NESTED = `{ bugs(first: 100) { edges { node { comments(first: 100) { edges { node { bug { project { bugs(first: 100) { edges { node { comments(first: 100) { edges { node { body } } } } } } } } } } } } } } }`;
/** Within the depth limit (11 levels) but 100 × 100 × 100 comments: only the cost limit stops it. */
const COST = `{ bugs(first: 100) { edges { node { comments(first: 100) { edges { node { bug { comments(first: 100) { edges { node { body } } } } } } } } } } }`;
/** 1,000 aliases of a page of 100 bugs. */
const ALIASES = `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: bugs(first: 100) { edges { node { title } } }`).join(' ')} }`;
/** 4,000 levels of selection sets: the parser's recursion, whatever the fields. */
const DEEP = `{ ${'a { '.repeat(3999)}a${' }'.repeat(3999)} }`;
/** 2 MiB of JSON around a trivial query. */
const OVERSIZED = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } });

const FLOOD_MESSAGES = 500;
const FLOOD_SUBSCRIPTION = 'subscription { bugChanged { cursor } }';
const PACED_MESSAGES = 150;
const PACED_PER_SECOND = 40;
const SOCKETS_AT_ONCE = 25;
const BIG_FRAME_BYTES = 2 * 1024 * 1024;

const tallies = new Map<string, Tally>();
function tally(attack: string): Tally {
  let entry = tallies.get(attack);
  if (entry === undefined) tallies.set(attack, (entry = { attack, sent: 0, answers: {}, ms: [] }));
  return entry;
}
const record = (entry: Tally, answer: string) => (entry.answers[answer] = (entry.answers[answer] ?? 0) + 1);

let stopping = false;
const inFlight = new Set<AbortController>();
const openSockets = new Set<WebSocket>();

/** One HTTP attack; the answer as "status code (limit)". */
async function httpAttack(url: string, token: string, attack: HttpAttack, timeoutMs: number): Promise<void> {
  const entry = tally(attack);
  entry.sent++;
  const abort = new AbortController();
  inFlight.add(abort);
  const timer = setTimeout(() => abort.abort(new Error('timeout')), timeoutMs);
  const started = performance.now();
  try {
    const body = attack === 'oversized body' ? OVERSIZED : JSON.stringify({ query: queryOf(attack) });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      signal: abort.signal,
    });
    const text = await response.text();
    entry.ms.push(performance.now() - started);
    record(entry, describeHttp(response.status, text));
  } catch (error) {
    if (stopping) return; // cut off by `stop`, not answered
    entry.ms.push(performance.now() - started);
    record(entry, abort.signal.aborted ? `no answer in ${timeoutMs / 1000} s` : `network error: ${causeOf(error)}`);
  } finally {
    clearTimeout(timer);
    inFlight.delete(abort);
  }
}

function queryOf(attack: Exclude<HttpAttack, 'oversized body'>): string {
  return { 'nested list bomb': NESTED, 'cost bomb': COST, 'alias bomb': ALIASES, 'deep document': DEEP }[attack];
}

function describeHttp(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as {
      data?: unknown;
      errors?: { message?: string; extensions?: { code?: string; limit?: string } }[];
    };
    const error = body.errors?.[0];
    if (error === undefined) return `${status} data`;
    const code = error.extensions?.code ?? `"${error.message?.slice(0, 60)}"`;
    return `${status} ${code}${error.extensions?.limit ? ` (${error.extensions.limit})` : ''}`;
  } catch {
    return `${status} ${text.length > 0 ? 'not JSON' : 'empty'}`;
  }
}

/** Opens a graphql-ws socket and sends `connection_init`; resolves at the ack, or at the close that came instead. */
function connect(
  url: string,
  token: string,
  onMessage: (message: { type: string; payload?: unknown }) => void,
): Promise<{ socket: WebSocket; acked: boolean; closed: Promise<number> }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  openSockets.add(socket);
  const closed = new Promise<number>((resolve) =>
    socket.once('close', (code) => {
      openSockets.delete(socket);
      resolve(code);
    }),
  );
  socket.on('error', () => undefined); // the close that follows is what counts
  return new Promise((resolve) => {
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve({ socket, acked: true, closed });
      else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      else onMessage(message);
    });
    void closed.then(() => resolve({ socket, acked: false, closed }));
  });
}

const errorCode = (errors: unknown) =>
  (errors as { extensions?: { code?: string } }[] | undefined)?.[0]?.extensions?.code ?? 'no code';

/**
 * Tallies an operation's answer: an `error` message (refused before it started, e.g.
 * TOO_MANY_OPERATIONS), or a `next` carrying errors (refused as it started: RATE_LIMITED comes
 * this way, followed by `complete`). Subscriptions that start send nothing until an event.
 */
function answerOf(entry: Tally): (message: { type: string; payload?: unknown }) => void {
  return (message) => {
    if (message.type === 'error') record(entry, `error ${errorCode(message.payload)}`);
    if (message.type === 'next') {
      const errors = (message.payload as { errors?: unknown } | undefined)?.errors;
      record(entry, errors === undefined ? 'next (data)' : `next with error ${errorCode(errors)}`);
    }
  };
}

/**
 * One socket: FLOOD_MESSAGES subscribe messages as fast as the socket takes them, then up to a
 * second for the server's answers; each `error` message and the close code are tallied.
 */
async function subscribeFlood(url: string, token: string): Promise<void> {
  const entry = tally('subscribe flood (messages)');
  const started = performance.now();
  const { socket, acked, closed } = await connect(url, token, answerOf(entry));
  if (!acked) {
    const code = await closed;
    if (!stopping) record(entry, `refused: close ${code}`);
    return;
  }
  for (let id = 1; id <= FLOOD_MESSAGES && socket.readyState === WebSocket.OPEN; id++) {
    socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: FLOOD_SUBSCRIPTION } }));
    entry.sent++;
  }
  const code = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, 1000))]);
  if (stopping) return;
  record(entry, code === undefined ? 'socket still open after 1 s' : `close ${code}`);
  entry.ms.push(performance.now() - started);
  if (code === undefined) {
    socket.close(1000);
    await closed;
  }
}

/**
 * One socket: PACED_MESSAGES subscribe messages at PACED_PER_SECOND, under the messages-per-second
 * limit, so the per-socket operation limit and the per-user operation rate limit get their turn.
 */
async function pacedFlood(url: string, token: string): Promise<void> {
  const entry = tally(`paced subscribes (${PACED_PER_SECOND}/s)`);
  const started = performance.now();
  const { socket, acked, closed } = await connect(url, token, answerOf(entry));
  if (!acked) {
    const code = await closed;
    if (!stopping) record(entry, `refused: close ${code}`);
    return;
  }
  for (let id = 1; id <= PACED_MESSAGES && socket.readyState === WebSocket.OPEN && !stopping; id++) {
    socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: FLOOD_SUBSCRIPTION } }));
    entry.sent++;
    await new Promise((resolve) => setTimeout(resolve, 1000 / PACED_PER_SECOND));
  }
  const code = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, 500))]);
  if (stopping) return;
  record(entry, code === undefined ? 'socket still open after the last message' : `close ${code}`);
  entry.ms.push(performance.now() - started);
  if (code === undefined) {
    socket.close(1000);
    await closed;
  }
}

/** SOCKETS_AT_ONCE sockets for one user at once: how many are acknowledged, how the rest are closed. */
async function socketsAtOnce(url: string, token: string): Promise<void> {
  const entry = tally(`${SOCKETS_AT_ONCE} sockets at once`);
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: SOCKETS_AT_ONCE }, async () => {
      entry.sent++;
      const result = await connect(url, token, () => undefined);
      const answer = result.acked ? 'acknowledged' : `close ${await result.closed}`;
      if (!stopping) record(entry, answer);
      return result;
    }),
  );
  entry.ms.push(performance.now() - started);
  for (const { socket, acked, closed } of results) {
    if (acked) {
      socket.close(1000);
      await closed;
    }
  }
}

/** One 2 MiB frame (a valid subscribe message padded with variables). */
async function bigFrame(url: string, token: string): Promise<void> {
  const entry = tally('2 MiB WebSocket frame');
  const started = performance.now();
  const { socket, acked, closed } = await connect(url, token, answerOf(entry));
  entry.sent++;
  if (!acked) {
    const code = await closed;
    if (!stopping) record(entry, `refused: close ${code}`);
    return;
  }
  socket.send(
    JSON.stringify({
      id: '1',
      type: 'subscribe',
      payload: { query: FLOOD_SUBSCRIPTION, variables: { pad: 'x'.repeat(BIG_FRAME_BYTES) } },
    }),
  );
  const code = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, 2000))]);
  entry.ms.push(performance.now() - started);
  record(entry, code === undefined ? 'socket still open after 2 s' : `close ${code}`);
  if (code === undefined) {
    socket.close(1000);
    await closed;
  }
}

async function loop(command: Extract<HostileCommand, { kind: 'loop' }>): Promise<void> {
  const { url, token } = command;
  const workers: Promise<void>[] = [];
  workers.push(socketsAtOnce(url, token).then(() => bigFrame(url, token)));
  for (let w = 0; w < command.httpWorkers; w++) {
    workers.push(
      (async () => {
        for (let i = w; !stopping; i++) await httpAttack(url, token, HTTP_ATTACKS[i % HTTP_ATTACKS.length]!, 60_000);
      })(),
    );
  }
  for (let w = 0; w < command.floodWorkers; w++) {
    workers.push(
      (async () => {
        while (!stopping) await subscribeFlood(url, token);
      })(),
    );
  }
  workers.push(
    (async () => {
      while (!stopping) await pacedFlood(url, token);
    })(),
  );
  await Promise.all(workers);
}

async function once(command: Extract<HostileCommand, { kind: 'once' }>): Promise<void> {
  const { url, token, timeoutMs, serverPid } = command;
  const measured = async (attack: string, run: () => Promise<void>) => {
    fs.writeFileSync(`/proc/${serverPid}/clear_refs`, '5');
    const startedAt = Date.now();
    await run();
    Object.assign(tally(attack), { startedAt, endedAt: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${serverPid}/status`, 'utf8'))?.[1];
    tally(attack).peakRss = Number(kib) * 1024;
  };
  for (const attack of HTTP_ATTACKS) await measured(attack, () => httpAttack(url, token, attack, timeoutMs));
  await measured('subscribe flood (messages)', () => subscribeFlood(url, token));
  await measured(`paced subscribes (${PACED_PER_SECOND}/s)`, () => pacedFlood(url, token));
  await measured(`${SOCKETS_AT_ONCE} sockets at once`, () => socketsAtOnce(url, token));
  await measured('2 MiB WebSocket frame', () => bigFrame(url, token));
}

let running: Promise<void> = Promise.resolve();
process.on('message', (command: HostileCommand) => {
  switch (command.kind) {
    case 'loop':
      running = loop(command);
      return;
    case 'once':
      running = once(command);
      void running.then(() => process.send!({ tallies: [...tallies.values()] } satisfies HostileReport));
      return;
    case 'stop':
      stopping = true;
      for (const abort of inFlight) abort.abort(new Error('stopped'));
      for (const socket of openSockets) socket.terminate();
      void running.then(() => process.send!({ tallies: [...tallies.values()] } satisfies HostileReport));
      return;
  }
});
