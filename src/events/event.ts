import type { Prisma } from '../generated/prisma/client';
import type { BugStatus, EventType, NotificationKind, UserStatus } from '../generated/prisma/enums';
import { ErrorCode } from '../graphql/errors';
import { GraphQLError } from 'graphql';

/** What an event row carries besides ids. */
export type EventData = {
  /** A bug's status move. */
  from?: BugStatus;
  to?: BugStatus;
  /** A user's status change. */
  previousStatus?: UserStatus;
  status?: UserStatus;
  /** Who gets a personal notification of it, decided when it happened (never the actor). */
  notify?: string[];
  /** What those notifications are: each recipient gets an inbox entry of this kind (src/events/outbox.ts). */
  notification?: NotificationKind;
  /** A bug change's fields with their old and new values, as its history records them. */
  changes?: FieldChange[];
  /** NOTIFICATIONS_READ: the inbox entries marked read, or `all` of them. */
  read?: string[];
  all?: boolean;
};

/** One field of a bug that changed, values as text (people by name; see modules/bug/history.ts). */
export type FieldChange = {
  field: string;
  from: string | null;
  to: string | null;
};

/** One committed change, as the event table stores it and the bus carries it. */
export interface StoredEvent {
  position: bigint;
  type: EventType;
  /** Who made the change; null when it was made outside BugZapp, straight in the database. */
  actorId: string | null;
  projectId: string | null;
  bugId: string | null;
  commentId: string | null;
  userId: string | null;
  data: EventData;
  createdAt: Date;
}

/** What a mutation says happened; the outbox adds the position and time. */
export type NewEvent = Pick<StoredEvent, 'type'> & { actorId: string } & Partial<
    Pick<StoredEvent, 'projectId' | 'bugId' | 'commentId' | 'userId' | 'data'>
  >;

/** The bus message: the row with its position as a string, since JSON has no bigint. */
export type EventMessage = Omit<StoredEvent, 'position' | 'createdAt'> & { position: string; createdAt: string };

export const toMessage = (event: StoredEvent): EventMessage => ({
  ...event,
  position: event.position.toString(),
  createdAt: event.createdAt.toISOString(),
});

export const fromMessage = (message: EventMessage): StoredEvent => ({
  ...message,
  position: BigInt(message.position),
  createdAt: new Date(message.createdAt),
});

/** A row as Prisma returns it, with `data` typed. */
export const fromRow = (row: Omit<StoredEvent, 'data'> & { data: unknown }): StoredEvent => ({
  ...row,
  data: row.data ?? {},
});

/**
 * The position of the newest event, 0 when there is none. Not `aggregate({ _max })`: Prisma
 * wraps an aggregate in a subquery with an OFFSET, which PostgreSQL cannot answer from the
 * primary key, so it read the whole table (164 ms at a million events, and the outbox asks inside
 * every write's lock). This is one step down the index.
 */
export async function newestPosition(db: Prisma.TransactionClient): Promise<bigint> {
  const newest = await db.event.findFirst({ select: { position: true }, orderBy: { position: 'desc' } });
  return newest?.position ?? 0n;
}

// --- Cursors ------------------------------------------------------------------------------------

const CURSOR_PREFIX = 'event:';

/** The opaque cursor clients see for a position. */
export const encodeCursor = (position: bigint): string => Buffer.from(CURSOR_PREFIX + position).toString('base64url');

/** Why a cursor cannot be resumed from, as `extensions.reason` tells a client. */
export const CursorProblem = {
  /** Not one of ours, or from a future this server has not reached: a client bug. */
  MALFORMED_CURSOR: 'MALFORMED_CURSOR',
  UNKNOWN_CURSOR: 'UNKNOWN_CURSOR',
  /** Older than the retention window: reload the state and subscribe without `after`. */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
} as const;
export type CursorProblem = keyof typeof CursorProblem;

export function cursorError(reason: CursorProblem, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'after', reason } });
}

/** The position inside a cursor, or BAD_USER_INPUT (MALFORMED_CURSOR). */
export function decodeCursor(cursor: string): bigint {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const digits = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : '';
  if (!/^\d{1,19}$/.test(digits) || encodeCursor(BigInt(digits)) !== cursor) {
    throw cursorError('MALFORMED_CURSOR', `"${cursor}" is not an event cursor.`);
  }
  return BigInt(digits);
}
