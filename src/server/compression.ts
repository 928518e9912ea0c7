import type { RequestListener } from 'node:http';
import compression from 'compression';
import type { Request, Response } from 'express';

/*
 * Compression of GraphQL results, by the `compression` middleware (brotli or gzip, as
 * Accept-Encoding says; quality 4 for brotli, zlib's default level for gzip). It wraps the node
 * response, so it sees exactly what yoga writes, and decides once the headers are known:
 *
 * - Only JSON results (`application/json`, `application/graphql-response+json`) are compressed,
 *   from COMPRESSION_THRESHOLD_BYTES up: below that, the header costs more than it saves.
 * - Never a stream: Server-Sent Events (`text/event-stream`) and incremental delivery
 *   (`multipart/mixed`) must reach the client as each part is written, and a compressor holds
 *   bytes back until it has enough. WebSocket upgrades never pass through a request listener.
 * - Not GraphiQL's page: it comes compressed already (see graphiql.ts), and the middleware leaves
 *   a response with a Content-Encoding alone.
 */

/** Results smaller than this (in bytes) go as they are. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

const COMPRESSED_TYPES = /^application\/(?:graphql-response\+)?json\s*(?:;|$)/i;

/** Wraps a request listener so that its JSON answers are compressed when the client accepts it. */
export function compressResults(listener: RequestListener): RequestListener {
  const compress = compression({
    threshold: COMPRESSION_THRESHOLD_BYTES,
    filter: (_req, res) => COMPRESSED_TYPES.test(String(res.getHeader('content-type') ?? '')),
  });
  // The middleware uses nothing of Express's request and response beyond node's own.
  return (req, res) => compress(req as Request, res as Response, () => void listener(req, res));
}
