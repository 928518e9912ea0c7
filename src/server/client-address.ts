import type { IncomingMessage } from 'node:http';

/**
 * The address a request came from. Without trusted proxies it is the socket's peer, whatever the
 * headers say (a client can write any `X-Forwarded-For`). Behind `trustProxy` proxies, each of
 * which appends the address it received from, the client is the entry that many from the right:
 * anything further left was written by the client itself.
 */
export function clientAddress(request: IncomingMessage, trustProxy: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (trustProxy === 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return hops[hops.length - trustProxy] ?? hops[0] ?? peer;
}
