// The client side of bench/slow-consumers.ts, in its own process: N graphql-ws sockets (the
// protocol spoken directly over `ws`, so a socket can be paused), each subscribed to
// `commentAdded(bugId)`. Every `stallEvery`-th socket stops reading after its first event; the
// others check that each writer's comments arrive complete and in the order it wrote them.
import WebSocket from 'ws';

export type ClientCommand =
  | { kind: 'open'; url: string; tokens: string[]; n: number; stallEvery: number; bugId: string; query: string }
  | { kind: 'warm-up' }
  | { kind: 'stall' }
  | { kind: 'progress' }
  | { kind: 'resume-stalled'; waitMs: number }
  | { kind: 'close' };

export interface ClientReport {
  /** Sockets opened and acknowledged, and those refused before their ack (close code: count). */
  opened?: number;
  refused?: Record<string, number>;
  readers?: ReaderSummary;
  stalled?: StalledSummary;
}

export interface ReaderSummary {
  sockets: number;
  /** Events each reader received after the warm-up one: the fewest and the most. */
  minEvents: number;
  maxEvents: number;
  /** Bytes each reader received after the warm-up, the fewest. */
  minBytes: number;
  /** Readers with an event missing, repeated or out of its writer's order. */
  outOfOrder: number;
  /** Readers whose socket closed (code: count), and `error` messages received (code: count). */
  closed: Record<string, number>;
  errors: Record<string, number>;
  /** When each reader had its last event (ms since the epoch): the latest. */
  lastEventAt: number;
}

export interface StalledSummary {
  sockets: number;
  /** How each stalled socket ended once it read again (close code: count; `open` if it did not close). */
  closes: Record<string, number>;
  /** Events a stalled socket read once resumed (what the kernel and the server had queued): fewest and most. */
  minEventsAfterResume: number;
  maxEventsAfterResume: number;
  /** Bytes the readers had received when the stalled sockets were resumed. */
  resumedAtReaderBytes: number;
}

const BODY = /"body":"w(\d+)-(\d+)"/;

class Subscriber {
  readonly socket: WebSocket;
  events = 0;
  bytes = 0;
  warm = false;
  broken = false;
  readonly lastSeq = new Map<number, number>();
  lastEventAt = 0;
  closeCode: number | undefined;
  errors: string[] = [];
  eventsAtResume = 0;
  acked: Promise<boolean>;

  constructor(url: string, token: string, bugId: string, query: string) {
    this.socket = new WebSocket(url, 'graphql-transport-ws');
    this.acked = new Promise((resolve) => {
      this.socket.on('open', () =>
        this.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
      );
      this.socket.on('close', (code) => {
        this.closeCode = code;
        resolve(false);
      });
      this.socket.on('error', () => undefined); // the close that follows is what counts
      this.socket.on('message', (data: Buffer) => {
        const text = data.toString('utf8');
        if (text.includes('"type":"next"')) return this.next(text);
        const message = JSON.parse(text) as { type: string; payload?: { extensions?: { code?: string } }[] };
        if (message.type === 'connection_ack') {
          this.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { bugId } } }));
          resolve(true);
        } else if (message.type === 'ping') {
          this.socket.send(JSON.stringify({ type: 'pong' }));
        } else if (message.type === 'error') {
          this.errors.push(message.payload?.[0]?.extensions?.code ?? 'error');
        }
      });
    });
  }

  private next(text: string): void {
    if (!this.warm) {
      this.warm = true; // the warm-up event proves the subscription is live; it is not counted
      return;
    }
    this.events++;
    this.bytes += text.length;
    this.lastEventAt = Date.now();
    const match = BODY.exec(text);
    if (match === null) {
      this.broken = true;
      return;
    }
    const writer = Number(match[1]);
    const seq = Number(match[2]);
    // Each writer numbers its comments 1, 2, 3... and waits for each response: a reader must see
    // every number, once, in that order.
    if (seq !== (this.lastSeq.get(writer) ?? 0) + 1) this.broken = true;
    this.lastSeq.set(writer, seq);
  }
}

let subscribers: Subscriber[] = [];
let stalled: Subscriber[] = [];
let readers: Subscriber[] = [];
let resumedAtReaderBytes = NaN;

const reply = (report: ClientReport) => process.send!(report);
const count = (values: (string | number | undefined)[]) =>
  values.reduce<Record<string, number>>((counts, value) => {
    const key = String(value ?? 'open');
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

async function open(command: Extract<ClientCommand, { kind: 'open' }>): Promise<ClientReport> {
  for (let i = 0; i < command.n; i += 100) {
    const batch = Array.from(
      { length: Math.min(100, command.n - i) },
      (_, j) =>
        new Subscriber(command.url, command.tokens[(i + j) % command.tokens.length]!, command.bugId, command.query),
    );
    subscribers.push(...batch);
    await Promise.all(batch.map((subscriber) => subscriber.acked));
  }
  stalled = subscribers.filter((_, i) => i % command.stallEvery === command.stallEvery - 1);
  readers = subscribers.filter((_, i) => i % command.stallEvery !== command.stallEvery - 1);
  const refused = subscribers.filter((subscriber) => subscriber.closeCode !== undefined);
  return { opened: subscribers.length - refused.length, refused: count(refused.map((s) => s.closeCode)) };
}

async function warmUp(): Promise<void> {
  while (subscribers.some((subscriber) => !subscriber.warm && subscriber.closeCode === undefined)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function readerSummary(): ReaderSummary {
  const events = readers.map((reader) => reader.events);
  return {
    sockets: readers.length,
    minEvents: Math.min(...events),
    maxEvents: Math.max(...events),
    minBytes: Math.min(...readers.map((reader) => reader.bytes)),
    outOfOrder: readers.filter((reader) => reader.broken).length,
    closed: count(readers.filter((r) => r.closeCode !== undefined).map((r) => r.closeCode)),
    errors: count(readers.flatMap((reader) => reader.errors)),
    lastEventAt: Math.max(...readers.map((reader) => reader.lastEventAt)),
  };
}

/** Lets the stalled sockets read again and waits up to `waitMs` for each to see its close. */
async function resumeStalled(waitMs: number): Promise<StalledSummary> {
  resumedAtReaderBytes = Math.min(...readers.map((reader) => reader.bytes));
  for (const subscriber of stalled) {
    subscriber.eventsAtResume = subscriber.events;
    subscriber.socket.resume();
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && stalled.some((subscriber) => subscriber.closeCode === undefined)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const after = stalled.map((subscriber) => subscriber.events - subscriber.eventsAtResume);
  return {
    sockets: stalled.length,
    closes: count(stalled.map((subscriber) => subscriber.closeCode)),
    minEventsAfterResume: Math.min(...after),
    maxEventsAfterResume: Math.max(...after),
    resumedAtReaderBytes,
  };
}

process.on('message', (command: ClientCommand) => {
  void (async () => {
    switch (command.kind) {
      case 'open':
        return reply(await open(command));
      case 'warm-up':
        await warmUp();
        return reply({});
      case 'stall':
        // Stop reading at the TCP level: the kernel's buffers fill, then the server's.
        for (const subscriber of stalled) subscriber.socket.pause();
        return reply({});
      case 'progress':
        return reply({ readers: readerSummary() });
      case 'resume-stalled':
        return reply({ stalled: await resumeStalled(command.waitMs), readers: readerSummary() });
      case 'close':
        for (const subscriber of subscribers) subscriber.socket.terminate();
        subscribers = [];
        return reply({});
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
