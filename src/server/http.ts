import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import type { CORSOptions, Plugin } from 'graphql-yoga';
import type { Config } from '../config';
import { ErrorCode } from '../graphql/errors';
import { originAllowed } from './origins';

/*
 * The HTTP surface in front of yoga. What it guarantees, and where:
 *
 * - Bodies: `limitRequestBody` reads at most MAX_BODY_BYTES of any request (declared or chunked)
 *   before yoga sees it, and hands the bytes on as `req.body`, which @whatwg-node/server (yoga's
 *   HTTP layer) uses instead of the stream, as it does for what express body parsers leave. Past
 *   the limit: 413 and the connection is closed, so the rest is never read.
 * - Content types: only JSON POSTs are parsed (`useJsonOnly`), so a page on another site cannot
 *   run a mutation with an HTML form or a "simple" fetch; GET requests must carry a custom header
 *   (yoga's CSRF prevention, `useCsrfHeader`), which GraphiQL sends.
 * - CORS: `corsOptions` grants exactly the configured origins, nothing to anyone else.
 * - Headers: every response says `nosniff` and `no-store` (`useSecurityHeaders`), but for GraphiQL's
 *   page, which is kept and revalidated (graphiql.ts replaces its Cache-Control).
 * - Request errors: what yoga reports about a request it could not read says what was wrong, never
 *   the parser's own message or error (`useCleanRequestErrors`).
 */

/** The header yoga's CSRF prevention requires of GET requests; any value will do. */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/**
 * Media types a POST body may have, each with the one yoga's JSON parser knows it by: JSON, the
 * older GraphQL-over-HTTP draft's type, and (as some clients send it) the response type. None of
 * them is one a browser sends cross-origin without a preflight.
 */
const JSON_MEDIA_TYPES = new Map([
  ['application/json', 'application/json'],
  ['application/graphql+json', 'application/graphql+json'],
  ['application/graphql-response+json', 'application/json'],
]);

/** The headers every response carries: the body is what its Content-Type says, and nobody caches it. */
export const SECURITY_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } as const;

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A GraphQL-style error body for a request refused before GraphQL runs. */
function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

/** A request-level error, answered with `status` and a stable code, and nothing of its cause. */
function requestError(status: number, code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status } } });
}

export interface BodyLimitOptions {
  /** Largest body read, in bytes; 0 reads any size. */
  maxBytes: number;
  /** Browser origins granted CORS, so that a page allowed to call the API can read the 413 too. */
  corsOrigins: Config['corsOrigins'];
}

/**
 * Wraps a node request listener so that no request body larger than `maxBytes` is read: a larger
 * Content-Length is refused at once; a chunked body is counted as it arrives and refused as soon
 * as it passes the limit. Either way the answer is 413 with `Connection: close`, so node does not
 * drain the rest to reuse the connection. A body within the limit is handed on as `req.body`.
 */
export function limitRequestBody(listener: RequestListener, options: BodyLimitOptions): RequestListener {
  const { maxBytes } = options;
  if (maxBytes === 0) return listener;
  return (req, res) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (declared === 0 && !chunked) {
      // No body (GET, OPTIONS, an empty POST): yoga reads the untouched stream, which just ends.
      void listener(req, res);
      return;
    }
    if (declared > maxBytes) {
      tooLarge(req, res, options);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', stop);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        stop();
        // Stop taking bytes off the socket; it closes once the answer is out.
        req.pause();
        tooLarge(req, res, options);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      // whatwg-node takes an empty Buffer for "nothing pre-read" and would wait on the stream we
      // have consumed, which never ends again: an empty chunked body goes on as an empty stream.
      (req as IncomingMessage & { body?: Buffer | Readable }).body =
        received === 0 ? Readable.from([]) : Buffer.concat(chunks, received);
      void listener(req, res);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    // An aborted upload: nobody is left to answer.
    req.on('error', stop);
  };
}

function tooLarge(req: IncomingMessage, res: ServerResponse, { maxBytes, corsOrigins }: BodyLimitOptions): void {
  const origin = req.headers.origin;
  const cors =
    origin !== undefined && originAllowed(corsOrigins, origin)
      ? { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' }
      : {};
  const body = errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `The request body is larger than ${maxBytes} bytes.`);
  res.shouldKeepAlive = false;
  res.writeHead(413, {
    ...SECURITY_HEADERS,
    ...cors,
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

/**
 * Yoga's `cors` option: an allowed origin gets exactly itself back, with credentials; any other
 * origin, preflight or not, gets no CORS header at all, so its browser keeps the response from it.
 */
export function corsOptions(corsOrigins: Config['corsOrigins']): (request: Request) => CORSOptions {
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !originAllowed(corsOrigins, origin)) return false;
    return { origin: [origin], credentials: true, methods: ['GET', 'POST'] };
  };
}

/** The yoga plugins of the HTTP surface: content types, CSRF, security headers, request errors. */
export function httpPlugins(): Plugin[] {
  return [useSecurityHeaders(), useJsonOnly(), useCsrfHeader(), useCleanRequestErrors()];
}

function useSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
      // The CORS answer depends on the Origin header, whichever way it goes.
      const vary = response.headers.get('vary') ?? '';
      if (!/\borigin\b/i.test(vary)) response.headers.set('Vary', vary === '' ? 'Origin' : `${vary}, Origin`);
    },
  };
}

/**
 * Refuses every POST whose body is not JSON with 415. Yoga would also parse form-urlencoded,
 * multipart and `application/graphql` bodies; browsers send the first two (and `text/plain`)
 * cross-origin without a preflight, so a page anywhere could otherwise sign up or run a mutation
 * with a plain HTML form.
 */
function useJsonOnly(): Plugin {
  return {
    onRequest(payload) {
      const { request, fetchAPI } = payload;
      if (request.method !== 'POST') return;
      const [type = '', ...parameters] = (request.headers.get('content-type') ?? '').split(';');
      const mediaType = type.trim().toLowerCase();
      const parsedAs = JSON_MEDIA_TYPES.get(mediaType);
      if (parsedAs !== undefined) {
        // Media types are case-insensitive, but yoga picks its parser by an exact match.
        if (type !== parsedAs) request.headers.set('content-type', [parsedAs, ...parameters].join(';'));
        return;
      }
      payload.endResponse(
        new fetchAPI.Response(
          errorBody(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            `POST bodies must be application/json${mediaType === '' ? '' : `, not ${mediaType}`}.`,
          ),
          { status: 415, headers: { 'Content-Type': JSON_CONTENT_TYPE } },
        ),
      );
    },
  };
}

/**
 * Yoga's CSRF prevention: a GET request (the one kind a browser sends cross-origin without a
 * preflight, now that POSTs must be JSON) runs only with the `x-graphql-yoga-csrf` header, which
 * a page on another site cannot add without CORS. Its refusal gets our error shape.
 */
function useCsrfHeader(): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: [CSRF_HEADER] });
  return {
    onRequestParse(payload) {
      try {
        return csrf.onRequestParse?.(payload);
      } catch {
        throw requestError(
          403,
          ErrorCode.BAD_REQUEST,
          `A GET request must carry the ${CSRF_HEADER} header (any value), or be a POST of application/json.`,
        );
      }
    },
  };
}

/**
 * Yoga reports a body that is not JSON with the JSON parser's own error in
 * `extensions.originalError`, and GET parameters that are not JSON with the bare parser message (as
 * a 500). Either way the client learns nothing useful and we show a library's internals: say what
 * was wrong instead. Runs after yoga has picked its parser for the request, and wraps it.
 */
function useCleanRequestErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (requestParser === undefined) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          // Yoga's own messages are written for clients; their causes are not. Without the cause,
          // yoga would answer `application/json` clients 200, so the status is set outright.
          if (error instanceof GraphQLError) {
            const { code, http } = error.extensions;
            throw requestError(
              http?.status ?? 400,
              typeof code === 'string' ? code : ErrorCode.BAD_REQUEST,
              error.message,
            );
          }
          throw requestError(
            400,
            ErrorCode.BAD_REQUEST,
            'The request could not be read: send a JSON body, or GET parameters whose variables and extensions are JSON.',
          );
        }
      });
    },
  };
}
