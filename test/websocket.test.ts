import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { CloseCode } from 'graphql-ws';
import * as ops from './operations';
import { createBug, createProject, signUp } from './helpers/fixtures';
import { useServer, type TestServer } from './helpers/server';
import { closeCode, connect, subscribe, wsUrl } from './helpers/subscriptions';

/**
 * A plain `ws` socket past `connection_init` and its ack, with `options` for `ws`. `created` sees
 * the socket before it connects: the server's keep-alive may ping it as soon as it has, before the ack.
 */
async function openAcknowledged(
  server: TestServer,
  token: string,
  options?: WebSocket.ClientOptions,
  created?: (socket: WebSocket) => void,
) {
  const socket = new WebSocket(wsUrl(server), 'graphql-transport-ws', options);
  created?.(socket);
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
  return socket;
}

describe('WebSocket transport', () => {
  const server = useServer({ WS_INIT_TIMEOUT_MS: '300' });

  it('delivers subscriptions over graphql-ws on /graphql, authenticated by connection_init', async () => {
    const owner = await signUp(server.current, 'owner');
    const project = await createProject(server.current, owner);
    const client = connect(server.current, owner);
    try {
      const { eventCursor } = await server.current.ok(ops.EventCursor, {}, owner.token);
      const changes = subscribe(client, ops.OnBugChanged, { projectId: project.id, after: eventCursor });
      const bug = await createBug(server.current, owner, project.id, { title: 'Over the wire' });
      const { bugChanged } = await changes.next();
      expect(bugChanged).toMatchObject({ action: 'CREATED', bug: { id: bug.id, title: 'Over the wire' } });
      expect(bugChanged.actor?.id).toBe(owner.id);
    } finally {
      await client.dispose();
    }
  });

  it('answers queries and mutations over the socket too, with the same rules as HTTP', async () => {
    const user = await signUp(server.current, 'socket-user');
    const client = connect(server.current, user);
    try {
      const me = await client.iterate({ query: '{ me { id } }' }).next();
      expect(me.value).toEqual({ data: { me: { id: user.id } } });
      const denied = await client.iterate({ query: '{ users(first: 101) { totalCount } }' }).next();
      expect((denied.value as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe(
        'BAD_USER_INPUT',
      );
    } finally {
      await client.dispose();
    }
  });

  it.each([
    ['no token', {}],
    ['an empty token', { authorization: '' }],
    ['a malformed token', { authorization: 'Bearer not-a-jwt' }],
    ['a non-Bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
  ])('closes the socket with 4403 for %s', async (_case, connectionParams) => {
    const client = connect(server.current, undefined, connectionParams);
    const closed = closeCode(client);
    const subscription = subscribe(client, ops.OnNotification, {});
    expect(await closed).toBe(CloseCode.Forbidden);
    expect((await subscription.item()).kind).toBe('error');
    await client.dispose();
  });

  it('closes with 4403 for a token that has expired or whose account is gone', async () => {
    const user = await signUp(server.current, 'expiring');
    // Signed with the server's own secret, so only the expiry is wrong.
    const secret = fs.readFileSync(path.join(server.current.dataDir, 'jwt-secret'), 'utf8').trim();
    const claims = jwt.decode(user.token) as jwt.JwtPayload;
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, secret, { algorithm: 'HS256' });
    const stranger = server.current.app.tokens.sign({ userId: '00000000-0000-4000-8000-000000000000', role: 'ADMIN' });
    for (const token of [expired, stranger]) {
      const client = connect(server.current, undefined, { authorization: `Bearer ${token}` });
      const closed = closeCode(client);
      subscribe(client, ops.OnNotification, {});
      expect(await closed).toBe(CloseCode.Forbidden);
      await client.dispose();
    }
  });

  it('closes with 4408 when connection_init does not come in time', async () => {
    const socket = new WebSocket(wsUrl(server.current), 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => socket.on('close', (closeCode) => resolve(closeCode)));
    expect(code).toBe(CloseCode.ConnectionInitialisationTimeout);
  });

  it('sends results as text frames, whatever their characters, as browsers expect', async () => {
    const owner = await signUp(server.current, 'text-frames');
    const project = await createProject(server.current, owner);
    const socket = new WebSocket(wsUrl(server.current), 'graphql-transport-ws');
    const messages: { type: string; payload?: unknown; binary: boolean }[] = [];
    const arrived: (() => void)[] = [];
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      messages.push({ ...(JSON.parse(data.toString('utf8')) as { type: string }), binary: isBinary });
      arrived.splice(0).forEach((wake) => wake());
    });
    const nextOf = async (type: string) => {
      for (;;) {
        const found = messages.find((message) => message.type === type);
        if (found !== undefined) return found;
        await new Promise<void>((resolve) => arrived.push(resolve));
      }
    };
    try {
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${owner.token}` } }));
      await nextOf('connection_ack');
      const query = 'subscription($projectId: ID) { bugChanged(projectId: $projectId) { bug { title } } }';
      socket.send(
        JSON.stringify({ id: 'op-ü', type: 'subscribe', payload: { query, variables: { projectId: project.id } } }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const title = 'Ünïcode — “quoted” ✓ 🐛 \\ done';
      await createBug(server.current, owner, project.id, { title });
      const next = await nextOf('next');
      expect(next).toEqual({
        id: 'op-ü',
        type: 'next',
        payload: { data: { bugChanged: { bug: { title } } } },
        binary: false,
      });
      expect(messages.every((message) => !message.binary)).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('refuses a token passed in the URL instead of connection_init', async () => {
    const user = await signUp(server.current, 'url-token');
    const client = connect(
      { ...server.current, url: `${server.current.url}?authorization=Bearer%20${user.token}` },
      undefined,
      {},
    );
    const closed = closeCode(client);
    subscribe(client, ops.OnNotification, {});
    expect(await closed).toBe(CloseCode.Forbidden);
    await client.dispose();
  });

  it("also serves subscriptions over SSE on /graphql, GraphiQL's transport, with the Authorization header", async () => {
    const owner = await signUp(server.current, 'sse');
    const project = await createProject(server.current, owner);
    const { eventCursor } = await server.current.ok(ops.EventCursor, {}, owner.token);
    const controller = new AbortController();
    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${owner.token}`,
      },
      body: JSON.stringify({
        query: 'subscription($p: ID, $a: String) { bugChanged(projectId: $p, after: $a) { action bug { id } } }',
        variables: { p: project.id, a: eventCursor },
      }),
      signal: controller.signal,
    });
    const bug = await createBug(server.current, owner, project.id);
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('"bugChanged"')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain(JSON.stringify({ data: { bugChanged: { action: 'CREATED', bug: { id: bug.id } } } }));
  });
});

describe('keeping WebSockets alive', () => {
  const server = useServer({ WS_KEEPALIVE_MS: '200' });

  it('pings every socket, and drops one that stopped answering while keeping one that answers', async () => {
    const user = await signUp(server.current, 'pinged');
    const open = async (autoPong: boolean) => {
      let pings = 0;
      // Counted from the start: the first ping can come before the ack does.
      const socket = await openAcknowledged(server.current, user.token, { autoPong }, (created) =>
        created.on('ping', () => (pings += 1)),
      );
      const closed = new Promise<number>((resolve) => socket.once('close', resolve));
      return { socket, pings: () => pings, closed };
    };
    const answering = await open(true);
    const silent = await open(false);

    // Dropped at the second ping it leaves unanswered: no close frame, the connection is cut.
    expect(await silent.closed).toBe(1006);
    expect(silent.pings()).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    expect(answering.pings()).toBeGreaterThanOrEqual(3);
    answering.socket.close();
  });
});

describe('spreading keep-alive pings', () => {
  const server = useServer({ WS_KEEPALIVE_MS: '960' });

  it("sends an interval's pings a few at a time across it, not to every socket at once", async () => {
    const user = await signUp(server.current, 'spread');
    const pings: number[] = [];
    const sockets = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const socket = await openAcknowledged(server.current, user.token);
        socket.on('ping', () => pings.push(performance.now()));
        return socket;
      }),
    );
    try {
      // Two intervals: every socket is pinged at least once, however the rounds fall.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(pings.length).toBeGreaterThanOrEqual(16);
      // The most pings that arrived within any 10 ms: all 16 if they went out together.
      const sorted = [...pings].sort((a, b) => a - b);
      const crowd = Math.max(...sorted.map((at, i) => sorted.filter((other, j) => j >= i && other - at < 10).length));
      expect(crowd).toBeLessThanOrEqual(4);
    } finally {
      sockets.forEach((socket) => socket.close());
    }
  });
});
