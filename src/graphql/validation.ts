import { GraphQLError } from 'graphql';
import { badUserInput, ErrorCode } from './errors';

export const LIMITS = {
  title: 200,
  description: 20_000,
  commentBody: 20_000,
  projectName: 100,
  userName: 100,
  email: 254,
  passwordMin: 8,
  passwordMax: 1_024,
  pageSize: 100,
} as const;

/** Trims `value` and requires 1..`max` characters; whitespace alone counts as empty. */
export function requiredText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text === '') throw badUserInput(field, `${field} must not be empty.`);
  if (text.length > max) throw badUserInput(field, `${field} must be at most ${max} characters.`);
  return text;
}

/** Trims `value` and allows up to `max` characters, empty included. */
export function optionalText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text.length > max) throw badUserInput(field, `${field} must be at most ${max} characters.`);
  return text;
}

/** A UUID, as PostgreSQL prints them: every id in the database is one. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How a connection pages: by `id`, by an autoincrement `seq`, or by a compound key of uuids (`bugId_userId`). */
export type CursorKind = 'id' | 'seq' | 'ids';

/**
 * The cursors Pothos' Prisma plugin issues: base64 of `GPC:` and `@pothos/core`'s tagged chunk,
 * `S:<id>` for a string, `N:<n>` for a number, `T:<JSON array of chunks>` for a compound key.
 */
const PRISMA_CURSOR = /^GPC:(.*)$/s;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The largest `seq` (a PostgreSQL integer). */
const INT_MAX = 2_147_483_647;

const isUuidChunk = (chunk: unknown) =>
  typeof chunk === 'string' && chunk.startsWith('S:') && UUID.test(chunk.slice(2));

/** Whether a decoded cursor's chunk is what a connection paged by `kind` issues. */
const CHUNK_CHECKS: Record<CursorKind, (chunk: string) => boolean> = {
  id: isUuidChunk,
  seq: (chunk) => /^N:\d{1,10}$/.test(chunk) && Number(chunk.slice(2)) <= INT_MAX,
  ids: (chunk) => {
    if (!chunk.startsWith('T:')) return false;
    try {
      const parts: unknown = JSON.parse(chunk.slice(2));
      return Array.isArray(parts) && parts.length > 0 && parts.every(isUuidChunk);
    } catch {
      return false;
    }
  },
};

/**
 * Refuses a cursor that is not one this server issued for this kind of connection. The plugin
 * decodes anything well-formed (`GPC:S:nope`, `GPC:N:5` where a uuid belongs) and hands it to
 * Prisma, where it fails as an invalid uuid or a validation error: an internal error instead of
 * the client's mistake.
 */
function checkCursor(field: 'after' | 'before', cursor: string | null | undefined, kind: CursorKind): void {
  if (cursor == null) return;
  const chunk = BASE64.test(cursor)
    ? PRISMA_CURSOR.exec(Buffer.from(cursor, 'base64').toString('utf8'))?.[1]
    : undefined;
  if (chunk === undefined || !CHUNK_CHECKS[kind](chunk)) {
    throw badUserInput(field, `${field} is not a cursor from this list.`);
  }
}

/**
 * Connection arguments, for every connection: `first` defaults to 20 and may not exceed 100, and
 * `after`/`before` must be cursors this server issued for a connection paged the same way
 * (`kind`). Pothos calls `maxSize` with the arguments before it decodes the cursor, which makes it
 * the one place every connection's arguments pass through first.
 */
export function pageSizeFor(kind: CursorKind) {
  return {
    defaultSize: 20,
    maxSize: (args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }) => {
      for (const field of ['first', 'last'] as const) {
        const size = args[field];
        if (size != null && (size < 0 || size > LIMITS.pageSize)) {
          throw badUserInput(field, `${field} must be between 0 and ${LIMITS.pageSize}.`);
        }
      }
      checkCursor('after', args.after, kind);
      checkCursor('before', args.before, kind);
      return LIMITS.pageSize;
    },
  };
}

/** The arguments of a connection paged by `id`, as most are. */
export const pageSize = pageSizeFor('id');

/** A field's problem, as `extensions.fields` lists them. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Runs every field's check and reports all their problems at once, so a form can mark each field:
 * one BAD_USER_INPUT whose `extensions.fields` lists `{ field, message }` for every field at fault
 * (and whose `field` and message are the first's). Any other error is thrown as it is.
 */
export function checkFields<Checked extends Record<string, unknown>>(checks: {
  [Field in keyof Checked]: () => Checked[Field];
}): Checked {
  const checked: Partial<Checked> = {};
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(checks) as (keyof Checked & string)[]) {
    try {
      checked[key] = checks[key]();
    } catch (error) {
      if (!(error instanceof GraphQLError) || error.extensions.code !== ErrorCode.BAD_USER_INPUT) throw error;
      const { field } = error.extensions;
      problems.push({ field: typeof field === 'string' ? field : key, message: error.message });
    }
  }
  const [first] = problems;
  if (first !== undefined) {
    throw new GraphQLError(first.message, {
      extensions: { code: ErrorCode.BAD_USER_INPUT, field: first.field, fields: problems },
    });
  }
  return checked as Checked;
}
