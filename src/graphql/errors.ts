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
  /** Too many attempts; `extensions.retryAfter` says in how many seconds to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
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

export const conflict = (field: string | undefined, message: string) =>
  error(ErrorCode.CONFLICT, message, field === undefined ? {} : { field });

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
