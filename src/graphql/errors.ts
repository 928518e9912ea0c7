import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { Prisma } from '../generated/prisma/client';

/** Every `extensions.code` a client can rely on. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  /** The operation is over a size, depth, alias, directive or cost limit; `extensions.limit` names it. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** A socket already has WS_MAX_SUBSCRIPTIONS_PER_SOCKET operations running. */
  TOO_MANY_OPERATIONS: 'TOO_MANY_OPERATIONS',
  /** Too many attempts; `extensions.retryAfter` says in how many seconds to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The HTTP request itself is malformed (a body that is not JSON, a GET without the CSRF header): 400 or 403. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The HTTP body is over MAX_BODY_BYTES: 413, and the connection is closed. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A POST whose body is not `application/json`: 415. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /**
   * The database was too busy to start the write in DB_TRANSACTION_WAIT_MS: nothing of it happened.
   * `extensions.retryAfter` says in how many seconds to try again; over HTTP it is a 503.
   */
  SERVER_BUSY: 'SERVER_BUSY',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

function error(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const unauthenticated = (message = 'Sign in to do this.') =>
  error(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });

export const forbidden = (message: string) => error(ErrorCode.FORBIDDEN, message);

/** The same answer whether the thing does not exist or the viewer may not see it. */
export const notFound = (what: string, field?: string) =>
  error(ErrorCode.NOT_FOUND, `${what} not found.`, field === undefined ? {} : { field });

/** `field` names the input field at fault, as the client sent it. */
export const badUserInput = (field: string, message: string) => error(ErrorCode.BAD_USER_INPUT, message, { field });

/**
 * Which of two alternative arguments was given (`bug(id:)` or `bug(key:)`): exactly one must be,
 * else BAD_USER_INPUT on the first.
 */
export function exactlyOne<Name extends string>(args: Partial<Record<Name, unknown>>, first: Name, second: Name): Name {
  const given = [first, second].filter((name) => args[name] != null);
  if (given.length !== 1) throw badUserInput(first, `Give exactly one of ${first} and ${second}.`);
  return given[0]!;
}

export const conflict = (field: string | undefined, message: string) =>
  error(ErrorCode.CONFLICT, message, field === undefined ? {} : { field });

/**
 * Over a rate limit. `extensions.retryAfter` is the whole seconds (at least 1) until the budget
 * refills; over HTTP the response is also a 429 with a `Retry-After` header.
 */
export const rateLimited = (retryAfterSeconds: number) => {
  const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return tryAgainLater(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfter} s.`, retryAfter, 429);
};

/**
 * No database connection for a write in DB_TRANSACTION_WAIT_MS, so nothing of it happened: try
 * again in a second; over HTTP a 503 with `Retry-After`.
 */
export const serverBusy = () =>
  tryAgainLater(
    ErrorCode.SERVER_BUSY,
    'The server is too busy to make this change now; nothing was changed. Try again.',
    1,
    503,
  );

/** An error the client may simply repeat after `retryAfter` whole seconds, said in the body and the header alike. */
function tryAgainLater(code: ErrorCode, message: string, retryAfter: number, status: number): GraphQLError {
  return error(code, message, { retryAfter, http: { status, headers: { 'Retry-After': String(retryAfter) } } });
}

/**
 * An operation over one of the limits in `Config.limits`, refused before it runs; `limit` is the
 * environment variable that sets it, e.g. `MAX_QUERY_DEPTH`. Over HTTP it answers like any other
 * validation error (400 to `application/graphql-response+json`, 200 to `application/json`).
 */
export const queryTooComplex = (limit: string, message: string) =>
  error(ErrorCode.QUERY_TOO_COMPLEX, message, { limit, http: { spec: true, status: 400 } });

/**
 * The one place where errors become what clients see: our own GraphQLErrors pass through, known
 * library errors get their code, and anything unexpected is logged and masked.
 */
export function maskError(raw: unknown, log: (message: string, error: unknown) => void): GraphQLError {
  const located = raw instanceof GraphQLError ? raw : undefined;
  const original = located?.originalError ?? raw;
  const known = fromLibraryError(original);
  if (known !== undefined) {
    return new GraphQLError(known.message, {
      nodes: located?.nodes,
      path: located?.path,
      extensions: known.extensions,
    });
  }
  if (located !== undefined && (original === undefined || original instanceof GraphQLError)) return located;
  log('Unexpected error', original);
  return new GraphQLError('Unexpected error.', {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  });
}

/**
 * The `extensions.code` a client will see for `raw` once maskError has run, worked out the same
 * way but without logging anything: for metrics, which look at results before masking does.
 * Undefined for a GraphQL error that passes through without a code (graphql-js's own).
 */
export function errorCode(raw: unknown): string | undefined {
  const located = raw instanceof GraphQLError ? raw : undefined;
  const original = located?.originalError ?? raw;
  const known = fromLibraryError(original);
  if (known !== undefined) return known.extensions.code as string;
  if (located !== undefined && (original === undefined || original instanceof GraphQLError)) {
    const code = located.extensions.code;
    return typeof code === 'string' ? code : undefined;
  }
  return ErrorCode.INTERNAL_SERVER_ERROR;
}

function fromLibraryError(original: unknown): GraphQLError | undefined {
  if (original instanceof PothosValidationError) {
    return badUserInput(/cursor/i.test(original.message) ? 'after' : 'input', original.message);
  }
  if (original instanceof Prisma.PrismaClientKnownRequestError) {
    if (original.code === 'P2002') {
      const field = uniqueFields(original.meta)?.[0];
      return conflict(field, field === undefined ? 'That value is already taken.' : `That ${field} is already taken.`);
    }
    if (original.code === 'P2025') {
      const model = original.meta?.modelName;
      return notFound(typeof model === 'string' ? model : 'Record');
    }
    // P2028 is every "Transaction API error"; only this one means the write never began. An
    // expired or closed transaction is a fault of ours, and stays unexpected.
    if (original.code === 'P2028' && /unable to start a transaction/i.test(original.message)) return serverBusy();
  }
  return undefined;
}

/** The columns of a violated unique constraint, wherever this Prisma version and adapter put them. */
function uniqueFields(meta: Record<string, unknown> | undefined): string[] | undefined {
  const target = meta?.target;
  if (Array.isArray(target)) return target.map(String);
  type Cause = { constraint?: { fields?: unknown; index?: unknown } };
  const constraint = (meta?.driverAdapterError as { cause?: Cause } | undefined)?.cause?.constraint;
  if (Array.isArray(constraint?.fields)) return constraint.fields.map((field) => String(field).replace(/"/g, ''));
  // Some adapters name only the index; Prisma names unique indexes <Table>_<column>_key.
  const index = typeof constraint?.index === 'string' ? /^[^_]+_(.+)_key$/.exec(constraint.index) : null;
  return index?.[1] === undefined ? undefined : [index[1]];
}
