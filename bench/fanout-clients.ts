// The client side of bench/fanout.ts, in its own process: opens N sockets, and reports when each
// receives the next message, in performance.timeOrigin-based milliseconds comparable across processes.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export type ClientCommand =
  | { kind: 'open-graphql'; n: number; url: string; tokens: string[]; bugId: string; after: string }
  | { kind: 'open-raw'; n: number; url: string }
  | { kind: 'collect'; n: number }
  | { kind: 'sample' }
  | { kind: 'close' };

export interface ClientReport {
  times?: number[];
  sample?: string;
}

/** Half the subscribers select a little, half a richer tree of nested objects. */
const SUBSCRIPTIONS = [
  `subscription Bench($bugId: ID!, $after: String) {
  commentAdded(bugId: $bugId, after: $after) { cursor comment { id body author { name } bug { key } } }
}`,
  `subscription BenchRich($bugId: ID!, $after: String) {
  commentAdded(bugId: $bugId, after: $after) {
    cursor occurredAt
    comment { id body createdAt author { id name email status }
      bug { id key title status priority reporter { name } assignee { name } project { key name owner { name } } } }
  }
}`,
];

const now = () => performance.timeOrigin + performance.now();
let onMessage: (() => void) | undefined;
let lastMessage = '';
let closers: (() => Promise<void>)[] = [];

const reply = (report: ClientReport) => process.send!(report);

async function openGraphql(command: Extract<ClientCommand, { kind: 'open-graphql' }>): Promise<void> {
  const clients: Client[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < command.n; i++) {
    const client = createClient({
      url: command.url,
      webSocketImpl: WebSocket,
      // Subscribers spread over the users, each with a socket of their own.
      connectionParams: { authorization: `Bearer ${command.tokens[i % command.tokens.length]}` },
      retryAttempts: 0,
      lazy: false,
    });
    connected.push(new Promise((resolve) => client.on('connected', () => resolve())));
    client.subscribe(
      { query: SUBSCRIPTIONS[i % 2]!, variables: { bugId: command.bugId, after: command.after } },
      {
        next: (result) => {
          // The raw baseline broadcasts the larger of the two, to every socket.
          const message = JSON.stringify({ type: 'next', id: '1', payload: result });
          if (message.length > lastMessage.length) lastMessage = message;
          onMessage?.();
        },
        error: (error) => console.error('subscription failed', error),
        complete: () => undefined,
      },
    );
    clients.push(client);
    if (i % 200 === 199) await Promise.all(connected.slice(-200));
  }
  await Promise.all(connected);
  closers = clients.map((client) => () => Promise.resolve(client.dispose()));
}

async function openRaw(command: Extract<ClientCommand, { kind: 'open-raw' }>): Promise<void> {
  const sockets = await Promise.all(
    Array.from(
      { length: command.n },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(command.url);
          socket.on('open', () => resolve(socket));
          socket.on('error', reject);
          socket.on('message', (data: Buffer) => {
            JSON.parse(data.toString()); // parse it, as a graphql-ws client would
            onMessage?.();
          });
        }),
    ),
  );
  closers = sockets.map((socket) => () => Promise.resolve(socket.terminate()));
}

process.on('message', (command: ClientCommand) => {
  void (async () => {
    switch (command.kind) {
      case 'open-graphql':
        await openGraphql(command);
        return reply({});
      case 'open-raw':
        await openRaw(command);
        return reply({});
      case 'collect': {
        const times: number[] = [];
        onMessage = () => {
          times.push(now());
          if (times.length === command.n) {
            onMessage = undefined;
            reply({ times });
          }
        };
        return;
      }
      case 'sample':
        return reply({ sample: lastMessage });
      case 'close':
        await Promise.all(closers.map((close) => close()));
        closers = [];
        return reply({});
    }
  })();
});
