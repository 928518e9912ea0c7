import http from 'node:http';
import * as ops from './operations';
import { createProject, PASSWORD, signUp, unique } from './helpers/fixtures';
import { useServer, type TestServer } from './helpers/server';

const LIMIT = 64 * 1024;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, when it is JSON. */
  json: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } | undefined;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: Answer['json'];
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** POSTs `body` exactly as given, with `headers` (no content type unless given). */
const post = async (server: TestServer, body: BodyInit, headers: Record<string, string> = {}) =>
  answer(await fetch(server.url, { method: 'POST', headers, body }));

const postJson = (server: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  post(server, JSON.stringify(body), { 'content-type': 'application/json', ...headers });

const codeOf = (result: Answer) => result.json?.errors?.[0]?.extensions?.code;

const SIGN_UP = 'mutation SignUp($input: SignUpInput!) { signUp(input: $input) { token } }';
const signUpBody = (email: string) => ({
  query: SIGN_UP,
  variables: { input: { email, name: 'Form', password: PASSWORD } },
});

/** An ordinary client, right after: the server still answers at once. */
async function stillAnswers(server: TestServer): Promise<void> {
  expect(await server.request(ops.Me, {})).toEqual({ data: { me: null } });
}

/** Whether `email` is still free: signing up with it over JSON works. */
async function expectNoAccount(server: TestServer, email: string): Promise<void> {
  const result = await postJson(server, signUpBody(email));
  expect(result.json?.errors).toBeUndefined();
}

/**
 * Sends a chunked body (no Content-Length) in 16 KiB pieces, respecting back-pressure, until the
 * server answers or `cap` bytes have gone. Resolves with the answer and how much was sent.
 */
function postChunked(url: string, cap: number) {
  return new Promise<{ status: number | undefined; headers: http.IncomingHttpHeaders; body: string; sent: number }>(
    (resolve, reject) => {
      let sent = 0;
      let answered = false;
      const request = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
      request.on('response', (response) => {
        answered = true;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body, sent }));
      });
      // Writing on after the server closed the connection fails; only an error before any answer counts.
      request.on('error', (error) => {
        if (!answered) reject(error);
      });
      const chunk = Buffer.alloc(16 * 1024, ' ');
      const pump = () => {
        while (!answered && sent < cap) {
          sent += chunk.length;
          if (!request.write(chunk)) {
            request.once('drain', pump);
            return;
          }
        }
        if (!answered) request.end();
      };
      pump();
    },
  );
}

describe('the HTTP surface', () => {
  const server = useServer({ GRAPHIQL: 'true', MAX_BODY_BYTES: String(LIMIT) });

  describe('request bodies', () => {
    it('answers 413 to a declared Content-Length over MAX_BODY_BYTES, and runs nothing', async () => {
      const email = `${unique('big')}@example.com`;
      // A valid sign-up, padded past the limit in `extensions` (which yoga would otherwise ignore).
      const result = await postJson(server.current, { ...signUpBody(email), extensions: { pad: 'x'.repeat(LIMIT) } });
      expect(result.status).toBe(413);
      expect(result.json).toEqual({
        errors: [
          { message: `The request body is larger than ${LIMIT} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } },
        ],
      });
      expect(result.headers.get('connection')).toBe('close');
      await expectNoAccount(server.current, email);
      await stillAnswers(server.current);
    });

    it('counts a chunked body as it arrives and answers 413 as soon as it passes the limit', async () => {
      const cap = 256 * 1024 * 1024;
      const result = await postChunked(server.current.url, cap);
      expect(result.status).toBe(413);
      expect(JSON.parse(result.body)).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
      expect(result.headers.connection).toBe('close');
      // The server stopped reading long before the client ran out of things to send.
      expect(result.sent).toBeLessThan(cap / 4);
      await stillAnswers(server.current);
    });

    it('reads a body just under the limit as usual', async () => {
      const result = await postJson(server.current, {
        query: '{ me { id } }',
        extensions: { pad: 'x'.repeat(LIMIT - 100) },
      });
      expect(result.status).toBe(200);
      expect(result.json).toEqual({ data: { me: null } });
    });

    it('answers a huge string inside the limit with a field error, not a failure', async () => {
      const user = await signUp(server.current, 'huge');
      const project = await createProject(server.current, user);
      const result = await postJson(
        server.current,
        {
          query: 'mutation($input: CreateBugInput!) { createBug(input: $input) { bug { id } } }',
          variables: { input: { projectId: project.id, title: 'x'.repeat(LIMIT - 1000) } },
        },
        { authorization: `Bearer ${user.token}` },
      );
      expect(result.status).toBe(200);
      expect(result.json?.errors?.[0]?.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'title',
        fields: [{ field: 'title', message: 'title must be at most 200 characters.' }],
      });
      await stillAnswers(server.current);
    });

    it('answers JSON nested deep enough to overflow a recursive reader cleanly, never with a stack', async () => {
      const depth = Math.floor((LIMIT - 1000) / 2);
      const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const deepObject = `${'{"a":'.repeat(depth / 4)}1${'}'.repeat(depth / 4)}`;
      const signUpQuery = '"mutation($input: SignUpInput!) { signUp(input: $input) { token } }"';
      const refused = [
        `{"query":${signUpQuery},"variables":{"input":{"email":"deep@example.com","name":${deepArray},"password":"${PASSWORD}"}}}`,
        `{"query":${signUpQuery},"variables":{"input":${deepObject}}}`,
        `{"query":${deepArray}}`,
        deepArray,
      ];
      for (const body of refused) {
        const result = await post(server.current, body, { 'content-type': 'application/json' });
        expect(result.status).toBeLessThan(500);
        expect(result.json?.errors?.length).toBeGreaterThan(0);
        expect(result.text).not.toMatch(/stack|RangeError|\.[jt]s:\d/i);
      }
      // Extensions are free-form, and nobody reads these.
      const ignored = await post(server.current, `{"query":"{ me { id } }","extensions":${deepObject}}`, {
        'content-type': 'application/json',
      });
      expect(ignored.json).toEqual({ data: { me: null } });
      await expectNoAccount(server.current, 'deep@example.com');
      await stillAnswers(server.current);
    });
  });

  describe('content types', () => {
    const query = (email: string) =>
      `mutation { signUp(input: { email: "${email}", name: "Form", password: "${PASSWORD}" }) { token } }`;

    it('refuses a sign-up posted as an HTML form would (urlencoded, multipart, text/plain) with 415, creating nothing', async () => {
      const emails = [1, 2, 3, 4].map(() => `${unique('form')}@example.com`);
      const multipart = new FormData();
      multipart.set('query', query(emails[1]!));
      const attempts = [
        await post(server.current, new URLSearchParams({ query: query(emails[0]!) })),
        await post(server.current, multipart),
        await post(server.current, JSON.stringify({ query: query(emails[2]!) }), { 'content-type': 'text/plain' }),
        await post(server.current, query(emails[3]!), { 'content-type': 'application/graphql' }),
      ];
      for (const result of attempts) {
        expect(result.status).toBe(415);
        expect(codeOf(result)).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
      expect(attempts[0]!.json?.errors?.[0]?.message).toBe(
        'POST bodies must be application/json, not application/x-www-form-urlencoded.',
      );
      for (const email of emails) await expectNoAccount(server.current, email);
      await stillAnswers(server.current);
    });

    it('refuses a POST with no content type at all', async () => {
      const result = await post(server.current, new Blob([JSON.stringify({ query: '{ me { id } }' })]));
      expect(result.status).toBe(415);
      expect(codeOf(result)).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it('runs JSON: application/json with or without a charset, and the GraphQL JSON types', async () => {
      for (const type of [
        'application/json',
        'application/json; charset=utf-8',
        'Application/JSON',
        'application/graphql+json',
        'application/graphql-response+json',
      ]) {
        const result = await post(server.current, JSON.stringify({ query: '{ me { id } }' }), { 'content-type': type });
        expect(result.json).toEqual({ data: { me: null } });
      }
    });
  });

  describe('a request that is not GraphQL-over-HTTP', () => {
    it('answers a body that is not JSON with 400 BAD_REQUEST and nothing of the parser', async () => {
      for (const accept of ['application/json', 'application/graphql-response+json', '*/*']) {
        const result = await post(server.current, '{"query":', { 'content-type': 'application/json', accept });
        expect(result.status).toBe(400);
        expect(result.json).toEqual({
          errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }],
        });
      }
      await stillAnswers(server.current);
    });

    it('answers an empty body, declared or chunked, with 400 BAD_REQUEST at once', async () => {
      const declared = await post(server.current, '', { 'content-type': 'application/json' });
      expect(declared.status).toBe(400);
      expect(codeOf(declared)).toBe('BAD_REQUEST');
      const chunked = await new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
        const request = http.request(server.current.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        });
        request.on('response', (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode, body }));
        });
        request.on('error', reject);
        request.end();
      });
      expect(chunked.status).toBe(400);
      expect(JSON.parse(chunked.body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
      await stillAnswers(server.current);
    });

    it('answers GET parameters that are not JSON with 400 BAD_REQUEST and nothing of the parser', async () => {
      const url = `${server.current.url}?query=${encodeURIComponent('{ me { id } }')}&variables=${encodeURIComponent('{"a":')}`;
      const result = await answer(
        await fetch(url, { headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } }),
      );
      expect(result.status).toBe(400);
      expect(codeOf(result)).toBe('BAD_REQUEST');
      expect(result.text).not.toMatch(/originalError|stack|SyntaxError|position/i);
      await stillAnswers(server.current);
    });

    it('refuses a GET without the CSRF header, which a page on another site cannot add', async () => {
      const url = `${server.current.url}?query=${encodeURIComponent('{ me { id } }')}`;
      const result = await answer(await fetch(url, { headers: { accept: 'application/json' } }));
      expect(result.status).toBe(403);
      expect(codeOf(result)).toBe('BAD_REQUEST');
      const allowed = await answer(
        await fetch(url, { headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } }),
      );
      expect(allowed.json).toEqual({ data: { me: null } });
    });
  });

  describe('CORS in development (the default: any localhost origin)', () => {
    const grantOf = async (origin: string) => {
      const response = await fetch(server.current.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      return response.headers.get('access-control-allow-origin');
    };

    it('grants any port on localhost, 127.0.0.1 and [::1], and nothing else', async () => {
      for (const origin of [
        'http://localhost:5173',
        'http://127.0.0.1:8080',
        'https://localhost',
        'http://[::1]:3000',
      ]) {
        expect(await grantOf(origin)).toBe(origin);
      }
      for (const origin of [
        'https://localhost.evil.example',
        'http://evil.example',
        'http://127.0.0.1.evil.example',
        'null',
      ]) {
        expect(await grantOf(origin)).toBeNull();
      }
    });
  });

  describe('headers', () => {
    it('says nosniff on every response, and no-store on all but GraphiQL: results, refusals, preflights and 404s', async () => {
      const responses = [
        await fetch(server.current.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ me { id } }' }),
        }),
        await fetch(server.current.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
        await fetch(server.current.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: 'x'.repeat(LIMIT + 1),
        }),
        await fetch(server.current.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
        await fetch(server.current.url, {
          method: 'OPTIONS',
          headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
        }),
        await fetch(server.current.url.replace(/\/graphql$/, '/nowhere')),
      ];
      for (const response of responses) {
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('cache-control')).toBe('no-store');
        await response.arrayBuffer();
      }
      // GraphiQL's page is the same for everyone until the server changes: kept, and revalidated
      // (see test/compression.test.ts).
      const graphiql = await fetch(server.current.url, { headers: { accept: 'text/html' } });
      expect(graphiql.headers.get('x-content-type-options')).toBe('nosniff');
      expect(graphiql.headers.get('cache-control')).toBe('no-cache');
      await graphiql.arrayBuffer();
    });
  });

  describe('GraphiQL', () => {
    it('loads without any header, and tells its own requests to send the CSRF header', async () => {
      const response = await fetch(server.current.url, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('"additionalHeaders":{"x-graphql-yoga-csrf":"graphiql"}');
    });

    it('runs queries as GraphiQL sends them: a JSON POST with its headers', async () => {
      const user = await signUp(server.current, 'graphiql');
      const result = await postJson(
        server.current,
        { query: 'query Me { me { name } }', operationName: 'Me' },
        {
          accept: 'application/graphql-response+json, application/json, multipart/mixed',
          'x-graphql-yoga-csrf': 'graphiql',
          authorization: `Bearer ${user.token}`,
        },
      );
      expect(result.status).toBe(200);
      expect(result.json).toEqual({ data: { me: { name: 'graphiql' } } });
    });

    it('runs subscriptions as GraphiQL sends them: a GET for text/event-stream with its headers', async () => {
      const user = await signUp(server.current, 'graphiql-sse');
      const project = await createProject(server.current, user);
      const { eventCursor } = await server.current.ok(ops.EventCursor, {}, user.token);
      const params = new URLSearchParams({
        query: 'subscription($p: ID, $a: String) { bugChanged(projectId: $p, after: $a) { action } }',
        variables: JSON.stringify({ p: project.id, a: eventCursor }),
      });
      const controller = new AbortController();
      const response = await fetch(`${server.current.url}?${params}`, {
        headers: {
          accept: 'text/event-stream',
          'x-graphql-yoga-csrf': 'graphiql',
          authorization: `Bearer ${user.token}`,
        },
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      await server.current.ok(ops.CreateBug, { input: { projectId: project.id, title: 'Seen over SSE' } }, user.token);
      const reader = response.body!.getReader();
      let text = '';
      while (!text.includes('"bugChanged"')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      expect(text).toContain(JSON.stringify({ data: { bugChanged: { action: 'CREATED' } } }));
    });
  });
});

describe('CORS with configured origins', () => {
  const server = useServer({ CORS_ORIGINS: 'https://app.example, https://admin.example' });

  const request = (origin: string) =>
    fetch(server.current.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
  const preflight = (origin: string) =>
    fetch(server.current.url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('grants an allowed origin exactly itself, with credentials', async () => {
    for (const origin of ['https://app.example', 'https://admin.example']) {
      const response = await request(origin);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);

      const allowed = await preflight(origin);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
      expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
      expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    }
  });

  it('gives a foreign origin, or a localhost one, no CORS header at all, preflight or not', async () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.evil.example',
      'http://app.example',
      'http://localhost:3000',
    ]) {
      for (const response of [await request(origin), await preflight(origin)]) {
        const cors = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
        expect(cors).toEqual([]);
      }
    }
    await stillAnswers(server.current);
  });

  it('grants an allowed origin on a 413 too, so its page can read why', async () => {
    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://app.example' },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});

describe('CORS in production by default', () => {
  const server = useServer({ NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-at-least-32-characters' });

  it('grants no origin, not even localhost', async () => {
    const response = await fetch(server.current.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await response.json()).toEqual({ data: { me: null } });
  });
});
