import type { RequestListener, Server, ServerResponse } from 'node:http';
import type { Logger } from '../infra/log';

/*
 * Stopping the HTTP side without cutting what is in flight. `server.close()` stops listening at
 * once (new connections are refused) and closes the idle kept-alive ones, but on its own it would
 * wait for the others forever or until their keep-alive timeout, and `closeAllConnections()` cuts
 * requests half-answered. So, while draining:
 *
 * - a response not yet begun says `Connection: close`, so its connection ends once it is sent;
 * - a response already under way ends, then its connection, now idle, is closed;
 * - a Server-Sent Events stream (a subscription over HTTP) never ends by itself: it is cut at once,
 *   like WebSockets are closed with 1001, and its client resubscribes elsewhere from its cursor;
 * - whatever is still open after the timeout is cut.
 */

/** A request listener and the way to stop the server it serves without cutting its requests. */
export interface Drainable {
  /** The request listener to serve, which counts the requests in flight. */
  listener: RequestListener;
  /**
   * Stops accepting connections and resolves once every request in flight has been answered and
   * its connection closed, or `timeoutMs` has passed and the rest were cut.
   */
  drain(server: Server, timeoutMs: number, log: Logger): Promise<void>;
}

/** Wraps `listener` so that the server it serves can be drained (see the header). */
export function drainable(listener: RequestListener): Drainable {
  const inFlight = new Set<ServerResponse>();
  let draining = false;

  /** Once `res` is done, its connection is idle: closed, as nothing more will be served on it. */
  const closeAfter = (server: Server, res: ServerResponse) =>
    // The next turn: node marks the connection idle after the response's own 'close' listeners.
    res.once('close', () => setImmediate(() => server.closeIdleConnections()));

  return {
    listener: (req, res) => {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
      // A request on a connection kept alive from before the stop: answered, then the connection ends.
      if (draining) res.shouldKeepAlive = false;
      listener(req, res);
    },
    async drain(server, timeoutMs, log) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let streams = 0;
      for (const res of inFlight) {
        if (!res.headersSent) {
          res.shouldKeepAlive = false;
        } else if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
          streams++;
          res.destroy();
        } else {
          closeAfter(server, res);
        }
      }
      if (inFlight.size > streams) log.info({ requests: inFlight.size - streams }, 'waiting for requests in flight');
      const timer = setTimeout(() => {
        if (inFlight.size > 0) log.warn({ requests: inFlight.size, timeoutMs }, 'cutting requests still in flight');
        server.closeAllConnections();
      }, timeoutMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
