import { badUserInput } from './errors';

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

/**
 * The cursor Pothos' Prisma plugin issues for a connection paged by `id`: base64 of `GPC:S:<id>`
 * (its prefix, then `@pothos/core`'s string chunk).
 */
const ID_CURSOR = /^GPC:S:(.*)$/s;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Refuses a cursor that is not one this server issued. The plugin decodes anything well-formed
 * (`GPC:S:nope`, `GPC:N:5`) and hands it to Prisma, where it fails as an invalid uuid or a
 * validation error: an internal error instead of the client's mistake.
 */
function checkCursor(field: 'after' | 'before', cursor: string | null | undefined): void {
  if (cursor == null) return;
  const id = BASE64.test(cursor) ? ID_CURSOR.exec(Buffer.from(cursor, 'base64').toString('utf8'))?.[1] : undefined;
  if (id === undefined || !UUID.test(id)) throw badUserInput(field, `${field} is not a cursor from this list.`);
}

/**
 * Connection arguments, for every connection (they all page by `id`): `first` defaults to 20 and
 * may not exceed 100, and `after`/`before` must be cursors this server issued. Pothos calls
 * `maxSize` with the arguments before it decodes the cursor, which makes it the one place every
 * connection's arguments pass through first.
 */
export const pageSize = {
  defaultSize: 20,
  maxSize: (args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }) => {
    for (const field of ['first', 'last'] as const) {
      const size = args[field];
      if (size != null && (size < 0 || size > LIMITS.pageSize)) {
        throw badUserInput(field, `${field} must be between 0 and ${LIMITS.pageSize}.`);
      }
    }
    checkCursor('after', args.after);
    checkCursor('before', args.before);
    return LIMITS.pageSize;
  },
};
