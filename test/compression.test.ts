import http from 'node:http';
import zlib from 'node:zlib';
import * as ops from './operations';
import { createProject, signUp } from './helpers/fixtures';
import { useServer } from './helpers/server';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The bytes as they came over the wire, not decoded. */
  body: Buffer;
}

/** One request with node's http client, which (unlike fetch) hands back the body as it was sent. */
function request(url: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const decode = (response: RawResponse): Buffer => {
  switch (response.headers['content-encoding']) {
    case 'br':
      return zlib.brotliDecompressSync(response.body);
    case 'gzip':
      return zlib.gunzipSync(response.body);
    case undefined:
      return response.body;
    default:
      throw new Error(`Unexpected Content-Encoding ${response.headers['content-encoding']}`);
  }
};

const MB = 1024 * 1024;

describe("GraphiQL's page", () => {
  const server = useServer({ GRAPHIQL: 'true' });
  const page = (headers: Record<string, string>) => request(server.current.url, { accept: 'text/html', ...headers });

  it('comes compressed as the client accepts: brotli first, else gzip, else as it is', async () => {
    const plain = await page({});
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(5 * MB);
    expect(plain.body.toString('utf8')).toContain('mutation SignUp');

    const brotli = await page({ 'accept-encoding': 'gzip, deflate, br' });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.body.length).toBeLessThan(3 * MB);
    expect(Number(brotli.headers['content-length'])).toBe(brotli.body.length);
    expect(decode(brotli).equals(plain.body)).toBe(true);

    const gzip = await page({ 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.body.length).toBeLessThan(3 * MB);
    expect(decode(gzip).equals(plain.body)).toBe(true);

    // The client's weights count: gzip preferred, or brotli refused.
    expect((await page({ 'accept-encoding': 'br;q=0.5, gzip' })).headers['content-encoding']).toBe('gzip');
    expect((await page({ 'accept-encoding': 'br;q=0, *' })).headers['content-encoding']).toBe('gzip');
    expect((await page({ 'accept-encoding': 'identity' })).headers['content-encoding']).toBeUndefined();
  });

  it('is kept by the browser and revalidated: an ETag, no-cache, and 304 when it has not changed', async () => {
    const first = await page({ 'accept-encoding': 'gzip, br' });
    const etag = first.headers.etag;
    expect(etag).toMatch(/^W\/"[\w-]+"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    // The same page whatever the encoding: one ETag.
    expect((await page({})).headers.etag).toBe(etag);

    const again = await page({ 'accept-encoding': 'gzip, br', 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    expect(again.headers['cache-control']).toBe('no-cache');

    const changed = await page({ 'accept-encoding': 'gzip, br', 'if-none-match': 'W/"another-page"' });
    expect(changed.status).toBe(200);
    expect(changed.body.length).toBe(first.body.length);
  });
});

describe('GraphQL results', () => {
  const server = useServer();
  const post = (query: string, headers: Record<string, string> = {}) =>
    request(
      server.current.url,
      { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      JSON.stringify({ query }),
    );
  // Introspection answers outside production; its answer is tens of kilobytes.
  const LARGE = '{ __schema { types { name description fields { name description } } } }';

  it('come compressed past 1 KiB when the client accepts it, and decode to the same JSON', async () => {
    const plain = await post(LARGE);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(10 * 1024);
    const json: unknown = JSON.parse(plain.body.toString('utf8'));
    expect(json).toHaveProperty('data.__schema.types');

    for (const encoding of ['gzip', 'br']) {
      const compressed = await post(LARGE, { 'accept-encoding': encoding });
      expect(compressed.status).toBe(200);
      expect(compressed.headers['content-encoding']).toBe(encoding);
      expect(compressed.headers.vary).toMatch(/\bAccept-Encoding\b/i);
      expect(compressed.body.length).toBeLessThan(plain.body.length / 3);
      expect(JSON.parse(decode(compressed).toString('utf8'))).toEqual(json);
    }
  });

  it('go as they are when small', async () => {
    const small = await post('{ me { id } }', { 'accept-encoding': 'gzip, br' });
    expect(small.status).toBe(200);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString('utf8'))).toEqual({ data: { me: null } });
  });

  it('never compress a Server-Sent Events stream: each event arrives as it is sent', async () => {
    const user = await signUp(server.current, 'sse');
    const project = await createProject(server.current, user);
    const { eventCursor } = await server.current.ok(ops.EventCursor, {}, user.token);
    const params = new URLSearchParams({
      query: 'subscription($p: ID, $a: String) { bugChanged(projectId: $p, after: $a) { action } }',
      variables: JSON.stringify({ p: project.id, a: eventCursor }),
    });
    const received = await new Promise<{ headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = http.get(
        `${server.current.url}?${params}`,
        {
          headers: {
            accept: 'text/event-stream',
            'accept-encoding': 'gzip, br',
            'x-graphql-yoga-csrf': '1',
            authorization: `Bearer ${user.token}`,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            if (text.includes('"bugChanged"')) {
              resolve({ headers: res.headers, text });
              req.destroy();
            }
          });
          res.on('error', reject);
          // Once the stream is open, make the event it is waiting for.
          void server.current
            .ok(ops.CreateBug, { input: { projectId: project.id, title: 'Over SSE' } }, user.token)
            .catch(reject);
        },
      );
      req.on('error', reject);
    });
    expect(received.headers['content-type']).toContain('text/event-stream');
    // Yoga says `none` itself, for proxies on the way.
    expect([undefined, 'none']).toContain(received.headers['content-encoding']);
    expect(received.text).toContain(JSON.stringify({ data: { bugChanged: { action: 'CREATED' } } }));
  });
});
