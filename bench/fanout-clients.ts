// The subscribers of bench/fanout.ts and bench/soak.ts, in a process of their own (or several), so
// the server's memory and event loop are its own. Each socket speaks the graphql-ws protocol
// directly over `ws` (or, for the raw baseline, nothing at all), and every message it receives goes
// through the same handler, so both transports are timed the same way: the moment the message
// event fires, in performance.timeOrigin-based milliseconds, comparable across processes.
//
// Sockets live in named groups. Socket i of a group (i counting across every process and every
// `open` of the group) signs in as tokens[i % tokens.length] and runs
// operations[floor(i / tokens.length) % operations.length], so each user holds every operation.
import WebSocket from 'ws';

export interface Operation {
  query: string;
  variables: Record<string, unknown>;
}

export type ClientCommand =
  /**
   * Opens `count` sockets as sockets `first`.. of the group, `batch` at a time (each batch connected
   * and its `subscribe` sent before the next), or all at once with `batch: 0`. Replies once every
   * socket has its `connection_ack` (graphql-ws) or is open (raw) and has sent its `subscribe`.
   */
  | {
      kind: 'open';
      group: string;
      url: string;
      transport: 'graphql-ws' | 'raw';
      first: number;
      count: number;
      batch: number;
      /** graphql-ws only (a raw socket needs neither): socket i's token and operation, as above. */
      tokens: string[];
      operations: Operation[];
      /** Keep every event each socket receives (cursor, comment id, time), for `await-events`. */
      record?: boolean;
    }
  /** Forget which sockets have had a message: `collect` then waits for the next one on each. */
  | { kind: 'arm'; group: string }
  /** When each socket of the group received its first message since `arm`; gives up after `timeoutMs`. */
  | { kind: 'collect'; group: string; timeoutMs: number }
  /** Starts counting the group's messages afresh, for `await-messages`. */
  | { kind: 'mark'; group: string }
  /** Waits until the group has received `perSocket` messages per socket since `mark` (or `timeoutMs` passed). */
  | { kind: 'await-messages'; group: string; perSocket: number; timeoutMs: number }
  /**
   * Waits until every socket of the group has received the comments `commentIds` (counting every
   * connection it has had), and reports whether each got exactly those, in that order, each once,
   * with rising cursors (a recording group only).
   */
  | { kind: 'await-events'; group: string; commentIds: string[]; timeoutMs: number }
  /**
   * Every socket of the group, whatever closed it, opens again at once to `url` and subscribes
   * with `after` set to the cursor of the last event it received. Replies once all are created.
   */
  | { kind: 'reconnect'; group: string; url: string }
  /** Waits until every socket of the group has closed (or `timeoutMs` passed). */
  | { kind: 'await-closed'; group: string; timeoutMs: number }
  /** The largest `next` frame the group has received. */
  | { kind: 'sample'; group: string }
  /** Closes the group's `count` oldest sockets (all of them if left out). */
  | { kind: 'close'; group: string; count?: number }
  /** Open sockets, how the others ended, and messages since `mark`, for the soak. */
  | { kind: 'stats'; group: string };

export interface ClientReport {
  /** `open`: sockets ready, and those closed before they were (how they closed: count). */
  opened?: number;
  refused?: Record<string, number>;
  /** `open`: when the first socket was created and when the last was ready (`reconnect`: created). */
  startedAt?: number;
  readyAt?: number;
  /** `collect`: each socket's arrival time; sockets that had nothing by the timeout. */
  times?: number[];
  missing?: number;
  /** `await-messages`: messages received since `mark`, and when the last one arrived. */
  total?: number;
  lastAt?: number;
  events?: EventsSummary;
  sample?: string;
  stats?: { open: number; closed: Record<string, number>; errors: Record<string, number>; messages: number };
}

export interface EventsSummary {
  sockets: number;
  /** Sockets that got exactly the expected comments, in order, each once, with rising cursors. */
  exact: number;
  /** Sockets that got something else: a gap, a repeat, another order, an unexpected event. */
  wrong: number;
  /** Sockets still short of the expected events at the timeout. */
  short: number;
  /** When each exact socket had its last expected event. */
  doneAt: number[];
  /** When each socket had its `connection_ack` (and sent `subscribe`). */
  readyAt: number[];
  closed: Record<string, number>;
  errors: Record<string, number>;
}

const now = () => performance.timeOrigin + performance.now();
const CURSOR = /"cursor":"([\w-]+)"/;
const COMMENT_ID = /"comment":\{"id":"([^"]+)"/;

/**
 * The position inside a cursor, when it is src/events/event.ts's `base64url("event:<position>")`;
 * undefined otherwise (then only the comment ids are checked).
 */
function positionOf(cursor: string): bigint | undefined {
  const match = /^event:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match === null ? undefined : BigInt(match[1]!);
}

interface Received {
  at: number;
  cursor: string;
  commentId: string | undefined;
}

class Socket {
  ws!: WebSocket;
  /** Resolves true once ready (acknowledged and subscribed), false if it closed first. */
  ready!: Promise<boolean>;
  readyAt: number | undefined;
  /** The first message since the group was armed. */
  arrival: number | undefined;
  lastCursor: string | undefined;
  /** Every event received (recording groups only), over every connection the socket has had. */
  received: Received[] = [];
  closeCode: number | undefined;
  /** How it closed: the code, how far it had got, and the socket error if there was one (`1006 before open: ECONNRESET`). */
  closedHow: string | undefined;
  errors: string[] = [];

  constructor(
    private readonly group: Group,
    /** graphql-ws only: a raw socket signs in to nothing and subscribes to nothing. */
    private readonly token: string | undefined,
    private readonly operation: Operation | undefined,
  ) {}

  connect(url: string, after?: string): void {
    this.closeCode = undefined;
    this.closedHow = undefined;
    this.readyAt = undefined;
    const raw = this.group.transport === 'raw';
    const ws = (this.ws = raw ? new WebSocket(url) : new WebSocket(url, 'graphql-transport-ws'));
    const operation = this.operation;
    const variables = after === undefined ? operation?.variables : { ...operation?.variables, after };
    // A socket replaced by `reconnect` may still report its end: only the current one counts.
    const current = () => this.ws === ws;
    let stage = 'before open';
    let error: string | undefined;
    this.ready = new Promise((resolve) => {
      ws.on('open', () => {
        stage = raw ? 'after open' : 'before ack';
        if (raw) {
          this.readyAt = now();
          return resolve(true);
        }
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${this.token}` } }));
      });
      ws.on('close', (code) => {
        if (current()) {
          this.closeCode = code;
          this.closedHow = `${code} ${stage}${error === undefined ? '' : `: ${error}`}`;
        }
        resolve(false);
      });
      // The close that follows says how it ended.
      ws.on('error', (cause: NodeJS.ErrnoException) => (error ??= cause.code ?? cause.message));
      ws.on('message', (data: Buffer) => {
        const at = now();
        if (!current()) return;
        const text = data.toString('utf8');
        if (text.includes('"type":"next"')) return this.next(at, text);
        const message = JSON.parse(text) as { type: string; payload?: { extensions?: { code?: string } }[] };
        if (message.type === 'connection_ack') {
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: operation?.query, variables } }));
          stage = 'after ack';
          this.readyAt = now();
          resolve(true);
        } else if (message.type === 'ping') {
          ws.send(JSON.stringify({ type: 'pong' }));
        } else if (message.type === 'error') {
          this.errors.push(message.payload?.[0]?.extensions?.code ?? 'error');
        }
      });
    });
  }

  /** The same work for a graphql-ws event and a raw broadcast: take the time, find the cursor. */
  private next(at: number, text: string): void {
    const group = this.group;
    group.messages++;
    group.lastAt = at;
    const cursor = CURSOR.exec(text)?.[1] ?? '';
    this.lastCursor = cursor;
    if (group.record) this.received.push({ at, cursor, commentId: COMMENT_ID.exec(text)?.[1] });
    if (text.length > group.sample.length) group.sample = text;
    if (group.armed && this.arrival === undefined) {
      this.arrival = at;
      if (--group.pending === 0) group.onArrivals?.();
    }
  }
}

class Group {
  sockets: Socket[] = [];
  messages = 0;
  marked = 0;
  lastAt = 0;
  sample = '';
  armed = false;
  pending = 0;
  onArrivals: (() => void) | undefined;
  constructor(
    readonly transport: 'graphql-ws' | 'raw',
    readonly record: boolean,
  ) {}
}

const groups = new Map<string, Group>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tally = (values: (string | number | undefined)[]) =>
  values.reduce<Record<string, number>>((counts, value) => {
    const key = String(value ?? 'open');
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

function groupOf(name: string): Group {
  const group = groups.get(name);
  if (group === undefined) throw new Error(`No group ${name}`);
  return group;
}

async function open(command: Extract<ClientCommand, { kind: 'open' }>): Promise<ClientReport> {
  let group = groups.get(command.group);
  if (group === undefined) groups.set(command.group, (group = new Group(command.transport, command.record ?? false)));
  const { tokens, operations } = command;
  const created: Socket[] = [];
  const startedAt = now();
  const batch = command.batch > 0 ? command.batch : command.count;
  for (let start = 0; start < command.count; start += batch) {
    const sockets = Array.from({ length: Math.min(batch, command.count - start) }, (_, j) => {
      const i = command.first + start + j;
      const socket = new Socket(
        group,
        tokens[i % tokens.length],
        operations[Math.floor(i / Math.max(1, tokens.length)) % operations.length],
      );
      socket.connect(command.url);
      return socket;
    });
    created.push(...sockets);
    await Promise.all(sockets.map((socket) => socket.ready));
  }
  const readyAt = now();
  group.sockets.push(...created);
  const refused = created.filter((socket) => socket.closeCode !== undefined);
  return {
    opened: created.length - refused.length,
    refused: tally(refused.map((s) => s.closedHow)),
    startedAt,
    readyAt,
  };
}

function arm(group: Group): void {
  group.armed = true;
  group.pending = group.sockets.length;
  for (const socket of group.sockets) socket.arrival = undefined;
}

async function collect(group: Group, timeoutMs: number): Promise<ClientReport> {
  if (group.pending > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      group.onArrivals = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  group.onArrivals = undefined;
  group.armed = false;
  const times = group.sockets.flatMap((socket) => (socket.arrival === undefined ? [] : [socket.arrival]));
  return { times, missing: group.sockets.length - times.length };
}

async function awaitMessages(group: Group, perSocket: number, timeoutMs: number): Promise<ClientReport> {
  const deadline = now() + timeoutMs;
  const total = group.marked + perSocket * group.sockets.length;
  while (group.messages < total && now() < deadline) await sleep(20);
  return { total: group.messages - group.marked, lastAt: group.lastAt };
}

/** Whether a socket's events are exactly `commentIds`, in order, with rising cursors. */
function exact(received: Received[], commentIds: string[]): boolean {
  if (received.length !== commentIds.length) return false;
  let previous: bigint | undefined;
  return received.every((event, i) => {
    const position = positionOf(event.cursor);
    const rising = previous === undefined || position === undefined || position > previous;
    previous = position;
    return rising && event.commentId === commentIds[i];
  });
}

async function awaitEvents(group: Group, commentIds: string[], timeoutMs: number): Promise<ClientReport> {
  const deadline = now() + timeoutMs;
  const behind = () => group.sockets.some((s) => s.received.length < commentIds.length && s.closeCode === undefined);
  while (behind() && now() < deadline) await sleep(20);
  const sockets = group.sockets;
  const exactOnes = sockets.filter((socket) => exact(socket.received, commentIds));
  const short = sockets.filter((socket) => socket.received.length < commentIds.length).length;
  return {
    events: {
      sockets: sockets.length,
      exact: exactOnes.length,
      wrong: sockets.length - exactOnes.length - short,
      short,
      doneAt: exactOnes.map((socket) => socket.received.at(-1)!.at),
      readyAt: sockets.flatMap((socket) => (socket.readyAt === undefined ? [] : [socket.readyAt])),
      closed: tally(sockets.filter((s) => s.closeCode !== undefined).map((s) => s.closedHow)),
      errors: tally(sockets.flatMap((socket) => socket.errors)),
    },
  };
}

function reconnect(group: Group, url: string): ClientReport {
  const startedAt = now();
  for (const socket of group.sockets) {
    socket.ws.terminate();
    socket.connect(url, socket.lastCursor);
  }
  return { startedAt, readyAt: now() };
}

async function awaitClosed(group: Group, timeoutMs: number): Promise<ClientReport> {
  const deadline = now() + timeoutMs;
  while (group.sockets.some((socket) => socket.closeCode === undefined) && now() < deadline) await sleep(20);
  return { missing: group.sockets.filter((socket) => socket.closeCode === undefined).length };
}

function close(group: Group, count = group.sockets.length): void {
  for (const socket of group.sockets.splice(0, count)) socket.ws.terminate();
}

function stats(group: Group): ClientReport {
  const open = group.sockets.filter((socket) => socket.closeCode === undefined);
  const closed = group.sockets.filter((socket) => socket.closeCode !== undefined);
  return {
    stats: {
      open: open.length,
      closed: tally(closed.map((socket) => socket.closedHow)),
      errors: tally(group.sockets.flatMap((socket) => socket.errors)),
      messages: group.messages - group.marked,
    },
  };
}

async function handle(command: ClientCommand): Promise<ClientReport> {
  switch (command.kind) {
    case 'open':
      return open(command);
    case 'arm':
      arm(groupOf(command.group));
      return {};
    case 'collect':
      return collect(groupOf(command.group), command.timeoutMs);
    case 'mark':
      groupOf(command.group).marked = groupOf(command.group).messages;
      return {};
    case 'await-messages':
      return awaitMessages(groupOf(command.group), command.perSocket, command.timeoutMs);
    case 'await-events':
      return awaitEvents(groupOf(command.group), command.commentIds, command.timeoutMs);
    case 'reconnect':
      return reconnect(groupOf(command.group), command.url);
    case 'await-closed':
      return awaitClosed(groupOf(command.group), command.timeoutMs);
    case 'sample':
      return { sample: groupOf(command.group).sample };
    case 'close':
      close(groupOf(command.group), command.count);
      if (command.count === undefined) groups.delete(command.group);
      return {};
    case 'stats':
      return stats(groupOf(command.group));
  }
}

// Commands arrive one at a time (the parent waits for each reply), so replies keep their order.
process.on('message', (command: ClientCommand) => {
  handle(command).then(
    (report) => process.send!(report),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
