import type { IncomingMessage, Server as HttpServer } from 'node:http';
import {
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import {
  CloseCode,
  handleProtocols,
  makeServer,
  type Disposable,
  type FormattedExecutionResult,
  type OperationResult,
} from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config, Limits } from '../config';
import { ErrorCode, maskError } from '../graphql/errors';
import type { Logger } from '../infra/log';
import { clientAddress } from './client-address';
import type { Context, ContextServices } from './context';
import type { Metrics } from './metrics';
import { bearerClaims, buildContext } from './http-context';
import { originAllowed } from './origins';
import { requestIdOf } from './request-log';
import { resultFrame, sharedFrame, type SharedFrame } from './shared-json';
import { at } from './token-expiry';

type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

/** What yoga's envelop hands back for one operation, typed as graphql-ws uses it. */
interface Enveloped {
  schema: GraphQLSchema;
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): Promise<Context> | Context;
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}

/**
 * The codes this server closes sockets with, beyond graphql-ws's own (4400 bad message, 4408 no
 * `connection_init` in time, 4409 duplicate operation id, 4500 internal error).
 */
export const SocketCloseCode = {
  /** The server is stopping. */
  GoingAway: 1001,
  /** A frame over WS_MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** The socket fell WS_MAX_BUFFERED_BYTES behind: reconnect and resume from the last cursor. */
  TryAgainLater: 1013,
  /** No valid token in `connection_init`, or the token has expired since. */
  Forbidden: CloseCode.Forbidden,
  /** Over WS_MAX_MESSAGES_PER_SECOND, or WS_MAX_SOCKETS_PER_USER open sockets for this user. */
  TooManyRequests: 4429,
} as const;

export interface WebSocketOptions {
  services: ContextServices;
  limits: Limits;
  /** Proxies trusted to append to `X-Forwarded-For` (see clientAddress). */
  trustProxy: number;
  /** Browser origins that may open a socket; a request without `Origin` is not a browser and passes. */
  corsOrigins: Config['corsOrigins'];
  /** Milliseconds a socket may stay open without `connection_init` before it is closed with 4408. */
  connectionInitWaitTimeout: number;
  /** How often to ping every client; one that has not answered by the next ping is dropped. Default 12 s. */
  keepAliveMs?: number;
  /** Counts sockets, deliveries and the refusals of socket limits; undefined when METRICS=false. */
  metrics?: Metrics;
  /** Each socket logs with a child of it that carries the socket's `connId`; each operation adds its `opId`. */
  log: Logger;
}

/** What graphql-ws keeps for each socket, beside its subscriptions. */
interface Extra {
  socket: WebSocket;
  clientAddress: string;
  /** The socket's logger: its lines carry `connId`. */
  log: Logger;
  /** The `Authorization` value from `connection_init`, once accepted. */
  authorization?: string;
  /** When the token stops being valid (ms since the epoch); nothing is sent past it. */
  expiresAt?: number;
  /** Undoes what accepting the connection set up (the per-user count, the expiry timer). */
  release?: () => void;
  /** Queues a frame for the socket, with the result it carries when it is one (see `connection`). */
  write: (frame: string | Buffer, result?: ExecutionResult) => void;
}

/** How long a socket closed for reading too slowly has to take its close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 5_000;
/** How long stopping the server waits for sockets to answer its close frame. */
const SHUTDOWN_GRACE_MS = 1_000;

/**
 * Serves the graphql-ws protocol on `/graphql` of `server`, through graphql-ws's transport-free
 * core, so every limit on a socket lives here. Every operation goes through yoga's own envelop
 * (parse with its token limit, validate with the operation limits, the same context, rate limits
 * and error masking), so WebSocket and HTTP behave alike.
 *
 * The token comes once, in `connection_init`: `{ "authorization": "Bearer <token>" }` (GraphiQL's
 * `{ "headers": { "Authorization": ... } }` shape is accepted too). Without a valid one the socket
 * is closed with 4403, and again when the token expires. Each operation builds its context afresh,
 * so an account deleted since connecting is refused like it would be over HTTP.
 *
 * A socket cannot hold the server's memory: frames are capped (1009), messages per second are
 * capped (4429), operations per socket are capped (an `error` for the one past the limit), and a
 * socket that does not read what it is sent is closed (1013) once WS_MAX_BUFFERED_BYTES are
 * waiting for it. Sends do not wait for the client: a slow reader falls behind and is dropped,
 * rather than holding its events (and their loads) in the server.
 */
export function serveWebSockets(yoga: Yoga, server: HttpServer, options: WebSocketOptions): Disposable {
  const { limits, services } = options;
  const socketsPerUser = new Map<string, number>();
  /**
   * Frames graphql-ws is about to send with a shared result's placeholder, and what to send
   * instead; every placeholder is unique, so one map serves every socket.
   */
  const sharedFrames = new Map<string, SharedFrame>();
  const { metrics } = options;
  const outgoing = writesInBursts((error) => options.log.error({ err: error }, 'WebSocket send failed'));
  /** The first text each parsed document came from (see onSubscribe). */
  const queryTexts = new WeakMap<DocumentNode, string>();

  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    // 0 means no limit to `ws`, as it does to us.
    maxPayload: limits.wsMaxPayloadBytes,
    handleProtocols,
    verifyClient: (
      { origin }: { origin?: string },
      done: (allowed: boolean, code?: number, message?: string) => void,
    ) =>
      origin === undefined || origin === '' || originAllowed(options.corsOrigins, origin)
        ? done(true)
        : done(false, 403, 'Origin not allowed'),
  });

  const keepAlive = keepAlivePings(options.keepAliveMs ?? 12_000);
  const graphqlWs = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: options.connectionInitWaitTimeout,
    onConnect: async ({ connectionParams, extra }) => {
      const authorization = authorizationOf(connectionParams);
      const claims = authorization === undefined ? null : bearerClaims(services.tokens, authorization);
      if (authorization === undefined || claims === null) return false;
      const context = await buildContext(services, authorization, extra.clientAddress, extra.log).catch(() => null);
      if (context?.viewer == null) return false;
      // Gone while we looked the user up: its close has run, and would never undo what follows.
      if (extra.socket.readyState !== extra.socket.OPEN) return false;

      const userId = context.viewer.id;
      const open = socketsPerUser.get(userId) ?? 0;
      if (limits.wsMaxSocketsPerUser > 0 && open >= limits.wsMaxSocketsPerUser) {
        metrics?.refused('WS_MAX_SOCKETS_PER_USER');
        extra.socket.close(
          SocketCloseCode.TooManyRequests,
          `Too many open sockets for this user (WS_MAX_SOCKETS_PER_USER=${limits.wsMaxSocketsPerUser})`,
        );
        return false;
      }
      socketsPerUser.set(userId, open + 1);
      const expiry = at(claims.expiresAt, () => extra.socket.close(SocketCloseCode.Forbidden, 'Token expired'));
      extra.authorization = authorization;
      extra.expiresAt = claims.expiresAt;
      extra.release = () => {
        expiry.cancel();
        const left = (socketsPerUser.get(userId) ?? 1) - 1;
        if (left === 0) socketsPerUser.delete(userId);
        else socketsPerUser.set(userId, left);
      };
      return true;
    },
    onSubscribe: async ({ extra, subscriptions }, id, payload) => {
      // graphql-ws has already registered this operation, so it counts itself.
      const limit = limits.wsMaxSubscriptionsPerSocket;
      if (limit > 0 && Object.keys(subscriptions).length > limit) {
        return [
          new GraphQLError(
            `At most ${limit} operations may be active on one socket (WS_MAX_SUBSCRIPTIONS_PER_SOCKET); complete one first.`,
            { extensions: { code: ErrorCode.TOO_MANY_OPERATIONS, limit: 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET' } },
          ),
        ];
      }
      const log = extra.log.child({ opId: id });
      const enveloped = yoga.getEnveloped({
        authorization: extra.authorization,
        clientAddress: extra.clientAddress,
        log,
        params: payload,
      }) as unknown as Enveloped;
      try {
        const document = enveloped.parse(payload.query);
        // Every socket's message is parsed into a string of its own, which its operation keeps
        // for as long as it runs; sockets that send the same query keep one copy between them.
        // yoga's parser cache gives the same text the same document, and bounds the map.
        const text = queryTexts.get(document);
        if (text === undefined) queryTexts.set(document, payload.query);
        else if (text === payload.query) (payload as { query: string }).query = text;
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        const contextValue = await enveloped.contextFactory();
        // The socket itself closes when the token expires (see onConnect): its operations need no
        // timer of their own (see useTokenExpiry).
        contextValue.tokenExpiresAt = undefined;
        // Results without errors skip graphql-ws's loop and go out as the frame it would make.
        contextValue.sendResult = (result) => extra.write(resultFrame(id, result), result);
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: {
            execute: (args: ExecutionArgs) => enveloped.execute(args),
            subscribe: (args: ExecutionArgs) => enveloped.subscribe(args),
          },
        } satisfies ExecutionArgs;
      } catch (error) {
        // A syntax error, a token that expired since connecting, or anything unexpected: an
        // `error` message for this operation, never a closed socket.
        return [maskError(error, (message, original) => log.error({ err: original }, message))];
      }
    },
    execute: (args) => operationOf(args).execute(args),
    subscribe: (args) => operationOf(args).subscribe(args),
    // `extensions.http` tells yoga which HTTP status to answer; a socket has none to set.
    onNext: (_ctx, id, _payload, _args, result) => {
      if (result.errors !== undefined) {
        // Rare (an event whose result failed), and not shared: counted here rather than at the send.
        metrics?.delivered(result);
        return { ...result, errors: result.errors.map(withoutHttp) };
      }
      const frame = sharedFrame(id, result);
      sharedFrames.set(frame.expected, frame);
      return frame.placeholder as FormattedExecutionResult;
    },
    onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttp),
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // A client (or proxy) that names its upgrade request finds that name in our lines.
    const connId = requestIdOf(request.headers['x-request-id']);
    /**
     * Every frame the socket is sent, graphql-ws's and the results sent directly alike, in the
     * order they are queued: never past the token's expiry, counted, and the socket closed once it
     * falls WS_MAX_BUFFERED_BYTES behind.
     */
    const write = (frame: string | Buffer, result?: ExecutionResult) =>
      outgoing.write(() => {
        if (socket.readyState !== socket.OPEN) return;
        if (extra.expiresAt !== undefined && Date.now() >= extra.expiresAt) {
          socket.close(SocketCloseCode.Forbidden, 'Token expired');
          return;
        }
        // A shared frame is bytes, which `ws` sends as a binary message unless told it is text.
        socket.send(frame, { binary: false });
        if (result !== undefined) metrics?.delivered(result);
        if (limits.wsMaxBufferedBytes > 0 && socket.bufferedAmount > limits.wsMaxBufferedBytes) {
          socket.close(
            SocketCloseCode.TryAgainLater,
            'Not reading fast enough: reconnect and resume from your last cursor',
          );
          setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
        }
      });
    const extra: Extra = {
      socket,
      clientAddress: clientAddress(request, options.trustProxy),
      log: options.log.child({ connId }),
      write,
    };
    const opened = performance.now();
    extra.log.debug('socket opened');
    keepAlive.add(socket);
    metrics?.socketOpened();
    const flood = messageRate(limits.wsMaxMessagesPerSecond);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // `ws` closes the socket itself after a protocol error (1009 for a frame over the limit, 1002...).
      if (error.code?.startsWith('WS_ERR_')) return;
      extra.log.error({ err: error }, 'WebSocket error');
      socket.terminate();
    });

    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (message) => {
          // First, so that every shared frame is taken back even when nothing is sent.
          const shared = sharedFrames.get(message);
          if (shared === undefined) write(message);
          else {
            sharedFrames.delete(message);
            write(shared.actual, shared.result);
          }
        },
        close: (code, reason) => {
          // What graphql-ws sent before closing goes first.
          outgoing.flush();
          if (socket.readyState === socket.OPEN) socket.close(code, reason);
        },
        onMessage: (handle) =>
          socket.on('message', (data: Buffer) => {
            if (socket.readyState !== socket.OPEN) return;
            if (flood()) {
              metrics?.refused('WS_MAX_MESSAGES_PER_SECOND');
              socket.close(
                SocketCloseCode.TooManyRequests,
                `Too many messages (WS_MAX_MESSAGES_PER_SECOND=${limits.wsMaxMessagesPerSecond})`,
              );
              return;
            }
            handle(data.toString('utf8')).catch((error: unknown) => {
              extra.log.error({ err: error }, 'WebSocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      extra,
    );

    socket.once('close', (code, reason) => {
      extra.log.info({ code, ms: Math.round(performance.now() - opened) }, 'socket closed');
      keepAlive.delete(socket);
      metrics?.socketClosed();
      extra.release?.();
      void closed(code, reason.toString('utf8'));
    });
  });

  return {
    dispose: async () => {
      keepAlive.stop();
      outgoing.flush();
      const sockets = [...wss.clients];
      if (sockets.length > 0) options.log.info({ sockets: sockets.length }, 'closing WebSockets (1001)');
      for (const socket of sockets) socket.close(SocketCloseCode.GoingAway, 'Server shutting down');
      // A client that does not answer the close frame (one that stopped reading) is cut after a moment.
      await Promise.race([
        Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve)))),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref()),
      ]);
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function withoutHttp(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  if (formatted.extensions?.http === undefined) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

/** A counter of messages in the current second: true once there are more than `perSecond`. */
function messageRate(perSecond: number): () => boolean {
  let windowStart = 0;
  let count = 0;
  return () => {
    if (perSecond === 0) return false;
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      count = 0;
    }
    return ++count > perSecond;
  };
}

/**
 * Frames are written at the end of the burst of work that made them (at `process.nextTick`, once
 * the microtasks running now are done: a fan-out's batch of deliveries), one after another,
 * rather than each between the work for the next. A write that comes after a pause finds its
 * reader asleep and pays, in the kernel, for waking it: in `bench/raw-sends.ts`, with 20 µs of work
 * before each send, a send cost 15 µs of CPU written right away and 11.6 µs written with the rest
 * of its batch; in the fan-out to 5,000, a delivery cost 32 µs instead of 36 (bench/README.md,
 * "Writing a batch's frames together"). `flush` writes what is waiting now.
 */
function writesInBursts(onError: (error: unknown) => void): { write(send: () => void): void; flush(): void } {
  let waiting: (() => void)[] = [];
  const flush = () => {
    const sends = waiting;
    waiting = [];
    for (const send of sends) {
      try {
        send();
      } catch (error) {
        onError(error);
      }
    }
  };
  return {
    write: (send) => {
      if (waiting.push(send) === 1) process.nextTick(flush);
    },
    flush,
  };
}

/** Sockets pinged in one turn of the event loop: a few milliseconds of writes. */
const PING_BATCH = 256;
/** Each interval's pings go out in this many slices, a tick apart. */
const PING_SLICES = 48;

/**
 * Pings every socket every `intervalMs`; one that has not answered by its next ping is dropped.
 * One timer for all sockets, rather than one each. The pings of an interval are spread over it, a
 * slice every tick, rather than sent to every socket at once and answered by as many pongs at once:
 * with 10,000 idle sockets, the ping round's own hold of the event loop went from 16-17 ms to
 * 11-15 ms (bench/README.md, "Spreading keep-alive pings").
 */
function keepAlivePings(intervalMs: number): {
  add(socket: WebSocket): void;
  delete(socket: WebSocket): void;
  stop(): void;
} {
  /** Each socket, and whether it has answered its last ping. */
  const sockets = new Map<WebSocket, boolean>();
  /** This round's walk over the sockets: a Map's iterator sees what is added and skips what is deleted. */
  let round = sockets.keys();
  let roundStarted = performance.now();
  let pinging = false;
  const pingSlice = async () => {
    // A slice still going (a server far behind) is not doubled.
    if (pinging) return;
    pinging = true;
    let sent = 0;
    for (let left = Math.ceil(sockets.size / PING_SLICES); left > 0; left--) {
      const next = round.next();
      if (next.done === true) {
        // Every socket has had this round's ping: the next round begins an interval after this one did.
        if (performance.now() - roundStarted < intervalMs) break;
        round = sockets.keys();
        roundStarted = performance.now();
        continue;
      }
      const socket = next.value;
      if (sockets.get(socket) === false) socket.terminate();
      else {
        sockets.set(socket, false);
        socket.ping();
      }
      if (++sent % PING_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    pinging = false;
  };
  const timer = setInterval(() => void pingSlice(), intervalMs / PING_SLICES).unref();
  const answered = function (this: WebSocket) {
    if (sockets.has(this)) sockets.set(this, true);
  };
  return {
    add: (socket) => {
      sockets.set(socket, true);
      socket.on('pong', answered);
    },
    delete: (socket) => void sockets.delete(socket),
    stop: () => clearInterval(timer),
  };
}

/**
 * The operation's envelop, which graphql-ws hands back as the root value (see onSubscribe). It is
 * taken out of the arguments on first use, so a long subscription does not keep it alive.
 */
function operationOf(args: ExecutionArgs): Pick<Enveloped, 'execute' | 'subscribe'> {
  const operation = args.rootValue as Pick<Enveloped, 'execute' | 'subscribe'>;
  args.rootValue = undefined;
  return operation;
}

function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  if (params == null) return undefined;
  const headers = typeof params.headers === 'object' && params.headers !== null ? params.headers : {};
  const value = [
    params.authorization,
    params.Authorization,
    ...Object.entries(headers)
      .filter(([key]) => key.toLowerCase() === 'authorization')
      .map(([, v]) => v as unknown),
  ].find((candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== '');
  return value;
}
