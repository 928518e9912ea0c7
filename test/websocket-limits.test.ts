import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import * as ops from './operations';
import { createBug, createProject, signUp, type TestUser } from './helpers/fixtures';
import { useServer, type TestServer } from './helpers/server';
import { connect, subscribe, wsUrl } from './helpers/subscriptions';

/** One graphql-ws message as it came off the wire. */
interface Message {
  id?: string;
  type: string;
  payload?: unknown;
}

/**
 * A graphql-ws socket driven by hand, for what a well-behaved client library never does: floods,
 * oversized frames, never reading.
 */
class RawSocket {
  readonly socket: WebSocket;
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #waiters: (() => void)[] = [];

  constructor(server: TestServer, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(wsUrl(server), 'graphql-transport-ws', options);
    this.socket.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString('utf8')) as Message);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) =>
      this.socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const wake of this.#waiters.splice(0)) wake();
      }),
    );
  }

  /** Opens the socket and signs in as `user`, resolving on connection_ack. */
  static async signedIn(server: TestServer, user: TestUser, options: WebSocket.ClientOptions = {}) {
    const raw = new RawSocket(server, options);
    await new Promise((resolve, reject) => raw.socket.once('open', resolve).once('error', reject));
    raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } });
    await raw.waitFor((message) => message.type === 'connection_ack');
    return raw;
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}): void {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  /** The first message (received or still to come) that matches. */
  async waitFor(matches: (message: Message) => boolean, ms = 10_000): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.find(matches);
      if (found !== undefined) return found;
      if (this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(`The socket closed first (${JSON.stringify(await this.closed)})`);
      }
      if (Date.now() > deadline) throw new Error(`No matching message within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

const ON_BUG_CHANGED = 'subscription($p: ID) { bugChanged(projectId: $p) { action bug { id title } } }';

/** The server answers a normal client at once: a query over HTTP and an event over graphql-ws. */
async function expectHealthy(server: TestServer): Promise<void> {
  const user = await signUp(server, 'healthy');
  const project = await createProject(server, user);
  const client = connect(server, user);
  try {
    const { eventCursor } = await server.ok(ops.EventCursor, {}, user.token);
    const changes = subscribe(client, ops.OnBugChanged, { projectId: project.id, after: eventCursor });
    const bug = await createBug(server, user, project.id);
    expect((await changes.next()).bugChanged.bug.id).toBe(bug.id);
  } finally {
    await client.dispose();
  }
}

const errorCodes = (message: Message) =>
  (message.payload as { extensions?: { code?: string; http?: unknown } }[]).map((error) => error.extensions?.code);

describe('WebSocket limits', () => {
  const server = useServer({ WS_MAX_BUFFERED_BYTES: String(256 * 1024), WS_MAX_SOCKETS_PER_USER: '3' });

  it('refuses an upgrade from a browser origin that is not allowed with HTTP 403', async () => {
    const user = await signUp(server.current, 'origin');
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(wsUrl(server.current), 'graphql-transport-ws', { origin: 'https://evil.example' });
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => reject(new Error('The upgrade was accepted')));
    });
    expect(status).toBe(403);
    // The development default allows pages on localhost; clients that send no Origin are not browsers.
    for (const options of [{ origin: 'http://localhost:5173' }, {}]) {
      const raw = await RawSocket.signedIn(server.current, user, options);
      raw.close();
    }
  });

  it('closes the socket with 1009 for a frame over WS_MAX_PAYLOAD_BYTES', async () => {
    const user = await signUp(server.current, 'big-frame');
    const raw = await RawSocket.signedIn(server.current, user);
    raw.subscribe('1', `{ me { id } } # ${'x'.repeat(1024 * 1024)}`);
    expect((await raw.closed).code).toBe(1009);
    await expectHealthy(server.current);
  });

  it('answers the 101st operation on one socket with an error and keeps the other 100 alive', async () => {
    const owner = await signUp(server.current, 'many-subs');
    const project = await createProject(server.current, owner);
    const raw = await RawSocket.signedIn(server.current, owner);
    try {
      // Paced under the message rate limit, which is a different guard.
      for (let i = 1; i <= 101; i++) {
        raw.subscribe(String(i), ON_BUG_CHANGED, { p: project.id });
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      const refused = await raw.waitFor((message) => message.id === '101');
      expect(refused.type).toBe('error');
      expect(errorCodes(refused)).toEqual(['TOO_MANY_OPERATIONS']);

      const bug = await createBug(server.current, owner, project.id, { title: 'Heard by all 100' });
      for (const id of ['1', '50', '100']) {
        const event = await raw.waitFor((message) => message.id === id && message.type === 'next');
        expect(event.payload).toEqual({
          data: { bugChanged: { action: 'CREATED', bug: { id: bug.id, title: bug.title } } },
        });
      }
      expect(raw.messages.filter((message) => message.type === 'next')).toHaveLength(100);
      expect(raw.socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      raw.close();
    }
  });

  it('closes a socket that floods messages with 4429 and leaves other clients alone', async () => {
    const user = await signUp(server.current, 'flood');
    const raw = await RawSocket.signedIn(server.current, user);
    for (let i = 0; i < 500; i++) raw.send({ type: 'ping' });
    expect((await raw.closed).code).toBe(4429);
    await expectHealthy(server.current);
  });

  it('closes a socket past WS_MAX_SOCKETS_PER_USER with 4429, for that user only', async () => {
    const user = await signUp(server.current, 'sockets');
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await RawSocket.signedIn(server.current, user));
    const extra = new RawSocket(server.current);
    await new Promise((resolve) => extra.socket.once('open', resolve));
    extra.send({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } });
    expect((await extra.closed).code).toBe(4429);
    // Closing one frees its place.
    open.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    open.push(await RawSocket.signedIn(server.current, user));
    for (const raw of open) raw.close();
    await expectHealthy(server.current);
  });

  it('answers a syntax error or an invalid operation with an error message, never a closed socket', async () => {
    const user = await signUp(server.current, 'syntax');
    const raw = await RawSocket.signedIn(server.current, user);
    try {
      raw.subscribe('bad-syntax', 'subscription { bugChanged(');
      raw.subscribe('bad-field', 'subscription { noSuchField }');
      raw.subscribe('fine', '{ me { id } }');
      for (const id of ['bad-syntax', 'bad-field']) {
        const error = await raw.waitFor((message) => message.id === id);
        expect(error.type).toBe('error');
        // extensions.http tells yoga an HTTP status; it has no place on a socket.
        for (const item of error.payload as { extensions?: Record<string, unknown> }[]) {
          expect(item.extensions?.http).toBeUndefined();
        }
      }
      expect((await raw.waitFor((message) => message.id === 'fine')).payload).toEqual({
        data: { me: { id: user.id } },
      });
      expect(raw.socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      raw.close();
    }
  });

  it('closes a socket that stops reading with 1013, while readers on other sockets get every event', async () => {
    const owner = await signUp(server.current, 'stalled');
    const project = await createProject(server.current, owner);
    // Each event carries ~220 KB, so a few dozen overrun the kernel's buffers and then ours.
    const bug = await createBug(server.current, owner, project.id, { description: 'd'.repeat(20_000) });
    for (let i = 0; i < 10; i++) {
      await server.current.ok(ops.AddComment, { input: { bugId: bug.id, body: `${i}`.repeat(20_000) } }, owner.token);
    }
    const heavy = `subscription($p: ID) { bugChanged(projectId: $p) {
      action bug { title description comments(first: 20) { edges { node { body } } } } } }`;
    const stalled = await RawSocket.signedIn(server.current, owner);
    const reader = await RawSocket.signedIn(server.current, owner);
    stalled.subscribe('heavy', heavy, { p: project.id });
    reader.subscribe('heavy', heavy, { p: project.id });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Stop reading, but keep talking: a client that never reads can still answer pings.
    stalled.socket.pause();
    const pongs = setInterval(() => stalled.send({ type: 'pong' }), 100);
    try {
      const updates = 40;
      for (let i = 1; i <= updates; i++) {
        await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, title: `Update ${i}` } }, owner.token);
      }
      await reader.waitFor(
        (message) =>
          (message.payload as { data?: { bugChanged?: { bug: { title: string } } } } | undefined)?.data?.bugChanged?.bug
            .title === `Update ${updates}`,
        30_000,
      );
      expect(reader.messages.filter((message) => message.type === 'next')).toHaveLength(updates);

      stalled.socket.resume();
      const { code } = await stalled.closed;
      expect(code).toBe(1013);
      expect(stalled.messages.filter((message) => message.type === 'next').length).toBeLessThan(updates);
    } finally {
      clearInterval(pongs);
      stalled.close();
      reader.close();
    }
    await expectHealthy(server.current);
  }, 60_000);

  /** `user`'s token, re-signed with the server's own secret to expire in two seconds. */
  function shortLivedToken(user: TestUser): { token: string; expiresAt: number } {
    const secret = fs.readFileSync(path.join(server.current.dataDir, 'jwt-secret'), 'utf8').trim();
    const claims = jwt.decode(user.token) as jwt.JwtPayload;
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    return { token: jwt.sign({ ...claims, exp: expiresAt }, secret, { algorithm: 'HS256' }), expiresAt };
  }

  it('closes the socket with 4403 when its token expires, and delivers nothing after', async () => {
    const owner = await signUp(server.current, 'expiring-owner');
    const member = await signUp(server.current, 'expiring');
    const project = await createProject(server.current, owner, [member]);
    const { token: shortLived, expiresAt } = shortLivedToken(member);

    const raw = await RawSocket.signedIn(server.current, { ...member, token: shortLived });
    raw.subscribe('changes', ON_BUG_CHANGED, { p: project.id });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await createBug(server.current, owner, project.id, { title: 'Before expiry' });
    await raw.waitFor((message) => message.type === 'next');

    const { code } = await raw.closed;
    expect(code).toBe(4403);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
    await createBug(server.current, owner, project.id, { title: 'After expiry' });
    const titles = raw.messages
      .filter((message) => message.type === 'next')
      .map(
        (message) =>
          (message.payload as { data: { bugChanged: { bug: { title: string } } } }).data.bugChanged.bug.title,
      );
    expect(titles).toEqual(['Before expiry']);
    await expectHealthy(server.current);
  });

  it('ends an SSE subscription with UNAUTHENTICATED when its token expires, and delivers nothing after', async () => {
    const owner = await signUp(server.current, 'sse-expiring-owner');
    const member = await signUp(server.current, 'sse-expiring');
    const project = await createProject(server.current, owner, [member]);
    const { token, expiresAt } = shortLivedToken(member);
    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: ON_BUG_CHANGED, variables: { p: project.id } }),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await createBug(server.current, owner, project.id, { title: 'Before expiry' });

    let text = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value);
      if (text.includes('UNAUTHENTICATED')) {
        expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
        await createBug(server.current, owner, project.id, { title: 'After expiry' });
      }
    }
    // The stream ended by itself: the server completed it.
    expect(text).toContain('Before expiry');
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).not.toContain('After expiry');
  });
});
