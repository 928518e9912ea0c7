import type { Prisma } from '../../generated/prisma/client';
import { prismaConnectionHelpers } from '@pothos/plugin-prisma';
import { ActivityKind } from '../../generated/prisma/enums';
import type { FieldChange } from '../../events/event';
import { builder } from '../../graphql/builder';
import { SHARED } from '../../graphql/viewer';
import { pageSizeFor } from '../../graphql/validation';

// A bug's history: one row per thing that happened to it, written in the transaction of the change
// (src/modules/bug/changes.ts), kept as long as the bug, and read oldest first.

export const FieldChangeType = builder.objectRef<FieldChange>('FieldChange').implement({
  description:
    'One field of a bug that changed, its values as text: `status` and `priority` as their enum values, ' +
    "`assignee` as the person's name at the time (null: nobody), `labels` as their names, comma-separated " +
    '(null: none), `title` and `description` as they were written.',
  extensions: SHARED,
  fields: (t) => ({
    field: t.exposeString('field', { description: 'title, description, status, priority, assignee or labels.' }),
    from: t.exposeString('from', { nullable: true, description: 'The value before; null when there was none.' }),
    to: t.exposeString('to', { nullable: true, description: 'The value after; null when there is none.' }),
  }),
});

const ActivityKindEnum = builder.enumType(ActivityKind, {
  name: 'ActivityKind',
  description:
    'What happened: CREATED (filed; its changes are the first values), UPDATED (title, description, priority or labels ' +
    'edited), STATUS_CHANGED, ASSIGNED (or unassigned), COMMENTED, WATCHED (the actor started watching, by hand or ' +
    'by reporting, being assigned or commenting).',
});

const BugActivityNode = builder.prismaObject('BugActivity', {
  description: "One entry of a bug's history.",
  extensions: SHARED,
  fields: (t) => ({
    kind: t.expose('kind', { type: ActivityKindEnum }),
    actor: t.relation('actor', {
      nullable: true,
      description: 'Who did it; null for a change made outside BugZapp, straight in the database.',
    }),
    occurredAt: t.expose('createdAt', { type: 'DateTime' }),
    changes: t.field({
      type: [FieldChangeType],
      description: 'Each field that changed, with its old and new value; empty for COMMENTED and WATCHED.',
      resolve: (activity) => activity.changes as unknown as FieldChange[],
    }),
    comment: t.relation('comment', { nullable: true, description: 'The comment, for COMMENTED.' }),
  }),
});

const activityPage = prismaConnectionHelpers(builder, 'BugActivity', { cursor: 'seq', ...pageSizeFor('seq') });

builder.prismaObjectField('Bug', 'activity', (t) =>
  t.connection(
    {
      type: BugActivityNode,
      description: 'Everything that happened to the bug, oldest first.',
      select: (args, ctx, nestedSelection) => ({
        activity: { ...cursorAsCondition(activityPage.getQuery(args, ctx, nestedSelection)), orderBy: { seq: 'asc' } },
      }),
      resolve: (bug, args, ctx) => activityPage.resolve(bug.activity, args, ctx),
    },
    { extensions: SHARED },
  ),
);

/**
 * A page's query with its cursor turned into a condition on `seq`. Given a cursor, Prisma loads a
 * nested page on its own, without a LIMIT: every entry after the cursor, cut in memory (a long
 * history read whole for each page after the first). `seq` after the cursor, with `take`, keeps
 * the page in the bug's one statement and cuts it in SQL.
 */
function cursorAsCondition<Query extends { cursor?: { seq?: number }; skip?: number; take?: number }>(query: Query) {
  const { cursor, skip, ...rest } = query;
  const seq = cursor?.seq;
  if (seq === undefined) return { ...rest, skip };
  return { ...rest, where: { seq: (query.take ?? 0) < 0 ? { lt: seq } : { gt: seq } } };
}

/** One history entry to write. */
export interface Activity {
  kind: ActivityKind;
  actorId: string;
  commentId?: string | null;
  changes?: FieldChange[];
}

/** Appends entries to a bug's history, in the order given. */
export async function recordActivity(tx: Prisma.TransactionClient, bugId: string, entries: Activity[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.bugActivity.createMany({
    data: entries.map(({ kind, actorId, commentId = null, changes = [] }) => ({
      bugId,
      kind,
      actorId,
      commentId,
      changes,
    })),
  });
}

/** The fields of `after` whose values differ from `before`, as history records them. */
export function fieldChanges<Fields extends string>(
  before: Record<Fields, string | null>,
  after: Partial<Record<Fields, string | null | undefined>>,
): FieldChange[] {
  return (Object.keys(after) as Fields[])
    .filter((field) => after[field] !== undefined && after[field] !== before[field])
    .map((field) => ({ field, from: before[field], to: after[field] ?? null }));
}
