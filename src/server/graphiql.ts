import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/*
 * GraphiQL's page carries its whole bundle (about 9 MB of HTML, so that it works without internet
 * access). It is the same for every request to a running server (it embeds only our GraphiQL
 * options), so it is rendered once, each encoding is compressed once, on first demand and off the
 * event loop (zlib's thread pool), and every later request is answered from those bytes: brotli
 * (about 1.9 MB) or gzip (about 2.4 MB) as the client accepts, the HTML as it is otherwise.
 *
 * Caching: `Cache-Control: no-cache` with an ETag, so a browser keeps the page but asks each time
 * whether it is still current, and a reload costs a 304. A restart with other options or another
 * GraphiQL version changes the page and so the ETag. The ETag is weak (`W/`), one for every
 * encoding: the encodings are the same page.
 */

type Encoding = 'br' | 'gzip' | 'identity';

/** Brotli's quality 9: nearly the size of its slow best (11) in a twentieth of the time, paid once. */
const BROTLI_QUALITY = 9;

/** GraphiQL's page as yoga renders it and as this server serves it. */
export interface GraphiQLPage {
  /** Yoga's `renderGraphiQL`: renders the page once with `render`, then hands back the same HTML. */
  render: (options: GraphiQLOptions) => string;
  /** Answers GraphiQL's page compressed as the client accepts, with its ETag, and 304 to a request that has it. */
  plugin: Plugin;
}

/** GraphiQL's page rendered by `render`, served as the header says. */
export function graphiqlPage(render: (options: GraphiQLOptions) => string): GraphiQLPage {
  let html: Buffer | undefined;
  let rendered: string | undefined;
  let etag = '';
  const encoded = new Map<Encoding, Promise<Buffer>>();

  const bytes = (encoding: Encoding): Promise<Buffer> => {
    let body = encoded.get(encoding);
    if (body === undefined) {
      const page = html!;
      body =
        encoding === 'br'
          ? promisify(zlib.brotliCompress)(page, {
              params: {
                [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
                [zlib.constants.BROTLI_PARAM_SIZE_HINT]: page.length,
              },
            })
          : encoding === 'gzip'
            ? promisify(zlib.gzip)(page)
            : Promise.resolve(page);
      encoded.set(encoding, body);
    }
    return body;
  };

  return {
    render: (options) => {
      if (rendered === undefined) {
        rendered = render(options);
        html = Buffer.from(rendered, 'utf8');
        etag = `W/"${createHash('sha256').update(html).digest('base64url').slice(0, 32)}"`;
      }
      return rendered;
    },
    plugin: {
      async onResponse(payload) {
        const { request, response, fetchAPI } = payload;
        // The only HTML this server answers with is GraphiQL's page (yoga's landing page is off).
        if (
          html === undefined ||
          request.method !== 'GET' ||
          response.status !== 200 ||
          !(response.headers.get('content-type') ?? '').startsWith('text/html')
        ) {
          return;
        }
        // What the other plugins set (security headers, CORS) stays; the body and its headers are ours.
        const headers = new fetchAPI.Headers(response.headers);
        headers.set('ETag', etag);
        headers.set('Cache-Control', 'no-cache');
        const vary = headers.get('vary');
        headers.set('Vary', vary === null || vary === '' ? 'Accept-Encoding' : `${vary}, Accept-Encoding`);
        headers.delete('content-length');
        if (matches(request.headers.get('if-none-match'), etag)) {
          headers.delete('content-type');
          payload.setResponse(new fetchAPI.Response(null, { status: 304, headers }));
          return;
        }
        const encoding = preferredEncoding(request.headers.get('accept-encoding'));
        const body = await bytes(encoding);
        headers.set('Content-Type', 'text/html; charset=utf-8');
        headers.set('Content-Length', String(body.length));
        if (encoding !== 'identity') headers.set('Content-Encoding', encoding);
        // zlib's and Buffer.from's buffers are plain ArrayBuffers, never shared ones.
        payload.setResponse(new fetchAPI.Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers }));
      },
    },
  };
}

/** Whether an `If-None-Match` value names `etag` (compared weakly, as If-None-Match is), or is `*`. */
function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  const opaque = etag.replace(/^W\//, '');
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === opaque);
}

/**
 * The encoding to send for an `Accept-Encoding` value: the one the client weighs highest of brotli
 * and gzip (brotli on a tie, being smaller), else the page as it is. `*` stands for any coding it
 * does not name; `q=0` refuses one.
 */
export function preferredEncoding(acceptEncoding: string | null): Encoding {
  if (acceptEncoding === null) return 'identity';
  const weights = new Map<string, number>();
  for (const entry of acceptEncoding.split(',')) {
    const [name = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name !== '' && Number.isFinite(weight)) weights.set(name, weight);
  }
  const weightOf = (coding: string) => weights.get(coding) ?? weights.get('*') ?? 0;
  const [best] = (['br', 'gzip'] as const)
    .filter((coding) => weightOf(coding) > 0)
    .sort((a, b) => weightOf(b) - weightOf(a));
  return best ?? 'identity';
}
