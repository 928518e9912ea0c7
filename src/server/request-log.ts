import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener } from 'node:http';
import { isAsyncIterable, type Plugin } from '@envelop/core';
import { getOperationAST, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import { maskError } from '../graphql/errors';
import type { Logger } from '../infra/log';
import type { Context } from './context';

/*
 * What each HTTP request and each GraphQL operation logs, and the ids that tie the lines together.
 *
 * Every HTTP request gets an id, echoed in `X-Request-Id`, and a child logger whose lines carry it
 * as `reqId`. It logs one line when its response is done: method, path, status, milliseconds and,
 * when it ran a GraphQL operation, that operation's name, type and error codes: everything about
 * the request is found in one line, and a busy server writes half as many. An unexpected error
 * gets a line of its own, with the same `reqId`. WebSocket operations log their own line (name,
 * type, milliseconds, codes) with the socket's `connId` and their `opId` (see serveWebSockets).
 *
 * Never logged: headers, the query string (a GET carries its variables there), variables,
 * results. Only names, codes, sizes and times.
 */

/** The response header that carries the request's id. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/** What an incoming id may look like to be reused: a UUID, a trace id, a proxy's token. Anything else is replaced. */
const SANE_ID = /^[\w.:/+=@-]{1,128}$/;

/** A path this long is cut in the log line: the URL is the client's to choose. */
const MAX_LOGGED_PATH = 200;

/** The id for a request or socket: the client's `X-Request-Id` when it looks like an id, else a fresh UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  const sent = Array.isArray(header) ? header[0] : header;
  return sent !== undefined && SANE_ID.test(sent) ? sent : randomUUID();
}

/** What the line of a request says about the GraphQL operation it ran. */
interface OperationFields {
  operation: string | null;
  type: string | undefined;
  errors?: string[];
}

interface LoggedRequest {
  log: Logger;
  operation?: OperationFields;
}

const loggedRequests = new WeakMap<IncomingMessage, LoggedRequest>();

/**
 * Wraps a request listener: each request gets its id (answered in `X-Request-Id`) and a child of
 * `log` that carries it, found again with requestLog(req), and its line when its response is done
 * or the connection goes first.
 */
export function logRequests(listener: RequestListener, log: Logger): RequestListener {
  return (req, res) => {
    const reqId = requestIdOf(req.headers['x-request-id']);
    const logged: LoggedRequest = { log: log.child({ reqId }) };
    loggedRequests.set(req, logged);
    res.setHeader(REQUEST_ID_HEADER, reqId);
    const started = performance.now();
    res.once('close', () => {
      const line = {
        method: req.method,
        path: pathOf(req.url),
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...logged.operation,
      };
      if (!res.writableFinished) logged.log.info(line, 'request cut before its response was sent');
      else if (res.statusCode >= 500) logged.log.warn(line, 'request');
      else logged.log.info(line, 'request');
    });
    void listener(req, res);
  };
}

/** The logger logRequests made for `req`; undefined for a request it did not see (or no request). */
export function requestLog(req: unknown): Logger | undefined {
  return loggedOf(req)?.log;
}

function loggedOf(req: unknown): LoggedRequest | undefined {
  return typeof req === 'object' && req !== null ? loggedRequests.get(req as IncomingMessage) : undefined;
}

function pathOf(url: string | undefined): string {
  const path = (url ?? '').split('?', 1)[0] ?? '';
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}...` : path;
}

/**
 * Logs every operation that runs, over HTTP and WebSocket alike: its name, its type and the codes
 * of its errors as the client gets them. Over HTTP they go on the request's own line (see
 * logRequests); elsewhere on a line of their own, with the context's logger and how long the
 * operation took (a subscription: to set up). Place it before every plugin that may answer an
 * operation itself (the response cache, rate limits): a plugin that does ends the execute hooks
 * after its own, so later ones would never hear of the operation.
 */
export function useOperationLog(): Plugin<Context> {
  const log = (args: ExecutionArgs, started: number, result: unknown) => {
    const context = args.contextValue as Context & { req?: unknown };
    if (!context.log.isLevelEnabled('info')) return;
    const operation = getOperationAST(args.document, args.operationName);
    const errors = isAsyncIterable(result) ? undefined : codesOf((result as ExecutionResult).errors);
    const fields: OperationFields = {
      operation: operation?.name?.value ?? null,
      type: operation?.operation,
      ...(errors === undefined ? {} : { errors }),
    };
    const request = loggedOf(context.req);
    if (request !== undefined && request.operation === undefined) request.operation = fields;
    else context.log.info({ ...fields, ms: Math.round(performance.now() - started) }, 'graphql operation');
  };
  return {
    onExecute({ args }) {
      const started = performance.now();
      return { onExecuteDone: ({ result }) => log(args, started, result) };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return { onSubscribeResult: ({ result }) => log(args, started, result) };
    },
  };
}

/**
 * The codes of `errors` as the client will see them: this plugin runs before the masking one, so
 * an error is worked out the way masking will (without logging it: masking does that).
 */
function codesOf(errors: readonly GraphQLError[] | undefined): string[] | undefined {
  if (errors === undefined || errors.length === 0) return undefined;
  return errors.map((error) => {
    const code = maskError(error, () => {}).extensions.code;
    return typeof code === 'string' ? code : 'NONE';
  });
}
