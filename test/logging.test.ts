import { Writable } from 'node:stream';
import { print } from 'graphql';
import { createLogger } from '../src/infra/log';
import * as ops from './operations';
import { PASSWORD, signUp, unique, type TestUser } from './helpers/fixtures';
import { createStorage, startServer, type Storage, type TestServer } from './helpers/server';
import { connect } from './helpers/subscriptions';

const defined = Symbol('defined');

/** Every line the server logs, at every level, parsed. */
class LogLines extends Writable {
  readonly raw: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }

  get parsed(): Record<string, unknown>[] {
    return this.raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /**
   * The lines that have every field of `fields` (a field given as `defined` only has to be there),
   * waiting a moment for them: a request's own line comes as its connection lets go of it.
   */
  async find(fields: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    const matching = () =>
      this.parsed.filter((line) =>
        Object.entries(fields).every(([key, value]) =>
          value === defined ? line[key] !== undefined : line[key] === value,
        ),
      );
    for (let waited = 0; matching().length === 0 && waited < 2_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return matching();
  }
}

const post = (server: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('logs', () => {
  const lines = new LogLines();
  let storage: Storage;
  let server: TestServer;
  let user: TestUser;
  beforeAll(async () => {
    storage = await createStorage();
    server = await startServer(storage, {}, { log: createLogger({ level: 'trace', pretty: false }, lines) });
    user = await signUp(server, 'logged');
  });
  afterAll(async () => {
    await server.stop();
    await storage.dispose();
  });

  it('give each request an id, answered in X-Request-Id, and one line with its operation', async () => {
    const response = await post(
      server,
      { query: 'query Me { me { name } }' },
      { authorization: `Bearer ${user.token}` },
    );
    expect(response.status).toBe(200);
    const reqId = response.headers.get('x-request-id')!;
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);

    expect(await lines.find({ reqId })).toEqual([
      expect.objectContaining({
        msg: 'request',
        level: 30,
        method: 'POST',
        path: '/graphql',
        status: 200,
        operation: 'Me',
        type: 'query',
      }),
    ]);
  });

  it("take a client's own X-Request-Id when it looks like an id, and replace one that does not", async () => {
    const own = unique('trace');
    const kept = await post(server, { query: '{ me { id } }' }, { 'x-request-id': own });
    expect(kept.headers.get('x-request-id')).toBe(own);
    expect(await lines.find({ reqId: own, msg: 'request', type: 'query' })).toHaveLength(1);

    for (const odd of ['two words', 'x'.repeat(129), '{"json":1}']) {
      const replaced = await post(server, { query: '{ me { id } }' }, { 'x-request-id': odd });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('never carry a password, a token or an Authorization value, while the operation is logged', async () => {
    const wrongPassword = unique('wrong-password');
    const failed = await post(server, {
      query: print(ops.LogIn),
      variables: { input: { email: user.email, password: wrongPassword } },
    });
    expect(((await failed.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
    const failedId = failed.headers.get('x-request-id')!;
    expect(await lines.find({ reqId: failedId })).toEqual([
      expect.objectContaining({ operation: 'LogIn', type: 'mutation', errors: ['UNAUTHENTICATED'] }),
    ]);

    // The right password, and the token it brings back.
    const loggedIn = await post(server, {
      query: print(ops.LogIn),
      variables: { input: { email: user.email, password: PASSWORD } },
    });
    const token = ((await loggedIn.json()) as { data: { logIn: { token: string } } }).data.logIn.token;
    expect(await lines.find({ reqId: loggedIn.headers.get('x-request-id'), operation: 'LogIn' })).toHaveLength(1);

    // A token in an Authorization header, and one that is not valid.
    const authorized = await post(server, { query: 'query Me { me { name } }' }, { authorization: `Bearer ${token}` });
    expect(await lines.find({ reqId: authorized.headers.get('x-request-id'), operation: 'Me' })).toHaveLength(1);
    const forged = `${token.slice(0, -8)}AAAAAAAA`;
    const refused = await post(server, { query: 'query Me { me { name } }' }, { authorization: `Bearer ${forged}` });
    expect(refused.status).toBe(401);
    expect(await lines.find({ reqId: refused.headers.get('x-request-id'), status: 401 })).toHaveLength(1);

    // A GET carries its variables in the query string, which is never logged (this one is refused: no mutations over GET).
    const params = new URLSearchParams({
      query: print(ops.LogIn),
      variables: JSON.stringify({ input: { email: user.email, password: wrongPassword } }),
    });
    const get = await fetch(`${server.url}?${params}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(await lines.find({ reqId: get.headers.get('x-request-id'), path: '/graphql', method: 'GET' })).toHaveLength(
      1,
    );

    // Over WebSocket, the token comes in connection_init.
    const client = connect(server, { ...user, token });
    try {
      const result = await new Promise<unknown>((resolve, reject) =>
        client.subscribe({ query: 'query Me { me { name } }' }, { next: resolve, error: reject, complete: () => {} }),
      );
      expect(result).toEqual({ data: { me: { name: 'logged' } } });
    } finally {
      await client.dispose();
    }
    expect(await lines.find({ operation: 'Me', msg: 'graphql operation', connId: defined })).not.toHaveLength(0);

    const everything = lines.raw.join('\n');
    for (const secret of [PASSWORD, wrongPassword, token, user.token, forged, token.split('.')[2]!]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/bearer/i);
  });

  it('tag WebSocket operations with the connection and the operation id', async () => {
    const client = connect(server, user, { authorization: `Bearer ${user.token}` });
    try {
      await new Promise<unknown>((resolve, reject) =>
        client.subscribe({ query: 'query Me { me { name } }' }, { next: resolve, error: reject, complete: () => {} }),
      );
    } finally {
      await client.dispose();
    }
    const operations = await lines.find({ msg: 'graphql operation', connId: defined });
    expect(operations.length).toBeGreaterThan(0);
    expect(operations.at(-1)).toMatchObject({ operation: 'Me', type: 'query' });
    expect(typeof operations.at(-1)!.opId).toBe('string');
    const [closed] = await lines.find({ connId: operations.at(-1)!.connId, msg: 'socket closed' });
    expect(closed).toMatchObject({ code: 1000 });
  });

  it('censor what must never be logged, should someone log the object that holds it', () => {
    const stream = new LogLines();
    createLogger({ level: 'info', pretty: false }, stream).info(
      {
        req: { headers: { authorization: 'Bearer secret-1', cookie: 'secret-2', accept: 'text/html' } },
        params: { query: 'mutation LogIn', variables: { input: { password: 'secret-3' } } },
        connectionParams: { authorization: 'Bearer secret-4' },
        input: { email: 'a@example.com', password: 'secret-5' },
        token: 'secret-6',
      },
      'careless',
    );
    expect(stream.raw.join('\n')).not.toMatch(/secret-/);
    expect(stream.parsed[0]).toMatchObject({
      req: { headers: { accept: 'text/html' } },
      params: { query: 'mutation LogIn' },
      input: { email: 'a@example.com' },
    });
  });

  it('log an unexpected error with the request id, and tell the client nothing of it', async () => {
    // The only way to make the server fail from outside without a test-only path: take its database away.
    await server.app.db.close();
    const response = await post(
      server,
      { query: '{ bugs(first: 1) { totalCount } }' },
      {
        authorization: `Bearer ${user.token}`,
      },
    );
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    const reqId = response.headers.get('x-request-id');
    const [logged] = await lines.find({ reqId, msg: 'Unexpected error' });
    expect(logged?.level).toBe(50);
    expect(await lines.find({ reqId, msg: 'request' })).toEqual([
      expect.objectContaining({ operation: null, type: 'query', errors: ['INTERNAL_SERVER_ERROR'] }),
    ]);
    // The original error, as pino serialises it.
    expect((logged?.err as { message?: unknown } | undefined)?.message).toEqual(expect.stringMatching(/./));
  });
});
