import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { freePort, run, waitForPort, type RunningProcess } from './helpers/process';
import { createStorage, type Storage } from './helpers/server';

/*
 * The real server, as a process of its own, stopped with a signal the way an orchestrator stops it.
 * A request is held in flight by sending its headers and half its body, and finished by hand.
 */

interface Running {
  process: RunningProcess;
  port: number;
  url: string;
}

const ME = JSON.stringify({ query: 'query Me { me { name } }' });

/** A POST /graphql whose body has not all been sent: `finish` sends the rest and reads the answer. */
interface HeldRequest {
  /** Sends the rest of the body; resolves with the raw HTTP answer, once the server has closed the connection. */
  finish(): Promise<string>;
  /** Resolves with whatever arrived once the server closes the connection, without the rest being sent. */
  closed: Promise<string>;
}

async function holdRequest(port: number, token: string, body: string): Promise<HeldRequest> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
  socket.on('error', () => {}); // A cut connection shows as `closed`; the test says what it expects.
  const half = Math.floor(body.length / 2);
  socket.write(
    [
      'POST /graphql HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/json',
      `Authorization: Bearer ${token}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body.slice(0, half),
    ].join('\r\n'),
  );
  return {
    closed,
    finish: () => {
      socket.write(body.slice(half));
      return closed;
    },
  };
}

/** Whether a new connection to `port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until new connections to `port` are refused (the server has taken the signal), for up to 10 s. */
async function untilRefused(port: number): Promise<void> {
  for (let waited = 0; !(await refused(port)); waited += 50) {
    if (waited > 10_000) throw new Error(`Port ${port} still accepts connections`);
    await sleep(50);
  }
}

describe('stopping on SIGTERM', () => {
  let storage: Storage;
  const started: RunningProcess[] = [];
  beforeAll(async () => {
    storage = await createStorage();
  });
  afterEach(async () => {
    for (const { child, exited } of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
  afterAll(async () => {
    await storage.dispose();
  });

  /** Starts `src/main.ts` on a free port, as `npm run dev` does, with `env` on top. */
  const start = async (env: NodeJS.ProcessEnv = {}): Promise<Running> => {
    const port = await freePort();
    const server = run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      PORT: String(port),
      DATA_DIR: storage.dataDir,
      DATABASE_URL: storage.databaseUrl,
      GRAPHIQL: 'false',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      ...env,
    });
    started.push(server);
    await waitForPort(port, server, 60_000);
    return { process: server, port, url: `http://127.0.0.1:${port}/graphql` };
  };

  const signUp = async ({ url }: Running, name: string): Promise<string> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($input: SignUpInput!) { signUp(input: $input) { token } }',
        variables: { input: { email: `${name}-${Date.now()}@example.com`, name, password: 'a long password' } },
      }),
    });
    return ((await response.json()) as { data: { signUp: { token: string } } }).data.signUp.token;
  };

  /** A graphql-ws subscriber on `running`, subscribed; `closed` resolves with the code its socket is closed with. */
  const subscribe = async ({ port }: Running, token: string): Promise<{ closed: Promise<number> }> => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await new Promise<void>((resolve) =>
      socket.on('message', (data: Buffer) => {
        if ((JSON.parse(data.toString('utf8')) as { type: string }).type === 'connection_ack') resolve();
      }),
    );
    socket.send(
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { bugChanged { action } }' } }),
    );
    return { closed };
  };

  /** A subscription over Server-Sent Events; `ended` resolves once the server has ended its stream. */
  const subscribeOverSse = async ({ url }: Running, token: string): Promise<{ ended: Promise<void> }> => {
    const query = new URLSearchParams({ query: 'subscription { bugChanged { action } }' });
    const response = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .get(
          `${url}?${query}`,
          { headers: { accept: 'text/event-stream', 'x-graphql-yoga-csrf': '1', authorization: `Bearer ${token}` } },
          resolve,
        )
        .once('error', reject),
    );
    expect(response.headers['content-type']).toContain('text/event-stream');
    response.resume();
    return { ended: new Promise((resolve) => response.once('close', () => resolve())) };
  };

  it('finishes the request in flight, closes WebSockets with 1001, refuses new connections, and exits 0', async () => {
    const server = await start();
    const token = await signUp(server, 'stopping');
    const subscriber = await subscribe(server, token);
    const sse = await subscribeOverSse(server, token);
    const held = await holdRequest(server.port, token, ME);
    // The server has the request's headers before it is told to stop.
    await sleep(300);

    server.process.child.kill('SIGTERM');
    expect(await subscriber.closed).toBe(1001);
    // A subscription over SSE never ends by itself: its stream is ended too, and its client resubscribes.
    await sse.ended;
    expect(await refused(server.port)).toBe(true);

    const answer = await held.finish();
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    // Answered, then the connection ends: nothing more will be served on it.
    expect(head).toMatch(/^Connection: close$/im);
    expect(JSON.parse(body)).toEqual({ data: { me: { name: 'stopping' } } });

    expect(await server.process.exited).toBe(0);
    expect(server.process.output()).toContain('"msg":"SIGTERM: shutting down"');
    expect(server.process.output()).toContain('"msg":"Stopped"');
  }, 90_000);

  it('cuts what is still in flight after SHUTDOWN_TIMEOUT_MS, and still exits 0', async () => {
    const server = await start({ SHUTDOWN_TIMEOUT_MS: '500' });
    const token = await signUp(server, 'timeout');
    const held = await holdRequest(server.port, token, ME);
    await sleep(300);

    const signalled = Date.now();
    server.process.child.kill('SIGTERM');
    // Never finished by the client: cut once the timeout has passed, with no answer.
    expect(await held.closed).toBe('');
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(450);
    expect(await server.process.exited).toBe(0);
    expect(server.process.output()).toContain('cutting requests still in flight');
  }, 90_000);

  it('exits at once, and not with 0, on a second signal during the shutdown', async () => {
    const server = await start({ SHUTDOWN_TIMEOUT_MS: '60000' });
    const token = await signUp(server, 'impatient');
    const held = await holdRequest(server.port, token, ME);
    await sleep(300);

    server.process.child.kill('SIGTERM');
    await untilRefused(server.port);
    const signalled = Date.now();
    server.process.child.kill('SIGINT');
    // 128 + SIGINT's number, as a shell reports a process that SIGINT ended.
    expect(await server.process.exited).toBe(130);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    await held.closed;
  }, 90_000);
});
