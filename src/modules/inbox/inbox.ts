import type { PrismaClient } from '../../generated/prisma/client';
import { NotificationKind } from '../../generated/prisma/enums';
import type { EventData } from '../../events/event';
import { transact } from '../../events/outbox';
import { builder } from '../../graphql/builder';
import { badUserInput, notFound } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { pageSize } from '../../graphql/validation';
import { PERSONAL } from '../../graphql/viewer';
import { viewerOf, type Context, type Viewer } from '../../server/context';
import { BugNode } from '../bug/bug';
import { CommentNode } from '../comment/comment';
import { isAdmin } from '../project/access';
import { UserNode } from '../user/user';
import { eventFields } from '../realtime/event-interface';

// The inbox: every notification is a row for its recipient, written by the outbox in the
// transaction of the change (src/events/outbox.ts), with the event's position, so the live
// `notifications` subscription and `Query.notifications` show the same entries. Entries outlive
// the event log: they are kept NOTIFICATION_RETENTION_DAYS (see pruneInbox).
//
// A notification of a project its recipient has left stays in their inbox, but tells nothing of
// the bug any more: `bug`, `comment` and `actor` are null and the message names no bug.

const NotificationKindEnum = builder.enumType(NotificationKind, {
  name: 'NotificationKind',
  description:
    'BUG_ASSIGNED (a bug was assigned to you, or assigned or unassigned on a bug you watch), STATUS_CHANGED, ' +
    'COMMENT_ADDED, BUG_EDITED (its title or description was edited).',
});

/** Selected by every field that shows the bug: whether the recipient may still read it. */
const stillReadable = (ctx: Context) => ({
  project: { select: { memberships: { where: { userId: viewerOf(ctx).id }, select: { userId: true } } } },
});
const canSee = (ctx: Context, notification: { project: { memberships: unknown[] } }) =>
  isAdmin(viewerOf(ctx)) || notification.project.memberships.length > 0;

export const NotificationNode = builder.prismaNode('Notification', {
  id: { field: 'id' },
  interfaces: [eventFields],
  extensions: PERSONAL,
  description:
    'An entry of your inbox: something that happened to a bug you watch or were assigned, never your own doing.',
  findUnique: (id, ctx) => ({ id, recipientId: viewerOf(ctx).id }),
  // What the Event interface and the sentence read; relations only as fields ask for them.
  select: { id: true, position: true, createdAt: true, kind: true, recipientId: true, data: true },
  fields: (t) => ({
    kind: t.expose('kind', { type: NotificationKindEnum }),
    readAt: t.expose('readAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When you marked it read; null while unread.',
    }),
    message: t.string({
      description:
        'A sentence to show as it is, e.g. `Ada commented on WEB-3 "Login fails"`; it names no bug once the bug is no longer yours to read.',
      select: (_args, ctx) => ({
        ...stillReadable(ctx),
        actor: { select: { name: true } },
        bug: { select: { number: true, title: true, project: { select: { key: true } } } },
      }),
      resolve: (notification, _args, ctx) =>
        canSee(ctx, notification)
          ? sentence(notification, notification.actor.name, bugName(notification.bug))
          : HIDDEN[notification.kind],
    }),
    bug: t.field({
      type: BugNode,
      nullable: true,
      description: 'The bug it is about; null once it is no longer yours to read (you left its project).',
      select: (_args, ctx, nestedSelection) => ({ ...stillReadable(ctx), bug: nestedSelection(true) }),
      resolve: (notification, _args, ctx) => (canSee(ctx, notification) ? notification.bug : null),
    }),
    comment: t.field({
      type: CommentNode,
      nullable: true,
      description: 'The new comment, for COMMENT_ADDED; null too once the bug is no longer yours to read.',
      select: (_args, ctx, nestedSelection) => ({ ...stillReadable(ctx), comment: nestedSelection(true) }),
      resolve: (notification, _args, ctx) => (canSee(ctx, notification) ? notification.comment : null),
    }),
    actor: t.field({
      type: UserNode,
      nullable: true,
      description: 'Who did it; null once the bug is no longer yours to read.',
      select: (_args, ctx, nestedSelection) => ({ ...stillReadable(ctx), actor: nestedSelection(true) }),
      resolve: (notification, _args, ctx) => (canSee(ctx, notification) ? notification.actor : null),
    }),
  }),
});

const bugName = (bug: { number: number; title: string; project: { key: string } }) =>
  `${bug.project.key}-${bug.number} "${bug.title}"`;

const HIDDEN: Record<NotificationKind, string> = {
  BUG_ASSIGNED: 'A bug you can no longer see was assigned.',
  STATUS_CHANGED: 'A bug you can no longer see changed status.',
  COMMENT_ADDED: 'A bug you can no longer see got a comment.',
  BUG_EDITED: 'A bug you can no longer see was edited.',
};

function sentence(
  notification: { kind: NotificationKind; recipientId: string; data: unknown },
  actor: string,
  bug: string,
): string {
  const data = notification.data as Pick<EventData, 'from' | 'to' | 'changes'> & { assigneeId?: string | null };
  switch (notification.kind) {
    case 'BUG_ASSIGNED': {
      if (data.assigneeId === notification.recipientId) return `${actor} assigned you ${bug}`;
      const to = data.changes?.find((change) => change.field === 'assignee')?.to ?? null;
      return to === null ? `${actor} unassigned ${bug}` : `${actor} assigned ${bug} to ${to}`;
    }
    case 'STATUS_CHANGED':
      return `${actor} moved ${bug} from ${data.from} to ${data.to}`;
    case 'COMMENT_ADDED':
      return `${actor} commented on ${bug}`;
    case 'BUG_EDITED': {
      const fields = (data.changes ?? []).map((change) => change.field).filter((field) => field !== 'priority');
      return `${actor} edited the ${fields.join(' and ')} of ${bug}`;
    }
  }
}

/** How many of the viewer's notifications are unread (an index-only count). */
export function unreadCount(prisma: PrismaClient, viewer: Viewer): Promise<number> {
  return prisma.notification.count({ where: { recipientId: viewer.id, readAt: null } });
}

builder.queryFields((t) => ({
  notifications: t.prismaConnection({
    type: NotificationNode,
    // Paged by id, ordered by seq: PostgreSQL finds the cursor's seq by the primary key, then reads
    // on down Notification_recipientId_seq_idx (see the migration that left seq without an index).
    cursor: 'id',
    ...pageSize,
    description: 'Your inbox, newest first.',
    args: { unreadOnly: t.arg.boolean({ description: 'Only the notifications you have not marked read.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.notification.findMany({
        ...query,
        where: { recipientId: viewerOf(ctx).id, ...(args.unreadOnly ? { readAt: null } : {}) },
        orderBy: { seq: 'desc' },
      }),
    totalCount: (_root, args, ctx) =>
      ctx.prisma.notification.count({
        where: { recipientId: viewerOf(ctx).id, ...(args.unreadOnly ? { readAt: null } : {}) },
      }),
  }),
  unreadNotificationCount: t.int({
    description: 'How many of your notifications are unread.',
    resolve: (_root, _args, ctx) => unreadCount(ctx.prisma, viewerOf(ctx)),
  }),
}));

builder.relayMutationField(
  'markNotificationsRead',
  {
    inputFields: (t) => ({
      ids: t.idList({ description: 'Notifications of yours to mark read.' }),
      all: t.boolean({ description: 'true marks your whole inbox read.' }),
    }),
  },
  {
    description:
      'Marks notifications read: those in `ids`, or `all: true` (give one of the two). Your other devices hear of it through the `notificationsRead` subscription.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const all = input.all === true;
      if (all === (input.ids != null)) throw badUserInput('ids', 'Give either ids or all: true.');
      const ids = [...new Set((input.ids ?? []).map((id, index) => parseId(id, 'Notification', `ids.${index}`)))];
      await transact(ctx, async (tx, emit) => {
        if (!all) {
          const mine = await tx.notification.count({ where: { id: { in: ids }, recipientId: viewer.id } });
          if (mine !== ids.length) throw notFound('Notification', 'ids');
        }
        const { count } = await tx.notification.updateMany({
          where: { recipientId: viewer.id, readAt: null, ...(all ? {} : { id: { in: ids } }) },
          data: { readAt: new Date() },
        });
        if (count > 0) {
          emit({
            type: 'NOTIFICATIONS_READ',
            actorId: viewer.id,
            userId: viewer.id,
            data: all ? { all } : { read: ids },
          });
        }
      });
      return { ids };
    },
  },
  {
    outputFields: (t) => ({
      unreadCount: t.int({
        description: 'How many of your notifications are still unread.',
        resolve: (_payload, _args, ctx) => unreadCount(ctx.prisma, viewerOf(ctx)),
      }),
      notifications: t.prismaField({
        type: [NotificationNode],
        description: 'The notifications you named, as they now are; empty for `all: true`.',
        resolve: (query, payload, _args, ctx) =>
          ctx.prisma.notification.findMany({
            ...query,
            where: { id: { in: payload.ids }, recipientId: viewerOf(ctx).id },
            orderBy: { seq: 'desc' },
          }),
      }),
    }),
  },
);

/** Deletes inbox entries older than `retentionDays`: run by the app once a day. */
export async function pruneInbox(prisma: PrismaClient, retentionDays: number): Promise<void> {
  await prisma.notification.deleteMany({
    where: { createdAt: { lt: new Date(Date.now() - retentionDays * 24 * 3600 * 1000) } },
  });
}
