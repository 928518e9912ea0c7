import type { GraphQLFormattedError } from 'graphql';
import type { Client } from 'graphql-ws';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/infra/log';
import { RateLimits } from '../src/server/rate-limits';
import * as ops from './operations';
import { postgresUrl } from './helpers/database';
import { PASSWORD, unique } from './helpers/fixtures';
import { createStorage, startServer, useServer, type TestServer } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

// The test helper switches every rate limit off; `undefined` here brings back the real default.
const DEFAULT_LIMITS = {
  RATE_LIMIT_SIGNIN_PER_IP: undefined,
  RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: undefined,
  RATE_LIMIT_OPERATIONS_PER_USER: undefined,
};

interface Reply {
  status: number;
  retryAfterHeader: string | null;
  data?: Record<string, unknown> | null;
  errors?: GraphQLFormattedError[];
}

/** One raw operation over HTTP, from `from` (an X-Forwarded-For value) and as `token`'s user when given. */
async function send(
  server: TestServer,
  query: string,
  variables: Record<string, unknown> = {},
  { from, token }: { from?: string; token?: string } = {},
): Promise<Reply> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(from === undefined ? {} : { 'x-forwarded-for': from }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<Reply, 'status' | 'retryAfterHeader'>;
  return { status: response.status, retryAfterHeader: response.headers.get('retry-after'), ...body };
}

const LOG_IN =
  'mutation ($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { token } }';
const SIGN_UP = `mutation ($email: String!, $password: String!) {
  signUp(input: { email: $email, name: "Rate", password: $password }) { token user { id } }
}`;
const ME = '{ me { id } }';

const logIn = (server: TestServer, email: string, password: string, from?: string) =>
  send(server, LOG_IN, { email, password }, { from });

async function signUp(server: TestServer, from?: string): Promise<{ id: string; email: string; token: string }> {
  const email = `${unique('rate')}@example.com`;
  const reply = await send(server, SIGN_UP, { email, password: PASSWORD }, { from });
  const result = reply.data?.signUp as { token: string; user: { id: string } } | undefined;
  if (result === undefined) throw new Error(`Sign-up failed: ${JSON.stringify(reply.errors)}`);
  return { id: result.user.id, email, token: result.token };
}

const codeOf = (reply: { errors?: readonly GraphQLFormattedError[] }) => reply.errors?.[0]?.extensions?.code;

/** A client address no other test has used (behind TRUST_PROXY=1 it is whatever X-Forwarded-For says). */
let addresses = 0;
const newAddress = () => `198.51.100.${++addresses}`;

/** Polls `probe` until it returns something, for up to 10 s. */
async function waitFor<T>(probe: () => T | undefined): Promise<T> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const found = probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('Nothing arrived within 10 s');
}

function expectRateLimited(reply: Reply): void {
  expect(codeOf(reply)).toBe('RATE_LIMITED');
  const retryAfter = reply.errors?.[0]?.extensions?.retryAfter;
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(reply.status).toBe(429);
  expect(reply.retryAfterHeader).toBe(String(retryAfter));
}

describe('logIn and signUp, per client address and per account', () => {
  const server = useServer({ ...DEFAULT_LIMITS, TRUST_PROXY: '1' });

  it('refuses the 11th attempt from one address in a minute, unhashed, and answers everyone else at once', async () => {
    const user = await signUp(server.current, newAddress());
    const flooder = newAddress();
    // Unknown emails, each once: only the address budget is in play. Each of these is hashed.
    const hashedStart = Date.now();
    for (let attempt = 1; attempt <= 10; attempt++) {
      const reply = await logIn(server.current, `${unique('nobody')}@example.com`, 'wrong-password', flooder);
      expect(codeOf(reply)).toBe('UNAUTHENTICATED');
    }
    const hashedAttemptMs = (Date.now() - hashedStart) / 10;
    expectRateLimited(await logIn(server.current, `${unique('nobody')}@example.com`, 'wrong-password', flooder));
    // signUp draws on the same budget.
    expect(
      codeOf(
        await send(
          server.current,
          SIGN_UP,
          { email: `${unique('late')}@example.com`, password: PASSWORD },
          { from: flooder },
        ),
      ),
    ).toBe('RATE_LIMITED');

    // 200 more attempts at once. Hashed, they would take at least 100 hashed attempts' time even
    // on two cores at full stretch; refused before hashing, a fraction of that.
    const started = Date.now();
    const [flood, other] = await Promise.all([
      Promise.all(
        Array.from({ length: 200 }, () =>
          logIn(server.current, `${unique('nobody')}@example.com`, 'wrong-password', flooder),
        ),
      ),
      logIn(server.current, user.email, PASSWORD, newAddress()),
    ]);
    expect(Date.now() - started).toBeLessThan(25 * hashedAttemptMs);
    expect(flood.every((reply) => codeOf(reply) === 'RATE_LIMITED')).toBe(true);
    expect(other.errors).toBeUndefined();
    expect(other.data?.logIn).toMatchObject({ token: expect.any(String) as unknown });
  });

  it('counts every signUp attempt, the invalid ones too', async () => {
    const address = newAddress();
    for (let attempt = 1; attempt <= 10; attempt++) {
      const reply = await send(
        server.current,
        SIGN_UP,
        { email: 'not-an-email', password: PASSWORD },
        { from: address },
      );
      expect(codeOf(reply)).toBe('BAD_USER_INPUT');
    }
    expectRateLimited(
      await send(
        server.current,
        SIGN_UP,
        { email: `${unique('valid')}@example.com`, password: PASSWORD },
        { from: address },
      ),
    );
  });

  it('refuses a password over 1,024 characters on logIn as BAD_USER_INPUT', async () => {
    const user = await signUp(server.current, newAddress());
    for (const length of [1_025, 500_000]) {
      const reply = await logIn(server.current, user.email, 'x'.repeat(length), newAddress());
      expect(reply.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    }
    // 1,024 is still a password (a wrong one).
    expect(codeOf(await logIn(server.current, user.email, 'x'.repeat(1_024), newAddress()))).toBe('UNAUTHENTICATED');
  });

  it('refuses the 6th wrong password for one account, from any address, even when it is right', async () => {
    const user = await signUp(server.current, newAddress());
    for (let attempt = 1; attempt <= 5; attempt++) {
      // Differently cased, the same account.
      const email = attempt % 2 === 0 ? user.email.toUpperCase() : user.email;
      expect(codeOf(await logIn(server.current, email, `wrong-${attempt}`, newAddress()))).toBe('UNAUTHENTICATED');
    }
    expectRateLimited(await logIn(server.current, user.email, PASSWORD, newAddress()));
    // Another account is unaffected.
    const other = await signUp(server.current, newAddress());
    expect((await logIn(server.current, other.email, PASSWORD, newAddress())).errors).toBeUndefined();
  });

  it('gives an email nobody has the same budget and the same answers, so they reveal no accounts', async () => {
    const email = `${unique('nobody')}@example.com`;
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(codeOf(await logIn(server.current, email, 'wrong-password', newAddress()))).toBe('UNAUTHENTICATED');
    }
    expectRateLimited(await logIn(server.current, email, 'wrong-password', newAddress()));
  });

  it('does not count a successful login as a failure, and clears the failures before it', async () => {
    const user = await signUp(server.current, newAddress());
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(codeOf(await logIn(server.current, user.email, 'wrong-password', newAddress()))).toBe('UNAUTHENTICATED');
    }
    expect((await logIn(server.current, user.email, PASSWORD, newAddress())).errors).toBeUndefined();
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(codeOf(await logIn(server.current, user.email, 'wrong-password', newAddress()))).toBe('UNAUTHENTICATED');
    }
    expectRateLimited(await logIn(server.current, user.email, 'wrong-password', newAddress()));
  });
});

describe('without TRUST_PROXY', () => {
  const server = useServer({ RATE_LIMIT_SIGNIN_PER_IP: '3' });

  it('ignores X-Forwarded-For: every attempt comes from the socket’s address', async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await send(
        server.current,
        SIGN_UP,
        { email: 'not-an-email', password: PASSWORD },
        { from: newAddress() },
      );
      expect(codeOf(reply)).toBe('BAD_USER_INPUT');
    }
    expectRateLimited(
      await send(server.current, SIGN_UP, { email: 'not-an-email', password: PASSWORD }, { from: newAddress() }),
    );
  });
});

describe('operations per user', () => {
  const server = useServer({ RATE_LIMIT_OPERATIONS_PER_USER: '5', TRUST_PROXY: '1' });
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => Promise.resolve(client.dispose())));
  });
  const socket = (user: { token: string }) => {
    const client = connect(server.current, undefined, { authorization: `Bearer ${user.token}` });
    clients.push(client);
    return client;
  };

  it('refuses a user’s 6th operation in a minute from any address, and leaves other users alone', async () => {
    const user = await signUp(server.current, newAddress());
    const other = await signUp(server.current, newAddress());
    for (let operation = 1; operation <= 5; operation++) {
      const reply = await send(server.current, ME, {}, { token: user.token, from: newAddress() });
      expect(reply.data).toEqual({ me: { id: user.id } });
    }
    expectRateLimited(await send(server.current, ME, {}, { token: user.token, from: newAddress() }));
    expect((await send(server.current, ME, {}, { token: other.token })).data).toEqual({ me: { id: other.id } });
  });

  it('limits anonymous operations per client address', async () => {
    const address = newAddress();
    for (let operation = 1; operation <= 5; operation++) {
      expect((await send(server.current, ME, {}, { from: address })).data).toEqual({ me: null });
    }
    expectRateLimited(await send(server.current, ME, {}, { from: address }));
    expect((await send(server.current, ME, {}, { from: newAddress() })).data).toEqual({ me: null });
  });

  it('counts each WebSocket subscribe message, in the same budget as HTTP', async () => {
    const user = await signUp(server.current, newAddress());
    const other = await signUp(server.current, newAddress());
    for (let operation = 1; operation <= 2; operation++) {
      expect((await send(server.current, ME, {}, { token: user.token })).errors).toBeUndefined();
    }
    const client = socket(user);
    expect((await client.iterate({ query: ME }).next()).value).toEqual({ data: { me: { id: user.id } } });

    // Two operations left and three subscriptions asked for at once: whichever is counted last is refused.
    const subscriptions = Array.from({ length: 3 }, () => subscribe(client, ops.OnNotification, {}));
    const refused = await waitFor(() => subscriptions.find((subscription) => subscription.pending > 0));
    const [error] = await refused.errors();
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) as unknown });
    // All three are counted by now, so the budget is spent, on every transport.
    const afterwards = await client.iterate({ query: ME }).next();
    expect(codeOf(afterwards.value as Reply)).toBe('RATE_LIMITED');
    expectRateLimited(await send(server.current, ME, {}, { token: user.token }));
    // The two let in stay open; another user's socket is unaffected.
    expect((await refused.item()).kind).toBe('complete');
    expect(subscriptions.filter((subscription) => subscription.pending > 0)).toEqual([]);
    expect((await socket(other).iterate({ query: ME }).next()).value).toEqual({ data: { me: { id: other.id } } });
    for (const subscription of subscriptions) subscription.close();
  });

  it('counts subscriptions over SSE too', async () => {
    const user = await signUp(server.current, newAddress());
    for (let operation = 1; operation <= 5; operation++) {
      expect((await send(server.current, ME, {}, { token: user.token })).errors).toBeUndefined();
    }
    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${user.token}`,
      },
      body: JSON.stringify({ query: 'subscription { notifications { cursor } }' }),
    });
    const stream = await response.text();
    expect(stream).toContain('"RATE_LIMITED"');
  });

  it('switches a limit off with 0 (failed logins per account, here)', async () => {
    const user = await signUp(server.current, newAddress());
    for (let attempt = 1; attempt <= 8; attempt++) {
      expect(codeOf(await logIn(server.current, user.email, 'wrong-password', newAddress()))).toBe('UNAUTHENTICATED');
    }
    expect((await logIn(server.current, user.email, PASSWORD, newAddress())).errors).toBeUndefined();
  });
});

describe('while Redis is unreachable', () => {
  it('counts in memory: neither open nor locked', async () => {
    const { limits } = loadConfig({ RATE_LIMIT_SIGNIN_PER_IP: '3' });
    // Port 1: nothing listens, so every connection attempt is refused (and logged, here to nowhere).
    const rateLimits = await RateLimits.open(limits, {
      redisUrl: 'redis://127.0.0.1:1',
      databaseId: unique('db'),
      log: createLogger({ level: 'silent', pretty: false }),
    });
    try {
      for (let attempt = 1; attempt <= 3; attempt++) await rateLimits.signInAttempt('192.0.2.1');
      await expect(rateLimits.signInAttempt('192.0.2.1')).rejects.toMatchObject({
        extensions: { code: 'RATE_LIMITED' },
      });
      await expect(rateLimits.signInAttempt('192.0.2.2')).resolves.toBeUndefined();
    } finally {
      await rateLimits.close();
    }
  });
});

// Two instances need a database they share, and Redis to share the counters.
const onRedis = postgresUrl === undefined || process.env.REDIS_URL === undefined ? describe.skip : describe;

onRedis('two instances sharing Redis', () => {
  it('draw on one login budget per address and per account', async () => {
    const storage = await createStorage();
    const env = { ...DEFAULT_LIMITS, RATE_LIMIT_SIGNIN_PER_IP: '4', TRUST_PROXY: '1' };
    const instances = [await startServer(storage, env), await startServer(storage, env)] as const;
    try {
      const [a, b] = instances;
      const address = newAddress();
      for (const server of [a, b, a, b]) {
        expect(codeOf(await logIn(server, `${unique('nobody')}@example.com`, 'wrong', address))).toBe(
          'UNAUTHENTICATED',
        );
      }
      expectRateLimited(await logIn(a, `${unique('nobody')}@example.com`, 'wrong', address));
      expectRateLimited(await logIn(b, `${unique('nobody')}@example.com`, 'wrong', address));

      const user = await signUp(a, newAddress());
      for (const server of [a, b, a, b, a]) {
        expect(codeOf(await logIn(server, user.email, 'wrong', newAddress()))).toBe('UNAUTHENTICATED');
      }
      expectRateLimited(await logIn(b, user.email, PASSWORD, newAddress()));
    } finally {
      await Promise.all(instances.map((instance) => instance.stop()));
      await storage.dispose();
    }
  });
});
