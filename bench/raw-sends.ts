// What one WebSocket send costs on this machine, with no GraphQL at all: a plain `ws` server sends
// a 1,000-byte message to N sockets held by two client processes, round after round, and reports
// the server's CPU time per send and the time a round took. Four ways of sending, alternated:
//
// - one loop:           every socket in one turn of the event loop, one shared Buffer;
// - 100 a turn:         the same, yielding (setImmediate) after every 100 sends, as the server's
//                       fan-out does (src/events/pacer.ts);
// - 100 a turn, string: one shared string, which `ws` encodes for every socket;
// - 100 a turn, own string: a string built for each socket (its own id), as graphql-ws frames are.
//
// And three that put 20 µs of work (a busy wait) before each send, as the server's fan-out does
// its own work for each subscriber: each send right after its work; the work alone, no sends (to
// subtract); and each send queued, the turn's sends written together at its end.
//
// With --parse, the clients also decode and JSON.parse every message, as a graphql-ws client does,
// so that what the receivers do can be told apart from what the server does.
//
//   node --import tsx bench/raw-sends.ts [--sockets 5000] [--rounds 20] [--parse]
import { fork, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { WebSocket, WebSocketServer } from 'ws';
import { percentile } from './server-process';

const PAYLOAD_BYTES = 1000;

function value(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
}

/**
 * Client mode: opens `count` sockets to `url`, reports when all are open and how many messages
 * came; with `parse`, parses each one.
 */
function clients(url: string, count: number, parse: boolean): void {
  let open = 0;
  let received = 0;
  for (let i = 0; i < count; i++) {
    const socket = new WebSocket(url);
    socket.on('open', () => ++open === count && process.send!({ open: true }));
    socket.on('message', (data) => {
      if (parse) JSON.parse((data as Buffer).toString());
      received++;
    });
  }
  setInterval(() => process.send!({ received }), 20);
}

type Send = (socket: WebSocket, index: number) => void;

async function main(): Promise<void> {
  const sockets = value('--sockets', 5000);
  const rounds = value('--rounds', 20);
  const parse = process.argv.includes('--parse');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const received = [0, 0];
  const children: ChildProcess[] = [0, 1].map((i) => {
    const child = fork(__filename, ['--clients', url, String(sockets / 2), String(parse)], {
      execArgv: process.execArgv,
    });
    child.on('message', (message: { received?: number }) => {
      if (message.received !== undefined) received[i] = message.received;
    });
    return child;
  });
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => child.on('message', (message: { open?: boolean }) => message.open && resolve())),
    ),
  );
  const all = [...wss.clients];
  // JSON, so that the clients can parse it: {"payload":"xxx..."} in PAYLOAD_BYTES.
  const text = JSON.stringify({ payload: 'x'.repeat(PAYLOAD_BYTES - 14) });
  const buffer = Buffer.from(text);
  let expected = 0;

  const round = async (send: Send, batch: number, sends: boolean) => {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let i = 0; i < all.length; i++) {
      send(all[i]!, i);
      if (batch > 0 && (i + 1) % batch === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const used = process.cpuUsage(cpu);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (sends) expected += all.length;
    while (received[0]! + received[1]! < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { ms, cpuMicros: (used.user + used.system) / all.length };
  };

  const work = () => {
    const until = process.hrtime.bigint() + 20_000n;
    while (process.hrtime.bigint() < until);
  };
  const queued: WebSocket[] = [];
  /** Name, what it does for each socket, sockets per turn (0: all in one), and whether it sends. */
  const ways: [string, Send, number, sends?: boolean][] = [
    ['one loop', (socket) => socket.send(buffer), 0],
    ['100 a turn', (socket) => socket.send(buffer), 100],
    ['100 a turn, string', (socket) => socket.send(text), 100],
    ['100 a turn, own string', (socket, i) => socket.send(`{"id":"${i}","payload":${text}}`), 100],
    [
      '100 a turn, 20 µs of work then a send',
      (socket) => {
        work();
        socket.send(buffer);
      },
      100,
    ],
    ['100 a turn, the 20 µs of work alone', () => work(), 100, false],
    [
      "100 a turn, 20 µs of work each, the turn's sends together",
      (socket) => {
        work();
        if (queued.push(socket) === 1) process.nextTick(() => queued.splice(0).forEach((each) => each.send(buffer)));
      },
      100,
    ],
  ];
  const results = new Map<string, { ms: number[]; cpu: number[] }>(ways.map(([name]) => [name, { ms: [], cpu: [] }]));
  const loads: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, send, batch, sends = true] of ways) {
      loads.push(os.loadavg()[0]!);
      for (let i = 0; i < rounds / 2; i++) {
        const { ms, cpuMicros } = await round(send, batch, sends);
        results.get(name)!.ms.push(ms);
        results.get(name)!.cpu.push(cpuMicros);
      }
    }
  }
  const baseline = percentile(results.get('one loop')!.cpu, 50);
  console.log(
    `${sockets} sockets in 2 client processes${parse ? ' that parse every message' : ''}, ${rounds} rounds each (two passes), a ${PAYLOAD_BYTES}-byte message; ` +
      `node ${process.version}, ${os.cpus().length} cores, load ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}\n`,
  );
  console.log('| how | round p50 ms | server CPU µs per send, p50 | ÷ one loop |\n|---|---|---|---|');
  for (const [name, { ms, cpu }] of results) {
    const perSend = percentile(cpu, 50);
    console.log(
      `| ${name} | ${percentile(ms, 50).toFixed(1)} | ${perSend.toFixed(1)} | ${(perSend / baseline).toFixed(2)} × |`,
    );
  }
  children.forEach((child) => child.kill());
  wss.close();
}

if (process.argv[2] === '--clients') clients(process.argv[3]!, Number(process.argv[4]), process.argv[5] === 'true');
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
