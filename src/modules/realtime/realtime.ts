import type { EventType } from '../../generated/prisma/enums';
import type { StoredEvent } from '../../events/event';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../graphql/builder';
import { NOT_CACHED } from '../../graphql/response-cache';
import { PERSONAL, SHARED } from '../../graphql/viewer';
import { forbidden } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { viewerOf, type Context, type Viewer } from '../../server/context';
import { findReadableBug } from '../bug/access';
import { findReadableProject, readableProjects } from '../project/access';
import { UserStatusEnum } from '../user/user';
import { NotificationNode, unreadCount } from '../inbox/inbox';
import { eventFields } from './event-interface';
import { FieldChangeType } from '../bug/history';
import {
  belongsToProjectOf,
  bugRoute,
  canReadProjectOf,
  memberRoute,
  projectRoute,
  STATUS_ROUTE,
  userRoute,
} from './audience';

// Every subscription is a filter over the one event log (src/events): replay after the client's
// cursor, then live. Each event is checked against the subscriber's permissions when it is
// delivered, and its objects are loaded with the subscriber's own selection.

// --- Payload types ------------------------------------------------------------------------------

const OUTSIDE = 'Null when the change was made outside BugZapp, straight in the database (a script, psql).';

const BUG_ACTIONS = {
  BUG_CREATED: 'CREATED',
  BUG_UPDATED: 'UPDATED',
  BUG_STATUS_CHANGED: 'STATUS_CHANGED',
  BUG_ASSIGNED: 'ASSIGNED',
  COMMENT_ADDED: 'COMMENTED',
} as const satisfies Partial<Record<EventType, string>>;

const PROJECT_ACTIONS = {
  PROJECT_CREATED: 'CREATED',
  PROJECT_UPDATED: 'UPDATED',
  MEMBER_ADDED: 'MEMBER_ADDED',
  MEMBER_REMOVED: 'MEMBER_REMOVED',
} as const satisfies Partial<Record<EventType, string>>;

const actionOf = <Actions extends Record<string, string>>(actions: Actions, event: StoredEvent) =>
  actions[event.type as keyof Actions]!;

const BugChangeAction = builder.enumType('BugChangeAction', {
  values: ['CREATED', 'UPDATED', 'STATUS_CHANGED', 'ASSIGNED', 'COMMENTED'] as const,
});
const ProjectChangeAction = builder.enumType('ProjectChangeAction', {
  values: ['CREATED', 'UPDATED', 'MEMBER_ADDED', 'MEMBER_REMOVED'] as const,
});
/** An event type whose objects are loaded by id, with the subscriber's selection. */
function eventType(name: string, description: string) {
  return builder.objectRef<StoredEvent>(name).implement({
    description,
    extensions: SHARED,
    interfaces: [eventFields],
  });
}

const BugAssignedEvent = eventType('BugAssignedEvent', 'A bug was assigned to you.');
const CommentAddedEvent = eventType('CommentAddedEvent', 'A comment was added to the bug you follow.');
const UserStatusChangedEvent = eventType('UserStatusChangedEvent', "A user's status changed.");
const BugChangedEvent = eventType('BugChangedEvent', 'A bug in one of your projects changed.');
const ProjectChangedEvent = eventType('ProjectChangedEvent', 'One of your projects, or its membership, changed.');
const NotificationsReadEvent = eventType('NotificationsReadEvent', 'Some of your notifications were marked read.');

builder.objectFields(BugAssignedEvent, (t) => ({
  bug: t.prismaField({
    type: 'Bug',
    resolve: (query, event, _args, ctx) => ctx.prisma.bug.findUniqueOrThrow({ ...query, where: { id: event.bugId! } }),
  }),
  assignedBy: t.prismaField({
    type: 'User',
    nullable: true,
    description: `Who assigned it. ${OUTSIDE}`,
    resolve: (query, { actorId }, _args, ctx) =>
      optional(actorId, (id) => ctx.prisma.user.findUnique({ ...query, where: { id } }), query),
  }),
}));

builder.objectFields(CommentAddedEvent, (t) => ({
  comment: t.prismaField({
    type: 'Comment',
    resolve: (query, event, _args, ctx) =>
      ctx.prisma.comment.findUniqueOrThrow({ ...query, where: { id: event.commentId! } }),
  }),
}));

builder.objectFields(UserStatusChangedEvent, (t) => ({
  user: t.prismaField({
    type: 'User',
    resolve: (query, event, _args, ctx) =>
      ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: event.userId! } }),
  }),
  previousStatus: t.field({ type: UserStatusEnum, resolve: (event) => event.data.previousStatus! }),
  status: t.field({ type: UserStatusEnum, resolve: (event) => event.data.status! }),
}));

builder.objectFields(BugChangedEvent, (t) => ({
  action: t.field({ type: BugChangeAction, resolve: (event) => actionOf(BUG_ACTIONS, event) }),
  changes: t.field({
    type: [FieldChangeType],
    description:
      "The bug's fields this change set, with old and new values (as in Bug.activity): empty for COMMENTED, and for an edit that changed nothing.",
    resolve: (event) => event.data.changes ?? [],
  }),
  bug: t.prismaField({
    type: 'Bug',
    resolve: (query, event, _args, ctx) => ctx.prisma.bug.findUniqueOrThrow({ ...query, where: { id: event.bugId! } }),
  }),
  actor: t.prismaField({
    type: 'User',
    nullable: true,
    description: `Who made the change. ${OUTSIDE}`,
    resolve: (query, { actorId }, _args, ctx) =>
      optional(actorId, (id) => ctx.prisma.user.findUnique({ ...query, where: { id } }), query),
  }),
}));

builder.objectFields(NotificationsReadEvent, (t) => ({
  all: t.boolean({
    description: 'Everything in your inbox was marked read.',
    resolve: (event) => event.data.all ?? false,
  }),
  notifications: t.prismaField({
    type: [NotificationNode],
    description: 'The notifications marked read, as they now are; empty when `all` is true.',
    extensions: PERSONAL,
    resolve: (query, event, _args, ctx) =>
      ctx.prisma.notification.findMany({
        ...query,
        where: { id: { in: event.data.read ?? [] }, recipientId: viewerOf(ctx).id },
        orderBy: { seq: 'desc' },
      }),
  }),
  unreadCount: t.int({
    description: 'How many of your notifications are unread now.',
    extensions: PERSONAL,
    resolve: (_event, _args, ctx) => unreadCount(ctx.prisma, viewerOf(ctx)),
  }),
}));

builder.objectFields(ProjectChangedEvent, (t) => ({
  action: t.field({ type: ProjectChangeAction, resolve: (event) => actionOf(PROJECT_ACTIONS, event) }),
  project: t.prismaField({
    type: 'Project',
    nullable: true,
    description: 'The project as it is now; null in the event that removed you, since it is no longer yours to read.',
    extensions: PERSONAL,
    resolve: (query, event, _args, ctx) =>
      ctx.prisma.project.findFirst({ ...query, where: { id: event.projectId!, ...readableProjects(viewerOf(ctx)) } }),
  }),
  projectId: t.id({
    description: "The project's ID, there even when `project` is null.",
    resolve: (event) => encodeGlobalID('Project', event.projectId!),
  }),
  actor: t.prismaField({
    type: 'User',
    nullable: true,
    description: `Who made the change. ${OUTSIDE}`,
    resolve: (query, { actorId }, _args, ctx) =>
      optional(actorId, (id) => ctx.prisma.user.findUnique({ ...query, where: { id } }), query),
  }),
  member: t.prismaField({
    type: 'User',
    nullable: true,
    description: 'Who was added or removed, for MEMBER_ADDED and MEMBER_REMOVED.',
    resolve: (query, { userId }, _args, ctx) =>
      optional(userId, (id) => ctx.prisma.user.findUnique({ ...query, where: { id } }), query),
  }),
}));

/** Loads an optional relation; with no id there is nothing to load, which the (still read) query must not flag as unused. */
function optional<T>(id: string | null, load: (id: string) => Promise<T>, query: object): Promise<T> | null {
  if (id !== null) return load(id);
  void { ...query };
  return null;
}

// --- Subscriptions ------------------------------------------------------------------------------

type Select = (event: StoredEvent) => boolean | Promise<boolean>;

/**
 * The stream of events after the cursor that `select` lets through for this subscriber, woken
 * only by events on `route` (see routesOf: it must cover everything `select` accepts).
 */
async function subscribe(ctx: Context, after: string | null | undefined, route: string, select: Select) {
  const start = await ctx.events.startAfter(after);
  return ctx.events.stream(start, [route], async (event) => ((await select(event)) ? event : null));
}

const is =
  <Types extends Partial<Record<EventType, unknown>>>(types: Types) =>
  (event: StoredEvent): boolean =>
    event.type in types;

const readable = (ctx: Context, viewer: Viewer) => (event: StoredEvent) => canReadProjectOf(ctx.prisma, viewer, event);

builder.subscriptionType({
  // A root field resolves to the event itself; who receives it is decided per subscriber.
  extensions: SHARED,
  description: [
    'Live events over WebSocket (graphql-ws, at /graphql; the token goes in connection_init as',
    '`{ "authorization": "Bearer <token>" }`). Every subscription takes `after`, the cursor of the last',
    'event you saw: it first replays what you missed, then goes on live. Events are checked against',
    'your permissions as they are delivered.',
  ].join(' '),
});

builder.subscriptionFields((t) => {
  const afterArg = () =>
    t.arg.string({
      description:
        'Resume after this event cursor. Unknown or malformed: BAD_USER_INPUT; past the retention window: BAD_USER_INPUT with reason CURSOR_EXPIRED.',
    });
  return {
    bugAssigned: t.field({
      type: BugAssignedEvent,
      description: 'Bugs assigned to you, when filed or by assignBug.',
      args: { after: afterArg() },
      subscribe: (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        return subscribe(
          ctx,
          args.after,
          userRoute(viewer.id),
          async (event) =>
            (event.type === 'BUG_CREATED' || event.type === 'BUG_ASSIGNED') &&
            event.userId === viewer.id &&
            (await canReadProjectOf(ctx.prisma, viewer, event)),
        );
      },
      resolve: (event) => event,
    }),
    commentAdded: t.field({
      type: CommentAddedEvent,
      description: 'New comments on a bug you may read; NOT_FOUND for any other bug.',
      args: { bugId: t.arg.id({ required: true }), after: afterArg() },
      subscribe: async (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        const bugId = parseId(args.bugId, 'Bug', 'bugId');
        await findReadableBug(ctx.prisma, viewer, bugId, 'bugId');
        const canRead = readable(ctx, viewer);
        return subscribe(
          ctx,
          args.after,
          bugRoute(bugId),
          async (event) => event.type === 'COMMENT_ADDED' && event.bugId === bugId && (await canRead(event)),
        );
      },
      resolve: (event) => event,
    }),
    userStatusChanged: t.field({
      type: UserStatusChangedEvent,
      description: "Every user's status changes. Admins only; anyone else gets FORBIDDEN.",
      args: { after: afterArg() },
      subscribe: (_root, args, ctx) => {
        if (viewerOf(ctx).role !== 'ADMIN') throw forbidden('Only admins can follow status changes.');
        return subscribe(ctx, args.after, STATUS_ROUTE, (event) => event.type === 'USER_STATUS_CHANGED');
      },
      resolve: (event) => event,
    }),
    bugChanged: t.field({
      type: BugChangedEvent,
      description:
        'Changes to bugs in one project you may read, or, without projectId, in every project you are a member of.',
      args: { projectId: t.arg.id(), after: afterArg() },
      subscribe: async (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        const isBugChange = is(BUG_ACTIONS);
        if (args.projectId == null) {
          return subscribe(
            ctx,
            args.after,
            memberRoute(viewer.id),
            async (event) => isBugChange(event) && (await belongsToProjectOf(ctx.prisma, viewer, event)),
          );
        }
        const projectId = parseId(args.projectId, 'Project', 'projectId');
        await findReadableProject(ctx.prisma, viewer, projectId, 'projectId');
        const canRead = readable(ctx, viewer);
        return subscribe(
          ctx,
          args.after,
          projectRoute(projectId),
          async (event) => isBugChange(event) && event.projectId === projectId && (await canRead(event)),
        );
      },
      resolve: (event) => event,
    }),
    projectChanged: t.field({
      type: ProjectChangedEvent,
      description:
        'Changes to the projects you are a member of. A member who is removed hears of it, then nothing more from that project.',
      args: { after: afterArg() },
      subscribe: (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        const isProjectChange = is(PROJECT_ACTIONS);
        return subscribe(
          ctx,
          args.after,
          memberRoute(viewer.id),
          async (event) =>
            isProjectChange(event) &&
            ((event.type === 'MEMBER_REMOVED' && event.userId === viewer.id) ||
              (await belongsToProjectOf(ctx.prisma, viewer, event))),
        );
      },
      resolve: (event) => event,
    }),
    notifications: t.prismaField({
      type: NotificationNode,
      description:
        'Your inbox, live: a notification for every change to a bug you watch (status, comment, assignment, edit of ' +
        'title or description) and for bugs assigned to you, never of your own doing. The same entries as ' +
        "`Query.notifications` (same ids); `after` resumes from a notification's cursor.",
      args: { after: afterArg() },
      subscribe: (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        return subscribe(
          ctx,
          args.after,
          userRoute(viewer.id),
          async (event) =>
            event.data.notification !== undefined &&
            (event.data.notify ?? []).includes(viewer.id) &&
            (await canReadProjectOf(ctx.prisma, viewer, event)),
        );
      },
      resolve: (query, event: StoredEvent, _args, ctx) =>
        ctx.prisma.notification.findUniqueOrThrow({
          ...query,
          where: { position_recipientId: { position: event.position, recipientId: viewerOf(ctx).id } },
        }),
    }),
    notificationsRead: t.field({
      type: NotificationsReadEvent,
      description:
        'Your notifications marked read, on any of your devices (markNotificationsRead), so every open inbox can update its badge and list.',
      args: { after: afterArg() },
      subscribe: (_root, args, ctx) => {
        const viewer = viewerOf(ctx);
        return subscribe(
          ctx,
          args.after,
          userRoute(viewer.id),
          (event) => event.type === 'NOTIFICATIONS_READ' && event.userId === viewer.id,
        );
      },
      resolve: (event) => event,
    }),
  };
});

builder.queryField('eventCursor', (t) =>
  t.string({
    description:
      'The cursor of the newest event. Read it before loading state, then subscribe with `after` set to it: whatever changed in between is replayed.',
    // Changes with every event, for everyone.
    extensions: NOT_CACHED,
    resolve: (_root, _args, ctx) => {
      viewerOf(ctx);
      return ctx.events.currentCursor();
    },
  }),
);
