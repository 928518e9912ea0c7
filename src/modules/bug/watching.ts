import type { Prisma } from '../../generated/prisma/client';
import { prismaConnectionHelpers } from '@pothos/plugin-prisma';
import { builder } from '../../graphql/builder';
import { PERSONAL, SHARED } from '../../graphql/viewer';
import { parseId } from '../../graphql/ids';
import { pageSizeFor } from '../../graphql/validation';
import { transact } from '../../events/outbox';
import { viewerOf } from '../../server/context';
import { UserNode } from '../user/user';
import { findReadableBug } from './access';
import { bugPayload } from './payload';
import { recordActivity } from './history';

type Tx = Prisma.TransactionClient;

// Watching a bug: who hears of its changes (src/modules/bug/changes.ts). A row with `watching`
// false is an explicit unwatch; automatic watching never overrides it.

/**
 * Starts `userIds` watching the bug unless they already do or unwatched it on purpose; returns
 * those who started now, each with a WATCHED entry in the bug's history.
 */
export async function autoWatch(tx: Tx, bugId: string, userIds: (string | null)[]): Promise<string[]> {
  const candidates = [...new Set(userIds.filter((id): id is string => id !== null))];
  if (candidates.length === 0) return [];
  // Watchers are listed by when they started. The reporter and the assignee of a new bug start in
  // the same statement, which would give them the same time and leave their order to their ids:
  // a millisecond apart each, they keep the order given.
  const now = Date.now();
  const started = await tx.bugWatcher.createManyAndReturn({
    data: candidates.map((userId, index) => ({ bugId, userId, createdAt: new Date(now + index) })),
    skipDuplicates: true,
    select: { userId: true },
  });
  const ids = candidates.filter((id) => started.some((row) => row.userId === id));
  await recordActivity(
    tx,
    bugId,
    ids.map((actorId) => ({ kind: 'WATCHED', actorId })),
  );
  return ids;
}

/** Who watches the bug now. */
export async function watchersOf(tx: Tx, bugId: string): Promise<string[]> {
  const rows = await tx.bugWatcher.findMany({ where: { bugId, watching: true }, select: { userId: true } });
  return rows.map((row) => row.userId);
}

/** A member who leaves a project stops watching its bugs (and forgets having unwatched any). */
export async function stopWatchingProject(tx: Tx, projectId: string, userId: string): Promise<void> {
  await tx.bugWatcher.deleteMany({ where: { userId, bug: { projectId } } });
}

// The page size and cursor checks go to the helper: the connection field itself does not apply them.
const watcherConnection = prismaConnectionHelpers(builder, 'BugWatcher', {
  cursor: 'bugId_userId',
  ...pageSizeFor('ids'),
  select: (nodeSelection) => ({ user: nodeSelection(true) }),
  resolveNode: (watcher) => watcher.user,
});

builder.prismaObjectFields('Bug', (t) => ({
  viewerIsWatching: t.boolean({
    description: 'Whether you watch this bug: you hear of its status changes, comments, assignments and edits.',
    extensions: PERSONAL,
    // A count, not the `watchers` relation: selected beside the `watchers` page with other
    // arguments, the relation would be loaded again for every bug of a list, one statement each.
    select: (_args, ctx) => ({
      _count: { select: { watchers: { where: { userId: viewerOf(ctx).id, watching: true } } } },
    }),
    resolve: (bug) => bug._count.watchers > 0,
  }),
  watchers: t.connection(
    {
      type: UserNode,
      description: 'Who watches the bug, in the order they started.',
      select: (args, ctx, nestedSelection) => ({
        watchers: {
          ...watcherConnection.getQuery(args, ctx, nestedSelection),
          where: { watching: true },
          orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }],
        },
      }),
      resolve: (bug, args, ctx) => watcherConnection.resolve(bug.watchers, args, ctx),
    },
    { extensions: SHARED },
  ),
}));

for (const [name, watching] of [
  ['watchBug', true],
  ['unwatchBug', false],
] as const) {
  builder.relayMutationField(
    name,
    { inputFields: (t) => ({ bugId: t.id({ required: true }) }) },
    {
      description: watching
        ? 'Starts watching a bug you may read: you hear of its status changes, comments, assignments and edits.'
        : 'Stops watching a bug. It sticks: commenting on it or being assigned to it later does not start watching again.',
      resolve: async (_root, { input }, ctx) => {
        const viewer = viewerOf(ctx);
        const bugId = parseId(input.bugId, 'Bug', 'bugId');
        await transact(ctx, async (tx, emit) => {
          const bug = await findReadableBug(tx, viewer, bugId, 'bugId');
          const before = await tx.bugWatcher.findUnique({
            where: { bugId_userId: { bugId, userId: viewer.id } },
            select: { watching: true },
          });
          if (before !== null && before.watching === watching) return;
          await tx.bugWatcher.upsert({
            where: { bugId_userId: { bugId, userId: viewer.id } },
            create: { bugId, userId: viewer.id, watching },
            // Coming back counts as starting again: the watcher is listed after those who stayed.
            update: { watching, createdAt: new Date() },
          });
          if (watching) await recordActivity(tx, bugId, [{ kind: 'WATCHED', actorId: viewer.id }]);
          emit({
            type: watching ? 'BUG_WATCHED' : 'BUG_UNWATCHED',
            actorId: viewer.id,
            projectId: bug.projectId,
            bugId,
            userId: viewer.id,
          });
        });
        return { bugId };
      },
    },
    bugPayload,
  );
}
